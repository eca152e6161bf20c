package imapserver_test

import (
	"strings"
	"testing"
	"time"
)

// TestCommandRefusedByStateBeforeLiteral guards the command table's state
// check: a command not allowed in the current state is answered BAD
// before its arguments are read, so the client never gets "+" for its
// literal and the server never buffers it (issue 11 part 4).
func TestCommandRefusedByStateBeforeLiteral(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	for _, tc := range []struct{ line, want string }{
		{"p1 APPEND INBOX {52428800}", "p1 BAD"},
		{"p2 SELECT {5}", "p2 BAD"},
		{"p3 UID FETCH 1:* (BODY[HEADER.FIELDS ({7}", "p3 BAD"},
	} {
		c.send(tc.line)
		c.c.SetReadDeadline(time.Now().Add(time.Minute))
		l, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", tc.line, err)
		}
		if !strings.HasPrefix(l, tc.want) || !strings.Contains(l, "sign in first") {
			t.Errorf("%s: got %q, want %s ... sign in first", tc.line, l, tc.want)
		}
	}
	c.ok("NOOP")
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	c.send("s1 COPY 1 {5}")
	if _, st := c.until("s1"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "SELECT a mailbox first") {
		t.Errorf("COPY before SELECT: %q", st)
	}
	c.send("s2 LOGIN {3}")
	if _, st := c.until("s2"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "already signed in") {
		t.Errorf("LOGIN after sign-in: %q", st)
	}
	c.ok("SELECT INBOX")
	c.send("s3 ENABLE {9}")
	if _, st := c.until("s3"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "ENABLE must come before SELECT") {
		t.Errorf("ENABLE while selected: %q", st)
	}
	c.ok("NOOP")
}

// TestCommandNamesFromTable guards the lookup of command names: unknown
// commands and UID forms of commands that have none are BAD, and a
// command without its own answer gets "OK <name> completed".
func TestCommandNamesFromTable(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	if _, st := c.cmd("FROB"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "unknown command") {
		t.Errorf("FROB: %q", st)
	}
	if _, st := c.cmd("UID LIST \"\" *"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "UID LIST is not a command") {
		t.Errorf("UID LIST: %q", st)
	}
	if _, st := c.cmd("noop"); st != "OK NOOP completed" {
		t.Errorf("noop: %q", st)
	}
	lines, st := c.cmd("NAMESPACE")
	if st != "OK NAMESPACE completed" {
		t.Errorf("NAMESPACE: %q", st)
	}
	has(t, lines, `* NAMESPACE (("" "/")) NIL NIL`)
}

// TestCapabilitiesFromTable guards the capabilities the rows announce,
// with the ones that depend on the connection's state.
func TestCapabilitiesFromTable(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	lines := c.ok("CAPABILITY")
	has(t, lines, "AUTH=PLAIN", "SASL-IR", " IDLE", " MOVE", " UIDPLUS", "COMPRESS=DEFLATE", "APPENDLIMIT=", "LIST-STATUS", "ESEARCH")
	hasNot(t, lines, "LOGINDISABLED")
	hasNot(t, lines, "STARTTLS")
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	lines = c.ok("CAPABILITY")
	has(t, lines, " IDLE", " MOVE")
	hasNot(t, lines, "AUTH=PLAIN")
}

func TestCapability(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	lines := c.ok("CAPABILITY")
	has(t, lines, "IMAP4rev2", "AUTH=PLAIN", "SASL-IR", "IDLE", "CONDSTORE", "QRESYNC", "APPENDLIMIT=52428800", "COMPRESS=DEFLATE")
	hasNot(t, lines, "LOGINDISABLED")
	hasNot(t, lines, "STARTTLS")
}
