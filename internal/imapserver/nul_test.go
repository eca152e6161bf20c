package imapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestCapturedNULBytes guards mail that arrives with NUL bytes (capture
// stores it as received): BINARY[] and BINARY[n] return the stored bytes
// exactly, as a literal8 (RFC 3516 section 4.3, RFC 9051 section 7.5.2),
// and BINARY.SIZE counts them; BODY[], whose nstring cannot carry NUL
// (RFC 9051 section 4.3: a literal is CHAR8), keeps every other byte and
// the length, with each NUL sent as 0x80 (as Dovecot does).
func TestCapturedNULBytes(t *testing.T) {
	e := newEnv(t)
	bin := "PK\x03\x04\x00\x00zip\x00data\xff"
	raw := "From: a@example.net\r\nSubject: nul\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\n" +
		"Content-Type: application/zip\r\nContent-Transfer-Encoding: binary\r\n\r\n" + bin + "\r\n--b1--\r\n"
	e.deliver("INBOX", raw, store.Flags(0))
	c := e.login()
	c.ok("SELECT INBOX")
	has(t, c.ok("FETCH 1 BINARY.PEEK[]"), fmt.Sprintf("BINARY[] ~{%d}\r\n%s)", len(raw), raw))
	has(t, c.ok("FETCH 1 BINARY.PEEK[2]"), fmt.Sprintf("BINARY[2] ~{%d}\r\n%s)", len(bin), bin))
	has(t, c.ok("FETCH 1 (BINARY.SIZE[2] RFC822.SIZE)"), fmt.Sprintf("BINARY.SIZE[2] %d RFC822.SIZE %d", len(bin), len(raw)))
	served := strings.ReplaceAll(raw, "\x00", "\x80")
	has(t, c.ok("FETCH 1 BODY.PEEK[]"), fmt.Sprintf("BODY[] {%d}\r\n%s)", len(raw), served))
	has(t, c.ok("FETCH 1 BODY.PEEK[2]"), fmt.Sprintf("BODY[2] {%d}\r\n%s)", len(bin), strings.ReplaceAll(bin, "\x00", "\x80")))
}
