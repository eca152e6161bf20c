package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	m := msg("appended", "body text")
	// Synchronising literal: the server asks for it with "+".
	c.send(fmt.Sprintf(`a1 APPEND Drafts (\Draft \Seen $Work) "21-Nov-2026 08:30:00 +0100" {%d}`, len(m)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send(m)
	_, st := c.until("a1")
	if !strings.HasPrefix(st, "OK [APPENDUID ") || !strings.Contains(st, " 1]") {
		t.Fatalf("APPEND: %s", st)
	}
	// LITERAL+ and a bare-LF message, stored with CRLF.
	lf := "Subject: lf\n\nline\n"
	c.send(fmt.Sprintf("a2 APPEND Drafts {%d+}\r\n%s", len(lf), lf))
	if _, st := c.until("a2"); !strings.HasPrefix(st, "OK [APPENDUID") {
		t.Fatal(st)
	}
	c.ok("SELECT Drafts")
	lines := c.ok("FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[])")
	// Appended while no session had Drafts selected: recent to this
	// SELECT (RFC 3501 section 2.3.2).
	has(t, lines, `FLAGS (\Seen \Draft \Recent $Work)`, `INTERNALDATE "21-Nov-2026 07:30:00 +0000"`, /* the store keeps the instant in UTC */
		fmt.Sprintf("BODY[] {%d}\r\n%s", len(m), m), "BODY[] {21}\r\nSubject: lf\r\n\r\nline\r\n")

	// Into the selected mailbox: EXISTS at once.
	c.send(fmt.Sprintf("a3 APPEND Drafts {%d+}\r\n%s", len(m), m))
	lines, st = c.until("a3")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	has(t, lines, "* 3 EXISTS")

	c.send("a4 APPEND Nope {1+}\r\nx")
	if _, st := c.until("a4"); !strings.HasPrefix(st, "NO [TRYCREATE]") {
		t.Fatalf("APPEND to a missing mailbox: %s", st)
	}
	// Over APPENDLIMIT: refused before the data is sent.
	c.send("a5 APPEND INBOX {99999999999}")
	if _, st := c.until("a5"); !strings.HasPrefix(st, "BAD [TOOBIG]") && !strings.HasPrefix(st, "NO [TOOBIG]") {
		t.Fatalf("huge APPEND: %s", st)
	}
	c.ok("NOOP")
}
