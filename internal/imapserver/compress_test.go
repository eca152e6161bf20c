package imapserver_test

import (
	"bufio"
	"compress/flate"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// flateConn is the client side of COMPRESS=DEFLATE (RFC 4978): raw
// DEFLATE both ways, each write flushed.
type flateConn struct {
	net.Conn
	r  io.Reader
	fw *flate.Writer
}

func (f *flateConn) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *flateConn) Write(b []byte) (int, error) {
	n, err := f.fw.Write(b)
	if err == nil {
		err = f.fw.Flush()
	}
	return n, err
}

func TestCompress(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", multipartMsg, 0)
	c := e.login()
	c.ok("COMPRESS DEFLATE")
	fw, _ := flate.NewWriter(c.c, flate.BestSpeed)
	// The server's data follows in the same TCP stream: keep what the
	// line reader already buffered.
	var rest io.Reader = c.c
	if n := c.r.Buffered(); n > 0 {
		b, _ := c.r.Peek(n)
		rest = io.MultiReader(strings.NewReader(string(b)), c.c)
	}
	fc := &flateConn{Conn: c.c, r: flate.NewReader(rest), fw: fw}
	c.c, c.r = fc, bufio.NewReader(fc)
	c.c.SetDeadline(time.Now().Add(time.Minute))
	has(t, c.ok("NAMESPACE"), "* NAMESPACE")
	c.ok("SELECT INBOX")
	has(t, c.ok("FETCH 1 BODY.PEEK[]"), multipartMsg)
	c.want("COMPRESS DEFLATE", "NO")
}
