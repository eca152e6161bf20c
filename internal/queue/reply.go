package queue

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/netpeek"
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
// (err), once the lines before it are read: a reply past its bounds is
// cut at the end of a line that has it go on.
//
// It hands out whole lines only, each ended by its LF (RFC 5321 4.2.1:
// a reply line ends with CRLF), one per read. A line the connection's
// end or a timeout cut off is never handed out: the read fails instead.
// The readers above it (bufio.Reader.ReadLine, and so textproto's) take
// what they hold for a whole line when the read after it fails, and
// drop the error: "250 2.0.0 qu" and a hang-up was a delivery, "550
// 5.7.1 rej" and a hang-up a bounce, and a greeting dripped past its
// timeout a greeting.
type replyConn struct {
	net.Conn
	// buf holds what was read from Conn and not yet handed out, from r:
	// up to ok, lines checked (check); after ok, what is not known to
	// be a whole line yet. Its size bounds a line well above
	// maxReplyLine.
	buf   []byte
	r, ok int
	rerr  error // the error of the read that last filled buf, due once its lines are handed out
	// rd is the read deadline last set, which quiet puts back.
	rd time.Time

	cont  bool // the last line checked has the reply go on ("250-", RFC 5321 4.2.1)
	lines int  // lines of the current reply before this one
	size  int  // octets of the current reply so far
	code  [3]byte
	err   error
}

func (c *replyConn) Read(b []byte) (int, error) {
	for c.ok == c.r {
		if c.err != nil {
			return 0, c.err
		}
		if c.check() {
			break
		}
		if c.err != nil {
			return 0, c.err
		}
		if n, err := c.fill(); n == 0 {
			return 0, err
		}
	}
	n := copy(b, c.buf[c.r:c.ok])
	c.r += n
	return n, nil
}

// fill reads more from Conn after what buf holds, and returns how many
// octets came; with none, the read's error, which says which line it
// cut off, if any.
func (c *replyConn) fill() (int, error) {
	if c.buf == nil {
		c.buf = make([]byte, 0, 2*maxReplyLine)
	}
	if c.r > 0 {
		n := copy(c.buf, c.buf[c.r:])
		c.buf, c.ok, c.r = c.buf[:n], c.ok-c.r, 0
	}
	err := c.rerr
	c.rerr = nil
	if err == nil {
		var n int
		n, err = c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if n > 0 {
			c.rerr = err
			return n, nil
		}
	}
	if err != nil && len(c.buf) > c.ok {
		err = fmt.Errorf("a reply line cut off (%q): %w", clip(c.buf[c.ok:], 64), err)
	}
	return 0, err
}

// check takes the next line of what buf holds past ok, when it is whole,
// as the reply's next line (ok moves past it), or sets err for a line
// or a reply past a bound.
func (c *replyConn) check() bool {
	rest := c.buf[c.ok:]
	i := bytes.IndexByte(rest, '\n')
	if i > maxReplyLine || i < 0 && len(rest) > maxReplyLine {
		c.err = fmt.Errorf("%w: a reply line over %d octets", errProtocol, maxReplyLine)
		return false
	}
	if i < 0 {
		return false
	}
	line := rest[:i]
	if !c.cont {
		// The reply's first line: the next one starts anew.
		c.lines, c.size = 0, 0
		copy(c.code[:], line)
	} else if k := min(len(line), 3); !bytes.Equal(line[:k], c.code[:k]) {
		// RFC 5321 4.2.1: every line of a reply has its code.
		// textproto takes a line with another code for text of the
		// reply and reads on: "250-a" then "550 b" swallowed the next
		// reply too, and the session waited for one that would not
		// come.
		c.err = fmt.Errorf("%w: a reply whose lines have different codes", errProtocol)
		return false
	}
	c.size += i + 1
	c.cont = len(line) > 3 && line[3] == '-'
	if c.cont {
		if c.lines++; c.lines >= maxReplyLines || c.size > maxReplyOctets {
			// Handed out still: the error comes with the next read.
			c.err = fmt.Errorf("%w: a reply over %d lines or %d octets", errProtocol, maxReplyLines, maxReplyOctets)
		}
	}
	c.ok += i + 1
	return true
}

// SetDeadline and SetReadDeadline note the read deadline for quiet.
func (c *replyConn) SetDeadline(t time.Time) error {
	c.rd = t
	return c.Conn.SetDeadline(t)
}

func (c *replyConn) SetReadDeadline(t time.Time) error {
	c.rd = t
	return c.Conn.SetReadDeadline(t)
}

// probeWait bounds the wait for what the socket holds to come through
// TLS (quiet): a record whose octets are there already.
const probeWait = 100 * time.Millisecond

// quiet checks, where no reply is due (once the reply to every command
// sent was read, before the next command is written or an idle session
// reused), that the server sent nothing more: RFC 5321 4.2, each reply
// answers one command, and a reply sent for none would be taken for the
// next command's (a stray "550" after a relay's 250 to the data bounced
// the next message, one it never refused). What it sent is looked for
// where it can wait unread: what replyConn holds (the readers above it
// hold nothing past the end of a reply, as it hands out one line at a
// time), what TLS decrypted or read already, and what the socket holds.
// A server out of step is a protocol error, but for a 421, which a
// server shutting down may send unasked (RFC 5321 3.8): the session
// closing (closedError). Either way it is not to be used again.
func (c *replyConn) quiet() error {
	if c.err != nil {
		return c.err
	}
	if len(c.buf) == c.r {
		c.probe()
	}
	held := c.buf[c.r:]
	if len(held) == 0 {
		return nil
	}
	if line, _, ok := bytes.Cut(held, []byte("\n")); ok && len(line) > 4 && string(line[:4]) == "421 " {
		msg := strings.TrimSuffix(string(line[4:]), "\r")
		return &closedError{reply: smtpErr(&textproto.Error{Code: 421, Msg: msg}, msg).(*smtp.SMTPError)}
	}
	return fmt.Errorf("%w: the server sent %q where no reply was due", errProtocol, clip(held, 64))
}

// probe reads into buf what can be read without waiting for the server:
// on a connection in the clear, what the socket holds; over TLS, what
// it read or decrypted already, and what the socket holds, given
// probeWait to come through (it may be a record of TLS's own, a session
// ticket, with nothing for the session). It waits for nothing more; an
// error other than its timeout is left to the next read.
func (c *replyConn) probe() {
	raw := netpeek.Socket(c.Conn)
	var deadline time.Time
	switch {
	case netpeek.Peek(raw) == netpeek.Data:
		deadline = time.Now().Add(probeWait)
	case raw != c.Conn:
		deadline = time.Unix(1, 0) // passed: TLS reads only what it holds
	default:
		return
	}
	c.buf, c.r, c.ok = c.buf[:0], 0, 0
	if c.buf == nil {
		c.buf = make([]byte, 0, 2*maxReplyLine)
	}
	c.Conn.SetReadDeadline(deadline)
	n, err := c.Conn.Read(c.buf[:cap(c.buf)])
	c.Conn.SetReadDeadline(c.rd)
	c.buf = c.buf[:n]
	if ne, ok := err.(net.Error); err != nil && (!ok || !ne.Timeout()) {
		c.rerr = err
	}
}

// clip is b, cut to n octets, for an error's text.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
