package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/store"
)

// Command pipelining (RFC 2920), for servers that announce PIPELINING:
// go-smtp's client writes each command and waits for its reply, so a
// message cost five round trips (RSET, MAIL, RCPT, DATA, the body). Here
// the commands of a transaction go out in one write and their replies
// are read in order (RFC 2920 3.1), then the body and its end in one
// more: two round trips. go-smtp still opens the session (greeting,
// STARTTLS, EHLO, AUTH) and closes it (QUIT); at those points no reply
// is outstanding, so neither reader holds bytes the other needs.

// dataEndTimeout is how long the reply to the end of the data is waited
// for (RFC 5321 4.5.3.2.6); Config.CommandTimeout bounds the others.
const dataEndTimeout = 10 * time.Minute

// errStale marks a pipelined transaction on a pooled session that failed
// before the server answered anything of it: the session had died while
// idle (the server's timeout), nothing was sent, and the message is to be
// tried on a new session rather than deferred.
var errStale = errors.New("idle session no longer answers")

// wire is a session's pipelined reader and writer, over the connection
// go-smtp's client uses.
type wire struct {
	nc net.Conn
	r  *textproto.Reader
	w  *bufio.Writer
	// buf carries bodies from the store to w: one per session rather
	// than io.Copy's 32 KiB per message; dot writes them as DATA.
	buf []byte
	dot dotWriter
}

func newWire(nc net.Conn) *wire {
	// nc bounds the replies read (replyConn).
	return &wire{nc: nc, r: textproto.NewReader(bufio.NewReader(nc)), w: bufio.NewWriterSize(nc, 32<<10),
		buf: make([]byte, 16<<10)}
}

// reply reads one reply; a reply with another code than expect (a
// prefix: 25 takes 250 and 251) is an *smtp.SMTPError, but a 421, which
// ends the session, is a closedError.
func (p *wire) reply(expect int) (string, error) {
	if line, ok, err := p.quick(expect); ok || err != nil {
		return string(line), err
	}
	_, msg, err := p.r.ReadResponse(expect)
	return msg, sessionErr(smtpErr(err, msg))
}

// ok is reply for a reply whose text is not wanted when it is expect.
func (p *wire) ok(expect int) error {
	if _, ok, err := p.quick(expect); ok || err != nil {
		return err
	}
	_, msg, err := p.r.ReadResponse(expect)
	return sessionErr(smtpErr(err, msg))
}

// quick takes the next reply from what is buffered when it is the
// usual answer, one line with the expected code, and returns its text
// (what follows the code and space, without the CRLF), read without the
// copies textproto makes of each line. Anything else (more lines,
// another code, a line not all buffered) is left for ReadResponse. It
// waits for the reply's first bytes, and returns the error of that
// read, which is ReadResponse's.
func (p *wire) quick(expect int) ([]byte, bool, error) {
	br := p.r.R
	if _, err := br.Peek(1); err != nil {
		return nil, false, err
	}
	b, _ := br.Peek(br.Buffered())
	i := bytes.IndexByte(b, '\n')
	if i < 4 || b[3] != ' ' {
		return nil, false, nil
	}
	code := 0
	for _, d := range b[:3] {
		if d < '0' || d > '9' {
			return nil, false, nil
		}
		code = code*10 + int(d-'0')
	}
	switch {
	case code < 100, expect < 1:
		return nil, false, nil
	case expect < 10 && code/100 != expect, expect >= 10 && expect < 100 && code/10 != expect, expect >= 100 && code != expect:
		return nil, false, nil
	}
	line := b[:i]
	if line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	br.Discard(i + 1)
	return line[4:], true, nil
}

