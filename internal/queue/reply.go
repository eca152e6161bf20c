package queue

import (
	"errors"
	"fmt"
	"net"
)

// What a remote server's reply may be. RFC 5321 4.5.3.1.5 bounds a reply
// line at 512 octets and says nothing of how many lines a reply has;
// readers (textproto's, which go-smtp's client uses too) keep a reply's
// every line, joining them as they come. So each line is bounded, and
// each reply too, well above any server's (an EHLO reply of a few dozen
// lines, a refusal of a few hundred octets), and a server past either
// is broken or hostile: its session fails as a protocol error. What is
// kept of a reply once read is clipped further (maxReplyText).
const (
	// maxReplyLine is go-smtp's client's bound, about four times the
	// RFC's.
	maxReplyLine = 2000
	// maxReplyLines and maxReplyOctets bound one reply, every line of it.
	maxReplyLines  = 1000
	maxReplyOctets = 64 << 10
	// maxReplyText bounds the text of a reply, or of a reason of our
	// own, that is kept: the entry's last error, the log's detail (which
	// the store bounds further) and the notification's text. A reply
	// that a RCPT was answered with was stored on every retry, and put
	// whole into the notification.
	maxReplyText = 2 << 10
)

// errProtocol marks a remote server that broke the protocol: replies no
// reader can take (replyConn).
var errProtocol = errors.New("smtp protocol error")

// replyConn is a session's connection, past TLS, with what the server
// sends bounded: each line (maxReplyLine) and each reply (maxReplyLines,
// maxReplyOctets). Whatever reads it (prelude's reader, go-smtp's
// client, the pipelined wire) reads through it, so that no reader of a
// reply can be made to buffer without bound. All a server sends in a
// session is replies (RFC 5321 4.2), so the bounds hold for every byte
// read. The first reply over a bound fails every read from then on
// (err).
//
// A reader takes the text it holds when a read fails for the last line
// of a reply, even unfinished (bufio.Reader.ReadLine drops the error,
// as at the end of a connection): so a reply past its bounds is cut at
// the end of a line that has it go on, and the error comes with the
// read after; only a line too long is cut in its middle, and whoever
// must know at once (prelude) looks at err.
type replyConn struct {
	net.Conn
	line  int  // octets of the current line so far
	cont  bool // the current line has the reply go on ("250-", RFC 5321 4.2.1)
	lines int  // lines of the current reply before this one
	size  int  // octets of the current reply so far
	code  [3]byte
	err   error
}

func (c *replyConn) Read(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(b)
	for i, ch := range b[:n] {
		c.size++
		switch {
		case ch == '\n' && c.cont:
			c.line, c.cont = 0, false
			if c.lines++; c.lines >= maxReplyLines || c.size > maxReplyOctets {
				c.err = fmt.Errorf("%w: a reply over %d lines or %d octets", errProtocol, maxReplyLines, maxReplyOctets)
				return i + 1, nil
			}
		case ch == '\n':
			// The reply's last line: the next one starts anew.
			c.line, c.lines, c.size = 0, 0, 0
		default:
			switch {
			case c.line < 3 && c.lines == 0:
				c.code[c.line] = ch
			case c.line < 3 && ch != c.code[c.line]:
				// RFC 5321 4.2.1: every line of a reply has its code.
				// textproto takes a line with another code for text
				// of the reply and reads on: "250-a" then "550 b"
				// swallowed the next reply too, and the session
				// waited for one that would not come.
				c.err = fmt.Errorf("%w: a reply whose lines have different codes", errProtocol)
				return max(i-c.line, 0), nil
			case c.line == 3:
				c.cont = ch == '-'
			}
			if c.line++; c.line > maxReplyLine {
				c.err = fmt.Errorf("%w: a reply line over %d octets", errProtocol, maxReplyLine)
				return 0, c.err
			}
		}
	}
	return n, err
}
