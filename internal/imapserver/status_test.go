package imapserver_test

import (
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("a", "x"), 0)
	e.deliver("INBOX", msg("b", "y"), store.FlagSeen|store.FlagDeleted)
	c := e.login()
	lines := c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ") ||
		!strings.Contains(lines[0], "UNSEEN 1 DELETED 1 SIZE ") || !strings.Contains(lines[0], "HIGHESTMODSEQ ") {
		t.Errorf("STATUS: %q", lines)
	}
	c.want("STATUS Nope (MESSAGES)", "NO [NONEXISTENT]")
}
