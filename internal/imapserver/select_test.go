package imapserver_test

import (
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

func TestSelectExamine(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("one", "first"), 0)
	e.deliver("INBOX", msg("two", "second"), store.FlagSeen)
	c := e.login()
	lines := c.ok("SELECT INBOX")
	has(t, lines, "* 2 EXISTS", "* 0 RECENT", "[UIDVALIDITY ", "[UIDNEXT 3]", "[PERMANENTFLAGS (", "[HIGHESTMODSEQ ", "* FLAGS (")
	if !strings.Contains(c.tagLine(), "[READ-WRITE]") {
		t.Error("SELECT not READ-WRITE")
	}
	lines = c.ok("EXAMINE INBOX")
	has(t, lines, "[CLOSED]", "* 2 EXISTS")
	if !strings.Contains(c.tagLine(), "[READ-ONLY]") {
		t.Error("EXAMINE not READ-ONLY")
	}
	// EXAMINE never sets \Seen, and STORE is refused.
	lines = c.ok("FETCH 1 (BODY[] FLAGS)")
	hasNot(t, lines, `\Seen`)
	c.want(`STORE 1 +FLAGS (\Flagged)`, "NO")
	c.want("EXPUNGE", "NO")
	c.want("SELECT Nonexistent", "NO [NONEXISTENT]")
	c.want("FETCH 1 FLAGS", "BAD") // no mailbox selected after a failed SELECT
}

// TestSelectUnseenCodeForIMAP4rev1: IMAP4rev1 clients get [UNSEEN n], the sequence number
// of the first unseen message (RFC 3501 section 6.3.1); IMAP4rev2
// dropped it.
func TestSelectUnseenCodeForIMAP4rev1(t *testing.T) {
	e := newEnv(t)
	e.deliver("Trash", msg("t1", "x"), store.FlagSeen)
	e.deliver("Trash", msg("t2", "x"), store.FlagSeen)
	e.deliver("Trash", msg("t3", "x"), 0)
	e.deliver("Trash", msg("t4", "x"), 0)
	e.deliver("Drafts", msg("d1", "x"), store.FlagSeen)

	c := e.login()
	lines := c.ok("EXAMINE Trash")
	has(t, lines, "* 4 EXISTS", "* OK [UNSEEN 3] ")
	// The view built from the flag snapshot answers the FETCH that
	// clients send next.
	has(t, c.ok("FETCH 1:* (UID FLAGS)"), `* 1 FETCH (UID 1 FLAGS (\Seen))`, `* 4 FETCH (UID 4 FLAGS ())`)
	hasNot(t, c.ok("SELECT Drafts"), "UNSEEN")

	// A change by another session after SELECT still shows.
	c.ok("SELECT Trash")
	o := e.login()
	o.ok("SELECT Trash")
	o.ok(`STORE 1 -FLAGS (\Seen)`)
	has(t, c.ok("FETCH 1 FLAGS"), `* 1 FETCH (FLAGS ())`)

	c2 := e.login()
	c2.ok("ENABLE IMAP4rev2")
	hasNot(t, c2.ok("SELECT Trash"), "UNSEEN")
}
