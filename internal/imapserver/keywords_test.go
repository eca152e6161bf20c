package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// announcedBefore fails unless a "* FLAGS" line listing kw comes before
// the first FETCH line showing kw, and a PERMANENTFLAGS listing it too
// (unless readOnly).
func announcedBefore(t *testing.T, lines []string, kw string, readOnly bool) {
	t.Helper()
	flags, perm, fetch := -1, -1, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "* FLAGS (") && strings.Contains(l, kw) && flags < 0:
			flags = i
		case strings.Contains(l, "[PERMANENTFLAGS (") && strings.Contains(l, kw+" ") && strings.Contains(l, `\*)]`) && perm < 0:
			perm = i
		case strings.Contains(l, " FETCH (") && strings.Contains(l, kw) && fetch < 0:
			fetch = i
		}
	}
	if flags < 0 || fetch >= 0 && flags > fetch || !readOnly && (perm < 0 || fetch >= 0 && perm > fetch) {
		t.Errorf("%s not announced before FETCH shows it (FLAGS at %d, PERMANENTFLAGS at %d, FETCH at %d): %q", kw, flags, perm, fetch, lines)
	}
}

// untilShown runs cmd, then NOOP until a response shows kw (the change
// feed may reach the session after cmd), and returns every line.
func untilShown(t *testing.T, c *conn, cmd, kw string) []string {
	t.Helper()
	var all []string
	deadline := time.Now().Add(time.Minute)
	for {
		lines := c.ok(cmd)
		all = append(all, lines...)
		if strings.Contains(strings.Join(lines, "\n"), kw) || time.Now().After(deadline) {
			return all
		}
		cmd = "NOOP"
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeywordAnnounced: a keyword first used by STORE or APPEND is
// announced with FLAGS and PERMANENTFLAGS before any FETCH shows it, to
// every session with the mailbox selected, and SELECT lists the keywords
// in use (RFC 9051 sections 7.3.5 and 7.1, as Dovecot does).
func TestKeywordAnnounced(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("k%d", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	x := e.login()
	hasNot(t, x.ok("EXAMINE INBOX"), "$Forwarded")

	// STORE by a: a's own answer, then b at its next command.
	announcedBefore(t, a.ok(`STORE 1 +FLAGS ($Forwarded)`), "$Forwarded", false)
	announcedBefore(t, untilShown(t, b, "FETCH 1:* (FLAGS)", "$Forwarded"), "$Forwarded", false)
	announcedBefore(t, untilShown(t, x, "FETCH 1:* (FLAGS)", "$Forwarded"), "$Forwarded", true)
	// Announced once: the next FETCH has no FLAGS line.
	hasNot(t, b.ok("FETCH 1 FLAGS"), "* FLAGS")

	// Silent STORE still announces it; the other session learns it
	// before the flag change.
	lines := a.ok(`STORE 2 +FLAGS.SILENT (Project-X)`)
	has(t, lines, "* FLAGS (")
	announcedBefore(t, untilShown(t, b, "NOOP", "Project-X"), "Project-X", false)

	// APPEND with a new keyword into the selected mailbox and another.
	m := msg("kw append", "x")
	a.send(fmt.Sprintf("ap APPEND INBOX ($Label3) {%d+}\r\n%s", len(m), m))
	lines, st := a.until("ap")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	lines = append(lines, a.ok("FETCH 4 FLAGS")...)
	announcedBefore(t, lines, "$Label3", false)
	announcedBefore(t, untilShown(t, b, "FETCH 1:* FLAGS", "$Label3"), "$Label3", false)

	// SELECT lists the keywords in use.
	c := e.login()
	lines = c.ok("SELECT INBOX")
	for _, kw := range []string{"$Forwarded", "Project-X", "$Label3"} {
		has(t, lines, "* FLAGS (", kw)
		announcedBefore(t, lines, kw, false)
	}
	// And after removal a keyword stays defined.
	a.ok(`STORE 1:* -FLAGS ($Forwarded)`)
	has(t, e.login().ok("SELECT INBOX"), "$Forwarded")
}
