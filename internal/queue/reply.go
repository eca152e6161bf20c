package queue

import (
	"errors"
	"fmt"
	"net"
)

// maxReplyLine bounds a line a remote server sends: RFC 5321 4.5.3.1.5
// allows 512 octets; this is go-smtp's client's bound, about four times
// that, so that only a broken or hostile server meets it.
const maxReplyLine = 2000

// errProtocol marks a remote server that broke the protocol: replies no
// reader can take (replyConn).
var errProtocol = errors.New("smtp protocol error")

// replyConn is a session's connection, past TLS, with each line the
// server sends bounded (maxReplyLine): whatever reads it (prelude's
// reader, go-smtp's client, the pipelined wire) reads through it, so
// that no reader of a reply can be made to buffer without bound. All a
// server sends in a session is replies (RFC 5321 4.2), so the bound
// holds for every byte read. The first line over it fails every read
// from then on (err). A reader whose read fails in the middle of a line
// takes the part it holds for a whole line (bufio.Reader.ReadLine drops
// the error, as at the end of a connection), so whoever must know at
// once (prelude) looks at err.
type replyConn struct {
	net.Conn
	line int // octets of the current line so far
	err  error
}

func (c *replyConn) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(b)
	for _, ch := range b[:n] {
		if ch == '\n' {
			c.line = 0
			continue
		}
		if c.line++; c.line > maxReplyLine {
			c.err = fmt.Errorf("%w: a reply line over %d octets", errProtocol, maxReplyLine)
			return 0, c.err
		}
	}
	return n, err
}
