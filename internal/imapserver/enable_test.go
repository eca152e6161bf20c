package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestEnableIDNamespace(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	has(t, c.ok("ENABLE CONDSTORE QRESYNC UNKNOWN"), "* ENABLED CONDSTORE QRESYNC")
	has(t, c.ok("ID NIL"), `* ID ("name" "xtramail")`)
	has(t, c.ok("NAMESPACE"), `* NAMESPACE (("" "/")) NIL NIL`)
	has(t, c.ok("ENABLE IMAP4rev2"), "* ENABLED IMAP4rev2")
	// IMAP4rev2: mailbox names in UTF-8, LIST in SELECT, no RECENT.
	c.ok(`CREATE "Café"`)
	has(t, c.ok(`LIST "" Caf*`), `"/" "Café"`)
	lines := c.ok("SELECT INBOX")
	has(t, lines, `* LIST () "/" INBOX`)
	hasNot(t, lines, "RECENT")
}

// TestEnableUTF8AcceptNamesAndAppend: ENABLE UTF8=ACCEPT, then mailbox names in UTF-8 both
// ways and APPEND UTF8 (~{n}...) (RFC 6855 sections 3 and 4).
func TestEnableUTF8AcceptNamesAndAppend(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	has(t, c.ok("CAPABILITY"), "UTF8=ACCEPT")
	c.ok("CREATE Entw&APw-rfe") // modified UTF-7 before ENABLE
	has(t, c.ok(`LIST "" Entw*`), `"/" Entw&APw-rfe`)

	m := "From: J\u00f6rg <j@example.net>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nHallo\r\n"
	c.send(fmt.Sprintf("u0 APPEND INBOX UTF8 (~{%d+}\r\n%s)", len(m), m))
	if _, st := c.until("u0"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "ENABLE UTF8=ACCEPT") {
		t.Fatalf("APPEND UTF8 before ENABLE: %s", st)
	}

	has(t, c.ok("ENABLE UTF8=ACCEPT"), "* ENABLED UTF8=ACCEPT")
	has(t, c.ok(`LIST "" Entw*`), `"/" "Entwürfe"`)
	c.ok(`CREATE "Büro"`)
	has(t, c.ok(`STATUS "Büro" (MESSAGES)`), `* STATUS "Büro" (MESSAGES 0)`)

	c.send(fmt.Sprintf("u1 APPEND \"Büro\" (\\Seen) UTF8 (~{%d}", len(m)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send(m + ")")
	if _, st := c.until("u1"); !strings.HasPrefix(st, "OK [APPENDUID ") {
		t.Fatalf("APPEND UTF8: %s", st)
	}
	c.ok(`SELECT "Büro"`)
	has(t, c.ok("FETCH 1 (FLAGS BODY.PEEK[])"), `FLAGS (\Seen \Recent)`, fmt.Sprintf("BODY[] {%d}\r\n%s", len(m), m))

	// The old names still read back: the store holds UTF-8.
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, "Entwürfe")
	if err != nil || mb.Name != "Entwürfe" {
		t.Fatalf("stored name: %+v %v", mb, err)
	}
}

// TestEnableRefusedAfterSelect: ENABLE is refused once a mailbox is selected (RFC 5161
// section 3.1).
func TestEnableRefusedAfterSelect(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.want("ENABLE CONDSTORE", "BAD")
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	c.ok("SELECT INBOX")
	c.want("ENABLE CONDSTORE", "BAD")
	if !strings.Contains(c.last, "before SELECT") {
		t.Errorf("ENABLE after SELECT: %q", c.last)
	}
	c.ok("UNSELECT")
	has(t, c.ok("ENABLE CONDSTORE"), "* ENABLED CONDSTORE")
}
