package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// literalCmd writes an APPEND with non-synchronising literals, one per
// message, each preceded by its flags.
func multiAppendCmd(mailbox string, flags []string, msgs []string) string {
	var b strings.Builder
	b.WriteString("APPEND " + mailbox)
	for i, m := range msgs {
		if flags[i] != "" {
			b.WriteString(" (" + flags[i] + ")")
		}
		fmt.Fprintf(&b, " {%d+}\r\n%s", len(m), m)
	}
	return b.String()
}

// TestMultiAppendAllOrNothing guards MULTIAPPEND (RFC 3502): several
// messages in one APPEND get consecutive UIDs in one APPENDUID, and a
// command with one bad message stores none of them.
func TestMultiAppendAllOrNothing(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	has(t, c.ok("CAPABILITY"), "MULTIAPPEND")
	c.ok("CREATE Box")
	msgs := []string{msg("one", "first"), msg("two", "second"), msg("three", "third")}
	_, st := c.cmd(multiAppendCmd("Box", []string{`\Seen`, "", `\Flagged $Label1`}, msgs))
	if !strings.HasPrefix(st, "OK [APPENDUID ") || !strings.Contains(st, " 1:3]") {
		t.Fatalf("MULTIAPPEND: %s", st)
	}
	c.ok("SELECT Box")
	lines := c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	// Appended while no session had Box selected: recent to this SELECT.
	has(t, lines, `* 1 FETCH (UID 1 FLAGS (\Seen \Recent)`, `* 2 FETCH (UID 2 FLAGS (\Recent)`, `* 3 FETCH (UID 3 FLAGS (\Flagged \Recent $Label1)`, "Subject: three")

	// A bad flag on the third message: none is stored.
	_, st = c.cmd(multiAppendCmd("Box", []string{"", "", `\Bogus`}, msgs))
	if !strings.HasPrefix(st, "BAD") {
		t.Errorf("bad flag: %s", st)
	}
	// UTF8 data without ENABLE UTF8=ACCEPT in the second message.
	m := msg("four", "x")
	_, st = c.cmd(fmt.Sprintf("APPEND Box {%d+}\r\n%s UTF8 (~{%d+}\r\n%s)", len(m), m, len(m), m))
	if !strings.HasPrefix(st, "BAD") {
		t.Errorf("UTF8 without ENABLE: %s", st)
	}
	// A missing mailbox.
	c.want(multiAppendCmd("Nope", []string{"", ""}, msgs[:2]), "NO [TRYCREATE]")
	lines = c.ok("STATUS Box (MESSAGES UIDNEXT)")
	has(t, lines, "MESSAGES 3 UIDNEXT 4")
	lines = c.ok("NOOP")
	hasNot(t, lines, "EXISTS")
}
