package smtpserver

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/netpeek"
)

// MaxCommandBytes bounds what a client may send outside a message body
// without getting an answer: in effect the longest command line, since
// go-smtp answers every command line and reads the next one only then.
// RFC 5321 4.5.3.1.4 sets 512 octets; extensions make lines longer. The
// margin covers what is read ahead at the start of a BDAT chunk before the
// session sees it (a 4 KiB buffer and two 32 KiB copy steps).
const MaxCommandBytes = 128 << 10

// GuardLines returns ln wrapped so that command lines are bounded (by
// MaxCommandBytes) while lines inside DATA and BDAT are not (RFC 5321
// 4.5.3.1.6 bounds text lines at 1000 octets, but real mail exceeds it
// and only the message size limit applies here). go-smtp applies one
// MaxLineLength to command lines, to DATA and (through its read-ahead
// buffer) to BDAT chunks, so a message with a line longer than 2000 bytes
// was refused (issue 12 part 1): Serve turns go-smtp's limit off for a
// connection under the guard. Every SMTP listener goes through it. Wrap
// the result in TLS (465), not the other way round: the guard counts
// bytes on the wire, and STARTTLS keeps it under TLS. Sessions mark their
// bodies with LineGuardOf(conn).Body.
func GuardLines(ln net.Listener) net.Listener {
	return guardListener{ln}
}

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &LineGuard{Conn: c, counting: true}, nil
}

// LineGuard is a connection that bounds the bytes a client sends outside
// a message body between two answers of the server. It sits below TLS, so
// it counts bytes and never parses them: what is body is told by the
// session (Data running, and for BDAT, the body reader receiving bytes
// after the server's last answer).
type LineGuard struct {
	net.Conn

	mu       sync.Mutex
	inData   bool   // the session's Data is running
	body     uint64 // bodies begun: which Data inData is for
	counting bool   // bytes read now are outside a body
	since    int64  // bytes read while counting since the last answer
	gen      uint64 // answers written
	tripped  bool   // the limit was crossed: every read fails
	eof      bool   // a read met the end of the client's stream
}

// NetConn returns the connection this one wraps (as tls.Conn does).
func (g *LineGuard) NetConn() net.Conn { return g.Conn }

func (g *LineGuard) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == io.EOF {
		g.eof = true
	}
	if g.tripped {
		return 0, smtp.ErrTooLongLine
	}
	if g.counting {
		g.since += int64(n)
		if g.since > MaxCommandBytes {
			// go-smtp answers this error with "500 5.4.0 Too long
			// line" and hangs up. The error stays: under TLS the
			// plaintext already decrypted reaches go-smtp first, and
			// its bufio.Reader hands an unterminated rest to the
			// session as a line of its own (bufio.Reader.ReadLine
			// returns data and the error apart), which gets an answer
			// before the 500; no byte after the limit is ever read.
			g.tripped = true
			return 0, smtp.ErrTooLongLine
		}
	}
	return n, err
}

func (g *LineGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.gen++
	g.since = 0
	// An answer during Data is the end of a BDAT chunk: the next BDAT
	// command line is counted until the body reader sees the chunk. An
	// answer after Data is the end of the message.
	g.counting = true
	g.mu.Unlock()
	return g.Conn.Write(p)
}

// Body marks the start of a message body for the session's Data and
// returns r wrapped so that the bytes it reads are not counted, and a
// function to call when Data returns. Bytes read after that stay
// uncounted until the next answer: go-smtp drains the rest of a refused
// DATA body then. A nil guard (a listener not wrapped by GuardLines, as
// in some tests) returns r unchanged.
func (g *LineGuard) Body(r io.Reader) (body io.Reader, done func()) {
	if g == nil {
		return r, func() {}
	}
	g.mu.Lock()
	g.inData, g.counting = true, false
	g.body++
	mine := g.body
	g.mu.Unlock()
	return &guardedBody{r: r, g: g, chunked: chunked(r)}, func() {
		g.mu.Lock()
		// A BDAT transfer the client reset (RSET, EHLO) ends its Data
		// in go-smtp's goroutine of its own, maybe after the next
		// transaction's Data began: that one's mark stays.
		if g.body == mine {
			g.inData = false
		}
		g.mu.Unlock()
	}
}

