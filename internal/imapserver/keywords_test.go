package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
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

// TestKeywordLimit: a mailbox holds at most store.MaxKeywords keywords,
// each of at most store.MaxKeywordLen bytes. STORE, APPEND, COPY and
// MOVE that would pass the bound get NO [LIMIT] (RFC 5530) and change
// nothing; PERMANENTFLAGS drops "\*" once the mailbox is full (RFC 9051
// section 7.1), and the keywords it has can still be set. One user's
// 9,000 keywords on 100 messages made a STORE cost 30 s of CPU and a
// FETCH of their flags 16 s, for every session of the server; a line of
// tens of thousands of keywords is answered at once.
func TestKeywordLimit(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("k%d", i), "x"), 0)
	}
	c := e.login()
	c.timeout = 5 * time.Minute
	c.ok("CREATE Other")
	c.ok("SELECT INBOX")
	kws := func(prefix string, n int) string {
		var b []string
		for i := range n {
			b = append(b, fmt.Sprintf("%s%d", prefix, i))
		}
		return strings.Join(b, " ")
	}
	// Over the bound in one command: nothing is stored.
	c.want("STORE 1 +FLAGS ("+kws("x", store.MaxKeywords+1)+")", "NO [LIMIT]")
	c.want("STORE 1 +FLAGS (a"+strings.Repeat("b", store.MaxKeywordLen)+")", "NO [LIMIT]")
	c.want(fmt.Sprintf("APPEND INBOX (%s) {3+}\r\nx\r\n", kws("y", store.MaxKeywords+1)), "NO [LIMIT]")
	c.want("STORE 1:* +FLAGS ("+strings.Repeat("a b c ", 2000)+kws("z", 7000)+")", "NO [LIMIT]") // within the 64 KiB line
	if lines := c.ok("FETCH 1 FLAGS"); strings.Contains(strings.Join(lines, ""), "x0") {
		t.Errorf("a refused STORE set keywords: %q", lines)
	}
	// Up to the bound: fine, and PERMANENTFLAGS then says no more.
	lines := c.ok("STORE 1 +FLAGS (" + kws("k", store.MaxKeywords-1) + ")")
	perm := lastWith(lines, "PERMANENTFLAGS")
	if !strings.Contains(perm, `\*`) {
		t.Errorf("PERMANENTFLAGS without \\* before the mailbox is full: %.200q", perm)
	}
	lines = c.ok("STORE 2 +FLAGS (last)")
	if perm := lastWith(lines, "PERMANENTFLAGS"); perm == "" || strings.Contains(perm, `\*`) {
		t.Errorf("PERMANENTFLAGS of a full mailbox still offers \\*: %.200q", perm)
	}
	if perm := lastWith(e.login().ok("SELECT INBOX"), "PERMANENTFLAGS"); strings.Contains(perm, `\*`) {
		t.Errorf("SELECT of a full mailbox offers \\*: %.200q", perm)
	}
	// Full: a new keyword is refused, a known one is not.
	c.want("STORE 3 +FLAGS (onemore)", "NO [LIMIT]")
	c.want("APPEND INBOX (onemore) {3+}\r\nx\r\n", "NO [LIMIT]")
	c.ok("STORE 3 +FLAGS (k7 LAST)")
	c.ok("APPEND INBOX (k8) {3+}\r\nx\r\n")
	if lines := c.ok("FETCH 3 FLAGS"); !strings.Contains(lines[0], "k7") || strings.Contains(lines[0], "onemore") {
		t.Errorf("FETCH 3 FLAGS: %.200q", lines)
	}
	// Copying into a mailbox that cannot take the keywords: NO [LIMIT].
	c.ok("SELECT Other")
	c.want("APPEND Other ("+kws("other", 600)+") {3+}\r\nx\r\n", "OK")
	c.ok("SELECT INBOX")
	c.want("COPY 1 Other", "NO [LIMIT]")
	c.want("MOVE 1 Other", "NO [LIMIT]")
	if lines := c.ok("STATUS Other (MESSAGES)"); !strings.Contains(strings.Join(lines, ""), "MESSAGES 1)") {
		t.Errorf("a refused COPY or MOVE copied: %q", lines)
	}
	c.ok("COPY 3 Other") // k7, LAST: two more keywords fit
}

// lastWith is the last of lines that contains s, or "".
func lastWith(lines []string, s string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}
