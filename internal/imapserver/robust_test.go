package imapserver_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"
)

// Raw transcripts of bad input: each gets BAD or NO with a clear text, and
// the session either goes on or closes cleanly; never a crash or a hang.
func TestRobustness(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		login  bool
		send   string
		want   string // prefix of the answer line
		closes bool
	}{
		{"garbage", false, "\x01\x02 garbage", "* BAD", false},
		{"no command", false, "a1", "a1 BAD", false},
		{"unknown command", false, "a1 FROBNICATE", "a1 BAD", false},
		{"wrong state select", false, "a1 SELECT INBOX", "a1 BAD command not allowed in this state", false},
		{"wrong state fetch", true, "a1 FETCH 1 FLAGS", "a1 BAD command not allowed in this state", false},
		{"wrong state login", true, `a1 LOGIN x y`, "a1 BAD command not allowed in this state", false},
		{"unbalanced parens", true, "a1 SEARCH ((SEEN)", "a1 BAD", false},
		{"unbalanced fetch", true, "a1 STATUS INBOX (MESSAGES", "a1 BAD", false},
		{"bad set", true, "a1 UID FETCH 1:x FLAGS", "a1 BAD", false},
		{"huge literal", true, "a1 APPEND INBOX {999999999999}", "a1 BAD", false},
		{"huge string literal", true, "a1 LOGIN {99999999}", "a1 BAD", false},
		{"overlong line", false, "a1 NOOP " + strings.Repeat("x", 70<<10), "a1 BAD [TOOBIG]", true},
		{"deep nesting", true, "a1 SEARCH " + strings.Repeat("NOT ", 200) + "ALL", "a1 BAD", false},
		{"nul byte", false, "a1 NO\x00OP", "a1 BAD", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *conn
			if tc.login {
				c = e.login()
			} else {
				c = e.dial()
			}
			c.send(tc.send)
			l := c.line()
			if !strings.HasPrefix(l, tc.want) {
				t.Fatalf("got %q, want %q", l, tc.want)
			}
			if tc.closes {
				c.c.SetReadDeadline(time.Now().Add(time.Minute))
				rest, err := io.ReadAll(c.r)
				if err != nil && !isClosed(err) {
					t.Fatalf("want a clean close, got %v", err)
				}
				if len(rest) > 0 && !bytes.HasPrefix(rest, []byte("* BYE")) {
					t.Errorf("after fatal error: %q", rest)
				}
				return
			}
			c.ok("NOOP") // the session survives
		})
	}
}

func isClosed(err error) bool {
	return err == io.EOF || strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "reset")
}

// A client that announces a literal and never sends it is logged out by
// the autologout timer; one that sends half a TLS handshake is dropped.
func TestHalfOpen(t *testing.T) {
	e := newEnv(t)
	c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Pipelined commands are answered in order.
	io.WriteString(c, "a1 NOOP\r\na2 CAPABILITY\r\na3 NOOP\r\n")
	cn := &conn{t: t, c: c, r: newReader(c)}
	cn.line()
	if _, st := cn.until("a3"); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
}
