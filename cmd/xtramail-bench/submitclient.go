package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/textproto"
	"strings"
)

// submitClient is the load tool's mail client on 587: what go-smtp's
// client sends, one command and one reply at a time (no pipelining), but
// without its per-byte dot-stuffing and with a buffer that carries a 10 KiB
// message in one TLS record instead of three: the tool shares the machine
// with the server it measures, and each CPU second it spends is one the
// server cannot use. The server sees the same session either way:
// EHLO, STARTTLS, EHLO, AUTH PLAIN once per connection, then per message
// MAIL FROM (BODY=8BITMIME when announced, as go-smtp sends it), one RCPT
// TO, DATA, the dot-stuffed message and its end.
type submitClient struct {
	nc   net.Conn
	r    *textproto.Reader
	w    *bufio.Writer
	ext8 bool // 8BITMIME announced
}

// dialSubmission connects as a mail client does on 587: EHLO, STARTTLS
// (the server's certificate is the test one, not verified), EHLO, AUTH
// PLAIN.
func dialSubmission(addr, user, password string) (*submitClient, error) {
	host, _, _ := net.SplitHostPort(addr)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &submitClient{nc: raw}
	fail := func(step string, err error) (*submitClient, error) {
		raw.Close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	pr := textproto.NewReader(bufio.NewReader(raw))
	if _, _, err := pr.ReadResponse(220); err != nil {
		return fail("greeting", err)
	}
	if _, err := fmt.Fprintf(raw, "EHLO bench.local\r\n"); err != nil {
		return fail("ehlo", err)
	}
	if _, _, err := pr.ReadResponse(250); err != nil {
		return fail("ehlo", err)
	}
	if _, err := fmt.Fprintf(raw, "STARTTLS\r\n"); err != nil {
		return fail("starttls", err)
	}
	if _, _, err := pr.ReadResponse(220); err != nil {
		return fail("starttls", err)
	}
	tc := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return fail("starttls", err)
	}
	c.nc = tc
	// 32 KiB: a 10 KiB message and its end go out in one write.
	c.r = textproto.NewReader(bufio.NewReader(tc))
	c.w = bufio.NewWriterSize(tc, 32<<10)
	_, msg, err := c.cmd(250, "EHLO bench.local")
	if err != nil {
		return fail("ehlo", err)
	}
	for _, l := range strings.Split(msg, "\n")[1:] {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], "8BITMIME") {
			c.ext8 = true
		}
	}
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if _, _, err := c.cmd(235, "AUTH PLAIN "+resp); err != nil {
		return fail("auth", err)
	}
	return c, nil
}

// cmd sends one command line and reads its reply.
func (c *submitClient) cmd(expect int, line string) (int, string, error) {
	c.w.WriteString(line)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return 0, "", err
	}
	return c.r.ReadResponse(expect)
}

// send submits one message: header (the lines that differ per message,
// already CRLF-terminated) then body, both with CRLF line ends.
func (c *submitClient) send(from, rcpt, header string, body []byte) error {
	mail := "MAIL FROM:<" + from + ">"
	if c.ext8 {
		mail += " BODY=8BITMIME"
	}
	if _, _, err := c.cmd(250, mail); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if _, _, err := c.cmd(25, "RCPT TO:<"+rcpt+">"); err != nil {
		return fmt.Errorf("rcpt: %w", err)
	}
	if _, _, err := c.cmd(354, "DATA"); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	writeDotted(c.w, []byte(header))
	writeDotted(c.w, body)
	c.w.WriteString(".\r\n")
	if err := c.w.Flush(); err != nil {
		return err
	}
	if _, _, err := c.r.ReadResponse(250); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	return nil
}

// writeDotted writes CRLF-terminated lines as DATA carries them (RFC 5321
// 4.5.2): a period that starts a line is doubled. b must end with CRLF.
func writeDotted(w *bufio.Writer, b []byte) {
	for len(b) > 0 {
		if b[0] == '.' {
			w.WriteByte('.')
		}
		i := bytes.Index(b, []byte("\n."))
		if i < 0 {
			w.Write(b)
			return
		}
		w.Write(b[:i+1])
		b = b[i+1:]
	}
}

// Close ends the session with QUIT.
func (c *submitClient) Close() error {
	c.cmd(221, "QUIT")
	return c.nc.Close()
}