// sendPipelined is send for a session whose server announced PIPELINING:
// MAIL (after RSET when the session comes from the pool or a failed
// transaction), a RCPT per entry and DATA in one write; then, when DATA
// was answered 354, the body and the end of data. It returns a result
// per entry, or an error when the session broke; errStale when a pooled
// session broke before its first reply.
func (w *Worker) sendPipelined(c *conn, m *outMsg, opts *smtp.MailOptions, open opener, head []byte) ([]result, error) {
	p := c.wire
	results := make([]result, len(m.entries))
	p.nc.SetDeadline(time.Now().Add(w.cfg.CommandTimeout))
	defer p.nc.SetDeadline(time.Time{})
	// The replies to the commands written together may come together;
	// past the last of them, nothing may wait unread before the next
	// write (replyConn.quiet, as send checks before each command).
	if err := c.rc.quiet(); err != nil {
		return nil, err
	}
	rset := c.rset
	if rset {
		p.w.WriteString("RSET\r\n")
	}
	p.w.WriteString("MAIL FROM:<")
	p.w.WriteString(m.entries[0].MailFrom)
	p.w.WriteByte('>')
	writeMailParams(p.w, c, opts)
	p.w.WriteString("\r\n")
	for _, e := range m.entries {
		p.w.WriteString("RCPT TO:<")
		p.w.WriteString(e.Rcpt)
		p.w.WriteByte('>')
		p.w.WriteString(rcptParams(c, e))
		p.w.WriteString("\r\n")
	}
	p.w.WriteString("DATA\r\n")
	if err := p.w.Flush(); err != nil {
		if rset {
			return nil, fmt.Errorf("%w: %w", errStale, err)
		}
		return nil, err
	}
	// Until the transaction ends with the server's answer to the data,
	// the next one must start with RSET.
	c.rset = true
	if rset {
		if err := p.ok(250); err != nil {
			// Broken, or a 421 its server sent on closing it: no body
			// was sent, so the message is safe to try on a new session.
			return nil, fmt.Errorf("%w: RSET: %w", errStale, err)
		}
	}
	mailErr := p.ok(250)
	if mailErr != nil && !isSMTP(mailErr) {
		return nil, mailErr
	}
	var accepted []int
	for i := range m.entries {
		err := p.ok(25)
		switch {
		case err != nil && !isSMTP(err):
			return nil, err
		case err != nil:
			results[i] = failure(err, c.host)
		case mailErr == nil:
			accepted = append(accepted, i)
		}
	}
	dataErr := p.ok(354)
	if dataErr != nil && !isSMTP(dataErr) {
		return nil, dataErr
	}
	if err := c.rc.quiet(); err != nil {
		// The replies read are in doubt, and nothing of the message
		// went: the session is dropped, the entries deferred.
		return nil, err
	}
	if mailErr != nil || len(accepted) == 0 {
		if dataErr == nil {
			// RFC 2920 3.1: a server must refuse DATA without a valid
			// recipient; one that did not gets an empty message at
			// once, which it must then refuse.
			p.w.WriteString(".\r\n")
			if err := p.w.Flush(); err != nil {
				return nil, err
			}
			if err := p.ok(250); err != nil && !isSMTP(err) {
				return nil, err
			}
			if err := c.rc.quiet(); err != nil {
				return nil, err
			}
		}
		if mailErr != nil {
			return uniform(m, failure(mailErr, c.host)), nil
		}
		return results, nil
	}
	setAll := func(r result) {
		for _, i := range accepted {
			results[i] = r
		}
	}
	if dataErr != nil {
		setAll(failure(dataErr, c.host))
		return results, nil
	}
	body, err := open()
	if err != nil {
		// The data cannot be finished cleanly: drop the session.
		return nil, fmt.Errorf("open queued body %d: %w", m.entries[0].BodyID, err)
	}
	dw := &p.dot
	*dw = dotWriter{w: p.w, bol: true}
	_, err = dw.Write(head)
	for err == nil {
		// Read into the session's buffer: a file's WriteTo (io.Copy)
		// would copy through a buffer of its own.
		var n int
		n, err = body.Read(p.buf)
		if n > 0 {
			if _, werr := dw.Write(p.buf[:n]); werr != nil {
				err = werr
			}
		}
	}
	if err == io.EOF {
		err = nil
	}
	body.Close()
	if err == nil {
		err = dw.end()
	}
	if err != nil {
		return nil, fmt.Errorf("send body to %s: %w", c.host, err)
	}
	p.nc.SetDeadline(time.Now().Add(dataEndTimeout))
	msg, err := p.reply(250)
	if err != nil {
		var ce *closedError
		switch {
		case errors.As(err, &ce):
			// A 421 to the data: not delivered.
			return nil, err
		case !isSMTP(err):
			return nil, &afterDataError{err: err}
		}
		if stray := c.rc.quiet(); stray != nil {
			return nil, doubtful(stray, err)
		}
		c.rset = false // the transaction is over either way (RFC 5321 4.1.1.4)
		setAll(failure(err, c.host))
		return results, nil
	}
	c.rset = false
	// The server took the message; what it sent past its 250 only ends
	// the session (run).
	c.desync = c.rc.quiet()
	setAll(result{outcome: store.QueueDelivered, reply: "250 " + msg, status: "2.0.0", host: c.host, dsnOn: c.dsn})
	return results, nil
}

