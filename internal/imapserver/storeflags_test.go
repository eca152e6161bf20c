package imapserver_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

func TestStoreFlags(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok(`STORE 1:2 +FLAGS (\Flagged $Important)`)
	has(t, lines, `* 1 FETCH (FLAGS (\Flagged $Important))`, `* 2 FETCH (FLAGS (\Flagged $Important))`)
	lines = c.ok(`STORE 1 -FLAGS.SILENT (\Flagged)`)
	if len(lines) != 0 {
		t.Errorf("silent store answered %q", lines)
	}
	lines = c.ok(`UID STORE 3 FLAGS (\Seen \Deleted)`)
	has(t, lines, `* 3 FETCH (FLAGS (\Deleted \Seen) UID 3)`)
	lines = c.ok(`FETCH 1:* FLAGS`)
	has(t, lines, `* 1 FETCH (FLAGS ($Important))`, `* 2 FETCH (FLAGS (\Flagged $Important))`)
	c.want(`STORE 1 +FLAGS (\Bogus)`, "BAD")
	c.want(`STORE 1 +FLAGS (bad"kw)`, "BAD")

	// EXPUNGE removes \Deleted messages and reports them; they stay
	// restorable in the store.
	lines = c.ok("EXPUNGE")
	has(t, lines, "* 3 EXPUNGE")
	lines = c.ok("UID SEARCH ALL")
	has(t, lines, "* SEARCH 1 2")
	mb, _ := e.st.Mailbox(t.Context(), e.account.ID, "INBOX")
	gone, err := e.st.Expunged(t.Context(), e.account.ID, mb.ID)
	if err != nil || len(gone) != 1 {
		t.Errorf("expunged in store: %v, %v", gone, err)
	}
	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	lines = c.ok("UID EXPUNGE 1")
	if len(lines) != 0 {
		t.Errorf("UID EXPUNGE of a message without \\Deleted: %q", lines)
	}
	lines = c.ok("UID EXPUNGE 1:2")
	has(t, lines, "* 2 EXPUNGE")
	// CLOSE expunges silently.
	c.ok(`STORE 1 +FLAGS (\Deleted)`)
	lines = c.ok("CLOSE")
	hasNot(t, lines, "EXPUNGE")
	lines = c.ok("SELECT INBOX")
	has(t, lines, "* 0 EXISTS")
	c.ok("UNSELECT")
	c.want("FETCH 1 FLAGS", "BAD")
}

// Large sets are answered from the shared flag snapshot; it follows
// changes made by other sessions and by the store.
func TestFlagSnapshot(t *testing.T) {
	e := newEnv(t)
	const n = 700
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 10 {
				e.deliver("INBOX", msg(fmt.Sprint("bulk ", i), "x"), 0)
			}
		}()
	}
	wg.Wait()
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	if lines := a.ok("FETCH 1:* (FLAGS)"); len(lines) != n {
		t.Fatalf("%d FETCH lines", len(lines))
	}
	b.ok(`STORE 600:700 +FLAGS.SILENT (\Seen)`)
	b.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	lines := a.ok("UID FETCH 1:* (FLAGS)")
	seen := 0
	for _, l := range lines {
		// Unsolicited updates (no UID) come first, then the response.
		if strings.Contains(l, `\Seen`) && strings.Contains(l, "UID") {
			seen++
		}
	}
	if seen != 101 {
		t.Errorf("%d seen, want 101", seen)
	}
	has(t, lines, "* 1 EXPUNGE")
	lines = a.ok("SEARCH UNSEEN")
	if len(lines) != 1 || len(strings.Fields(lines[0])) != 2+598 {
		t.Errorf("SEARCH UNSEEN: %d numbers", len(strings.Fields(lines[0]))-2)
	}
	e.deliverNew("INBOX", msg("late", "x"), store.FlagFlagged)
	lines = a.ok("UID FETCH 1:* (FLAGS)")
	has(t, lines, "* 700 EXISTS", `* 700 FETCH (UID 701 FLAGS (\Flagged \Recent))`)
}

// TestFlagChangeBetweenOwnWrites: a flag change by another session that
// falls between two of this session's own writes is still reported (the
// session skips re-reading only its own changes).
func TestFlagChangeBetweenOwnWrites(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	a.ok(`STORE 1 +FLAGS.SILENT (\Answered)`)
	b.ok(`STORE 2 +FLAGS.SILENT (\Flagged)`)
	// Reported during the next command that may report it, or NOOP.
	seen := a.ok(`STORE 3 +FLAGS.SILENT (\Seen)`)
	seen = append(seen, a.ok("NOOP")...)
	// When B's event had not arrived before A's second STORE, A's view
	// cannot take that STORE as the only change (modseqs 5 and 6 for 4):
	// it re-reads both, and may echo its own change, which is allowed.
	has(t, seen, `* 2 FETCH (FLAGS (\Flagged))`)
	has(t, b.ok("NOOP"), `* 3 FETCH (FLAGS (\Seen))`)
}
