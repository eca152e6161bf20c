package imapserver_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// Two sessions on one mailbox see each other's changes at the moments RFC
// 9051 section 7.5.1 allows: flag updates and EXISTS after any command,
// EXPUNGE never during FETCH, STORE or SEARCH by sequence number.
func TestTwoSessions(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")

	a.ok(`STORE 1 +FLAGS (\Answered)`)
	lines := b.ok("FETCH 4 (UID)")
	has(t, lines, `* 1 FETCH (FLAGS (\Answered))`)

	a.ok(`STORE 2 +FLAGS (\Deleted)`)
	a.ok("EXPUNGE")
	// b keeps its numbers during FETCH, STORE and SEARCH by sequence.
	lines = b.ok("FETCH 1:* (UID)")
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, "* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)")
	hasNot(t, lines, "* 2 FETCH (UID") // gone, not yet announced: left out
	lines = b.ok(`STORE 3 +FLAGS (\Flagged)`)
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, `* 3 FETCH (FLAGS (\Flagged))`)
	lines = b.ok("SEARCH ALL")
	hasNot(t, lines, "EXPUNGE")
	has(t, lines, "* SEARCH 1 3 4")
	// NOOP reports it, and the numbers shift.
	lines = b.ok("NOOP")
	has(t, lines, "* 2 EXPUNGE")
	has(t, b.ok("FETCH 2 (UID)"), "* 2 FETCH (UID 3)")
	// UID commands may report it at once.
	// a sees b's flag change with its next command.
	has(t, a.ok(`STORE 1 +FLAGS (\Deleted)`), `* 2 FETCH (FLAGS (\Flagged))`)
	a.ok("EXPUNGE")
	lines = b.ok("UID FETCH 1:* (FLAGS)")
	has(t, lines, "* 1 EXPUNGE")

	// New mail: EXISTS for both, \Recent for one only.
	e.deliverNew("INBOX", msg("new", "x"), 0)
	la := a.ok("NOOP")
	lb := b.ok("NOOP")
	has(t, la, "* 3 EXISTS")
	has(t, lb, "* 3 EXISTS")
	ra := strings.Join(la, "\n") + strings.Join(a.ok("FETCH 3 FLAGS"), "\n")
	rb := strings.Join(lb, "\n") + strings.Join(b.ok("FETCH 3 FLAGS"), "\n")
	if strings.Contains(ra, `\Recent`) == strings.Contains(rb, `\Recent`) {
		t.Errorf("\\Recent must go to exactly one session:\n%s\n---\n%s", ra, rb)
	}
}

// A restart (store closed and reopened, new server) keeps UIDVALIDITY and
// UIDs.
func TestRestartKeepsUIDs(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	c.ok("EXPUNGE")
	before := c.ok("UID FETCH 1:* (UID)")
	c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)")
	statusBefore := c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)")
	e.stop()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	e.st = openStore(t, e.dir)
	e.start(imapserver.Config{})
	c = e.login()
	if got := c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)"); strings.Join(got, "") != strings.Join(statusBefore, "") {
		t.Errorf("after restart %q, before %q", got, statusBefore)
	}
	c.ok("SELECT INBOX")
	if got := c.ok("UID FETCH 1:* (UID)"); strings.Join(got, "|") != strings.Join(before, "|") {
		t.Errorf("UIDs after restart %q, before %q", got, before)
	}
}