// writeMailParams writes the MAIL FROM parameters go-smtp's client
// would send for opts on this session: BODY=8BITMIME whenever the server
// announced 8BITMIME, SIZE when it announced SIZE, SMTPUTF8 when asked.
func writeMailParams(b *bufio.Writer, c *conn, opts *smtp.MailOptions) {
	if c.ext8 {
		b.WriteString(" BODY=8BITMIME")
	}
	if c.extSize && opts.Size != 0 {
		b.WriteString(" SIZE=")
		b.Write(strconv.AppendInt(b.AvailableBuffer(), opts.Size, 10))
	}
	if opts.UTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if c.dsn {
		if opts.Return != "" {
			b.WriteString(" RET=" + string(opts.Return))
		}
		if opts.EnvelopeID != "" {
			b.WriteString(" ENVID=" + xtext(opts.EnvelopeID, false))
		}
	}
}

// rcptParams are the RCPT TO parameters go-smtp's client would send for
// an entry on this session (rcptOptions).
func rcptParams(c *conn, e store.QueueEntry) string {
	o := rcptOptions(c, e)
	if o == nil {
		return ""
	}
	var b strings.Builder
	if len(o.Notify) > 0 {
		b.WriteString(" NOTIFY=")
		for i, n := range o.Notify {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(string(n))
		}
	}
	if o.OriginalRecipient != "" {
		b.WriteString(" ORCPT=" + string(o.OriginalRecipientType) + ";" +
			xtext(o.OriginalRecipient, o.OriginalRecipientType == smtp.DSNAddressTypeUTF8))
	}
	return b.String()
}

// xtext encodes a DSN parameter value (RFC 3461 4): "+" and two
// hexadecimal digits for "+", "=" and what is not printable ASCII. With
// utf8, for an address of type utf-8 (an ORCPT, or a notice's recipient
// fields: statusAddress), it is utf-8-addr-xtext (RFC 6533 3) instead,
// whose escape is "\x{HEX}", for characters beyond ASCII too: the code
// point in upper-case hexadecimal without leading zeros, but of two
// digits at least (HEXPOINT: "\x{01}", never "\x{1}").
func xtext(s string, utf8 bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '!' && r <= '~' && r != '+' && r != '=' && !(utf8 && r == '\\'):
			b.WriteRune(r)
		case utf8:
			fmt.Fprintf(&b, "\\x{%02X}", r)
		default:
			fmt.Fprintf(&b, "+%02X", r)
		}
	}
	return b.String()
}

// dotWriter writes a message as DATA carries it (RFC 5321 4.5.2): a
// period that starts a line is doubled, and end adds the final CRLF if
// the message lacks it, then the ".CRLF" that ends the data. Lines are
// found by their LF: stored messages end their lines with CRLF. It
// copies whole lines at a time, where textproto's DotWriter goes byte by
// byte.
type dotWriter struct {
	w    *bufio.Writer
	bol  bool    // at the start of a line
	tail [2]byte // the message's last two bytes
	n    int64   // the message's bytes so far
}

func (d *dotWriter) Write(b []byte) (int, error) {
	n := len(b)
	switch {
	case n >= 2:
		d.tail = [2]byte{b[n-2], b[n-1]}
	case n == 1:
		d.tail = [2]byte{d.tail[1], b[0]}
	}
	d.n += int64(n)
	for len(b) > 0 {
		if d.bol && b[0] == '.' {
			if err := d.w.WriteByte('.'); err != nil {
				return 0, err
			}
		}
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, d.bol = b[:i+1], true
		} else {
			d.bol = false
		}
		if _, err := d.w.Write(line); err != nil {
			return 0, err
		}
		b = b[len(line):]
	}
	return n, nil
}

// end ends the data and sends what is buffered.
func (d *dotWriter) end() error {
	if d.n > 0 && d.tail != [2]byte{'\r', '\n'} {
		d.w.WriteString("\r\n")
	}
	d.w.WriteString(".\r\n")
	return d.w.Flush()
}