type guardedBody struct {
	r       io.Reader
	g       *LineGuard
	chunked bool // BDAT
}

// chunked reports whether r, a body given to Data, is a BDAT one: go-smtp
// hands Data a pipe for BDAT and a dot-unstuffing reader for DATA (whose
// end the final dot proves), which sizeSession may have wrapped.
func chunked(r io.Reader) bool {
	switch b := r.(type) {
	case *io.PipeReader:
		return true
	case *bodyLimit:
		return chunked(b.r)
	}
	return false
}

// ErrCutShort is the end of a BDAT body whose client ended the connection:
// its last chunk may be short. go-smtp copies a chunk with io.Copy from an
// io.LimitReader, which stops without an error at the end of the stream,
// and takes what came for the whole chunk: a client that sent "BDAT
// 100000 LAST", 100 bytes and closed had its 100 bytes stored and relayed
// (found by a probe). The session drops the message instead; the client,
// gone without an answer, sends it again.
var ErrCutShort = errors.New("the client ended the connection during the last BDAT chunk")

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.read(p)
	if err != smtp.ErrDataTooLarge || !b.chunked {
		return n, err
	}
	// Over the size limit (bodyLimit) in a BDAT transfer: read the
	// rest of it here, discarded, and refuse it at its end, as go-smtp
	// drains a refused DATA. Were Data to return now, go-smtp would
	// discard the rest of the chunk itself, with no read of this body
	// to tell LineGuard that those bytes are body: after the answer to
	// the previous chunk they were counted as command bytes, and a
	// refused chunk of more than MaxCommandBytes closed the connection
	// instead of its 552 (found by a probe). bodyLimit goes on passing
	// the bytes, each read marked as body, until the last chunk's end
	// or the transfer's reset.
	buf := make([]byte, 32<<10)
	for {
		_, derr := b.read(buf)
		switch derr {
		case smtp.ErrDataTooLarge:
		case io.EOF, ErrCutShort:
			return n, err
		default:
			return n, derr
		}
	}
}

// read is one read of the body, marking it as body for the guard.
func (b *guardedBody) read(p []byte) (int, error) {
	b.g.mu.Lock()
	gen := b.g.gen
	b.g.mu.Unlock()
	n, err := b.r.Read(p)
	// Past the size limit, bodyLimit has read bytes it does not pass on.
	if n > 0 || err == smtp.ErrDataTooLarge {
		// If no answer was written since the read began, these bytes are
		// a chunk's, and what is read next is body too. A read that began
		// before an answer may have returned the previous chunk's last
		// bytes late, and proves nothing.
		b.g.mu.Lock()
		if b.g.inData && b.g.gen == gen {
			b.g.counting, b.g.since = false, 0
		}
		b.g.mu.Unlock()
	}
	if err == io.EOF && b.chunked && b.g.peerGone() {
		return n, ErrCutShort
	}
	return n, err
}

// peerGone reports whether the client has ended its side of the
// connection: a read met its end (a TCP close without TLS's close_notify,
// as when its process dies), or the socket holds that end and nothing
// before it (a close_notify at once followed by the TCP close). A client
// that sends close_notify and waits before it closes (Python's unwrap)
// ends go-smtp's stream with nothing here to tell: go-smtp would have to
// check the length it copied (upstream), and such a chunk is still taken
// whole. go-smtp is waiting for the session's answer meanwhile, so nothing
// else reads the socket.
func (g *LineGuard) peerGone() bool {
	g.mu.Lock()
	eof := g.eof
	g.mu.Unlock()
	if eof {
		return true
	}
	return netpeek.Peek(g.Conn) == netpeek.Closed
}

// LineGuardOf finds the guard under a session's connection (through
// *tls.Conn and other wrappers that expose NetConn), or nil.
func LineGuardOf(nc net.Conn) *LineGuard {
	for {
		switch c := nc.(type) {
		case *LineGuard:
			return c
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
}
