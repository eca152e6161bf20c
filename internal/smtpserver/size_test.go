package smtpserver

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// serveTest serves listeners of cfg on a loopback port, as Serve does
// for the service, over a test backend, until the test ends.
func serveTest(t *testing.T, cfg Config) (net.Listener, *backend) {
	t.Helper()
	cfg.SetDefaults()
	d := NewDrain()
	b := &backend{d: d}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	go Serve(d.Listener(GuardLines(LimitListener(ln, Limits{}, log))), func() *smtp.Server { return cfg.NewServer(b, log) })
	t.Cleanup(func() { d.Close() })
	return ln, b
}

// TestMessageOfAnnouncedSize: with SIZE 1024 announced, a message of
// exactly 1024 bytes is accepted, by DATA and by BDAT, and one of 1025 is
// refused 552 5.3.4 without ending the session (go-smtp's DATA reader
// refused a message the moment it reached the limit, before the end of
// data), however far over the limit it is. EHLO keeps announcing the real limit after a transaction, and a
// MAIL SIZE over it is refused.
func TestMessageOfAnnouncedSize(t *testing.T) {
	const limit = 1024
	ln, b := serveTest(t, Config{MaxMessageBytes: limit})

	// message returns a message of n bytes as its DATA is received: CRLF
	// lines, a leading period on one of them (stuffed on the wire).
	message := func(n int) string {
		m := "Subject: size\r\n\r\n.dot\r\n"
		line := strings.Repeat("x", 62) + "\r\n"
		for len(m)+len(line) <= n-2 {
			m += line
		}
		return m + strings.Repeat("y", n-len(m)-2) + "\r\n"
	}
	stuff := func(m string) string { return strings.ReplaceAll(m, "\r\n.", "\r\n..") }
	if got := len(message(limit)); got != limit {
		t.Fatalf("message(%d) is %d bytes", limit, got)
	}

	cl := dial(t, ln.Addr().String())
	ehloSize := func() {
		t.Helper()
		cl.send("EHLO client.test\r\n")
		var lines []string
		for {
			l, err := cl.br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.TrimSpace(l))
			if l[3] == ' ' {
				break
			}
		}
		if !strings.Contains(strings.Join(lines, "|"), fmt.Sprintf("250-SIZE %d|", limit)) &&
			!strings.HasSuffix(strings.Join(lines, "|"), fmt.Sprintf("250 SIZE %d", limit)) {
			t.Fatalf("EHLO: %q, want SIZE %d", lines, limit)
		}
	}
	ehloSize()
	stored := int64(0)
	for _, tc := range []struct {
		name string
		n    int
		bdat bool
		want string
	}{
		{"DATA at the limit", limit, false, "250 "},
		{"DATA over the limit", limit + 1, false, "552 5.3.4"},
		{"DATA after a refusal", limit, false, "250 "},
		{"BDAT at the limit", limit, true, "250 "},
		{"BDAT over the limit", limit + 1, true, "552 5.3.4"},
		// Past MaxCommandBytes over it: go-smtp answered 552 before it
		// discarded the chunk, LineGuard counted the chunk as command
		// bytes, and the connection was closed.
		{"BDAT far over the limit", limit + 2*MaxCommandBytes, true, "552 5.3.4"},
		{"BDAT after a refusal", limit, true, "250 "},
		{"DATA much over the limit", 3 * limit, false, "552 5.3.4"},
	} {
		cl.send("MAIL FROM:<a@outside.test>\r\n")
		cl.expect("250 ")
		cl.send("RCPT TO:<b@example.test>\r\n")
		cl.expect("250 ")
		m := message(tc.n)
		if tc.bdat {
			cl.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(m), m))
		} else {
			cl.send("DATA\r\n")
			cl.expect("354 ")
			cl.send(stuff(m) + ".\r\n")
		}
		if got := cl.reply(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.want == "250 " {
			stored++
		}
		if got := b.stored.Load(); got != stored {
			t.Errorf("%s: %d messages stored, want %d", tc.name, got, stored)
		}
	}
	// A chunk that begins at the limit and goes far past it, last or
	// not: the read of it began before the answer to the chunk before,
	// and go-smtp discarded the chunk as command bytes to LineGuard.
	for _, last := range []bool{true, false} {
		over := strings.Repeat("z", 2*MaxCommandBytes)
		cl.send("MAIL FROM:<a@outside.test>\r\n")
		cl.expect("250 ")
		cl.send("RCPT TO:<b@example.test>\r\n")
		cl.expect("250 ")
		m := message(limit)
		cl.send(fmt.Sprintf("BDAT %d\r\n%s", len(m), m))
		cl.expect("250 ")
		if last {
			cl.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(over), over))
		} else {
			cl.send(fmt.Sprintf("BDAT %d\r\n%s", len(over), over))
			cl.expect("250 ")
			cl.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(over), over))
		}
		if got := cl.reply(); !strings.HasPrefix(got, "552 5.3.4") {
			t.Errorf("a chunk from the limit on (last %v): %q, want 552 5.3.4", last, got)
		}
		cl.send("NOOP\r\n")
		cl.expect("250 ")
	}
	if got := b.stored.Load(); got != stored {
		t.Errorf("%d messages stored, want %d", got, stored)
	}
	ehloSize()
	cl.send(fmt.Sprintf("MAIL FROM:<a@outside.test> SIZE=%d\r\n", limit+1))
	cl.expect("552 5.3.4")
	cl.send(fmt.Sprintf("MAIL FROM:<a@outside.test> SIZE=%d\r\n", limit))
	cl.expect("250 ")
	cl.send("QUIT\r\n")
	cl.expect("221 ")
	if _, err := cl.br.ReadByte(); err != io.EOF {
		t.Errorf("after QUIT: %v", err)
	}
}
