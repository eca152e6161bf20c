package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestBinaryAppendLiteral8: a message uploaded with a literal8 (RFC 3516
// section 4.4) comes back byte for byte from BINARY and BINARY.SIZE, bare
// LFs and NULs included, while BODY[] carries no NUL (RFC 9051 section
// 4.3): the NUL-holding part is stored base64-encoded.
func TestBinaryAppendLiteral8(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	bin := "\x00PK\x03\x04\nbare LF\r\nCRLF\x00\x00\xff"
	lf := "line one\nline two\n"
	m := "From: a@example.net\nSubject: upload\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n" +
		"--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + lf + "\n--b1\n" +
		"Content-Type: application/zip\nContent-Transfer-Encoding: binary\n\n" + bin + "\n--b1--\n"
	c.send(fmt.Sprintf("b1 APPEND Drafts ~{%d}", len(m)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send(m)
	if _, st := c.until("b1"); !strings.HasPrefix(st, "OK [APPENDUID") {
		t.Fatalf("APPEND literal8: %s", st)
	}
	c.ok("SELECT Drafts")
	has(t, c.ok("FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2])"), fmt.Sprintf("BINARY.SIZE[1] %d BINARY.SIZE[2] %d", len(lf), len(bin)))
	has(t, c.ok("FETCH 1 BINARY.PEEK[2]"), fmt.Sprintf("BINARY[2] ~{%d}\r\n%s)", len(bin), bin))
	has(t, c.ok("FETCH 1 BINARY.PEEK[1]"), fmt.Sprintf("BINARY[1] {%d}\r\n%s)", len(lf), lf))
	body := c.ok("FETCH 1 BODY.PEEK[]")
	if len(body) != 1 || strings.ContainsRune(body[0], 0) || strings.ContainsRune(body[0], 0x80) {
		t.Fatalf("BODY[] of a binary upload: %q", body)
	}
	has(t, body, "Content-Transfer-Encoding: base64\r\n", "Subject: upload\r\n", lf)
	has(t, c.ok("FETCH 1 BODYSTRUCTURE"), `("APPLICATION" "ZIP" NIL NIL NIL "BASE64" `)
	// A plain literal is normalised to CRLF as before.
	p := "Subject: plain\nX: y\n\nbody\n"
	c.send(fmt.Sprintf("b2 APPEND Drafts {%d+}\r\n%s", len(p), p))
	lines, st := c.until("b2")
	if !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND literal: %s", st)
	}
	has(t, lines, "* 2 EXISTS")
	has(t, c.ok("FETCH 2 BODY.PEEK[]"), "Subject: plain\r\nX: y\r\n\r\nbody\r\n")
}
