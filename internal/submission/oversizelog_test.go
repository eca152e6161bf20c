package submission_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
)

// TestOversizeRefusalsLogged: a message over the size limit, by DATA or
// by BDAT, however far over, is answered 552 in a session that goes on
// and gets a refused record, as capture writes one; before, only the
// refusals of Submit's checks had one.
func TestOversizeRefusalsLogged(t *testing.T) {
	const limit = 4096
	srv := start(t, func(c *config.Config) { c.Submission.MaxMessageBytes = limit })
	big := msg(alice, outsider, "big@x", "") + strings.Repeat("0123456789abcdef\r\n", limit/16)

	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := send(c, alice, []string{outsider}, big); got != "552 5.3.4" {
		t.Fatalf("DATA over the limit: %s", got)
	}
	r := signedIn(t, srv, false)
	r.cmd("MAIL FROM:<"+alice+">", "250 ")
	r.cmd("RCPT TO:<"+bob+">", "250 ")
	// A first chunk within the limit, then one past it.
	r.send(fmt.Sprintf("BDAT %d\r\n%s", 1000, big[:1000]))
	r.expect("250 ")
	r.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(big)-1000, big[1000:]))
	r.expect("552 5.3.4 ")
	// One chunk far past the limit (more than smtpserver.MaxCommandBytes
	// over it): go-smtp answered it itself, before it discarded the
	// chunk, which closed the connection, and nothing was logged.
	huge := strings.Repeat(big, 64)
	r.cmd("MAIL FROM:<"+alice+">", "250 ")
	r.cmd("RCPT TO:<"+bob+">", "250 ")
	r.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(huge), huge))
	r.expect("552 5.3.4 ")
	r.cmd("NOOP", "250 ")

	// Refusals are logged by the background log writer: they come a
	// moment after the answer.
	waitFor(t, "a refused record for each over-size message", func() bool {
		n := 0
		for _, d := range refusals(t, srv, alice) {
			if strings.HasPrefix(d, "submission: 552 5.3.4 ") && strings.Contains(d, "message over the size limit") {
				n++
			}
		}
		return n == 3
	})
}

// TestSizeLimitIsTheClients: a message of exactly max_message_bytes, the
// SIZE announced, is taken by DATA and by BDAT when it lacks the Date and
// Message-ID fields submission adds (RFC 6409 8.1, 8.3), and when its
// lines end in bare LF, which become CRLF: the limit is on what the
// client sent (RFC 1870). It was refused 552, the added fields counted.
// One byte more is still refused.
func TestSizeLimitIsTheClients(t *testing.T) {
	const limit = 4096
	srv := start(t, func(c *config.Config) { c.Submission.MaxMessageBytes = limit })
	// exact returns a message of n bytes without Date or Message-ID,
	// its lines ending in eol.
	exact := func(n int, eol string) string {
		m := "From: " + alice + eol + "To: " + outsider + eol + "Subject: exact" + eol + eol
		line := strings.Repeat("x", 60) + eol
		for len(m)+len(line) <= n-len(eol)-1 {
			m += line
		}
		return m + strings.Repeat("y", n-len(m)-len(eol)) + eol
	}
	r := signedIn(t, srv, false)
	for _, tc := range []struct {
		name string
		n    int
		eol  string
		bdat bool
		want string
	}{
		{"DATA at the limit", limit, "\r\n", false, "250 "},
		{"BDAT at the limit", limit, "\r\n", true, "250 "},
		{"BDAT at the limit, bare LF", limit, "\n", true, "250 "},
		{"DATA over the limit", limit + 1, "\r\n", false, "552 5.3.4"},
		{"BDAT over the limit", limit + 1, "\r\n", true, "552 5.3.4"},
	} {
		m := exact(tc.n, tc.eol)
		if len(m) != tc.n {
			t.Fatalf("%s: message of %d bytes, want %d", tc.name, len(m), tc.n)
		}
		r.cmd("MAIL FROM:<"+alice+">", "250 ")
		r.cmd("RCPT TO:<"+outsider+">", "250 ")
		if tc.bdat {
			r.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(m), m))
		} else {
			r.cmd("DATA", "354 ")
			r.send(m + ".\r\n")
		}
		r.expect(tc.want)
	}
}
