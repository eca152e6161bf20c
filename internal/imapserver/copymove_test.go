package imapserver_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func TestCopyMove(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"a", "b", "c"} {
		e.deliver("INBOX", msg(s, s), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("COPY 1:2 Trash")
	if st := c.tagLine(); st != "OK [COPYUID "+uidValidity(t, e, "Trash")+" 1:2 1:2] COPY completed" {
		t.Errorf("COPY: %q", st)
	}
	c.want("COPY 1 Nope", "NO [TRYCREATE]")

	lines := c.ok("MOVE 2 Drafts")
	has(t, lines, "* OK [COPYUID "+uidValidity(t, e, "Drafts")+" 2 1]", "* 2 EXPUNGE")
	lines = c.ok("UID MOVE 3 Drafts")
	has(t, lines, "[COPYUID "+uidValidity(t, e, "Drafts")+" 3 2]", "* 2 EXPUNGE")
	has(t, c.ok("STATUS Drafts (MESSAGES)"), "MESSAGES 2")
	has(t, c.ok("SEARCH ALL"), "* SEARCH 1")

	// Events are written in the background; Shutdown drains them.
	e.stop()
	events, err := e.st.SearchLog(context.Background(), store.LogQuery{Status: msglog.Moved})
	if err != nil || len(events) != 2 {
		t.Errorf("moved events: %v %v", events, err)
	}
}

func uidValidity(t *testing.T, e *env, name string) string {
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return itoa(mb.UIDValidity)
}

func itoa(n uint32) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestMoveIntoSelectedMailbox: MOVE into the selected mailbox itself works
// as COPY then EXPUNGE of the originals (RFC 6851 section 3.3): COPYUID,
// the expunges, then the messages again under new UIDs, with their flags.
func TestMoveIntoSelectedMailbox(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("mv%d", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok(`STORE 2 +FLAGS (\Flagged $Keep)`)
	other := e.login()
	other.ok("SELECT INBOX")

	lines := c.ok("MOVE 2 INBOX")
	has(t, lines, "* OK [COPYUID ", " 2 4]", "* 2 EXPUNGE", "* 3 EXISTS")
	order := func(sub string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
	}
	if !(order("COPYUID") < order("EXPUNGE") && order("EXPUNGE") < order("EXISTS")) {
		t.Errorf("MOVE responses out of order: %q", lines)
	}
	has(t, c.ok("FETCH 1:* (UID FLAGS)"), "* 1 FETCH (UID 1 ", "* 2 FETCH (UID 3 ", `* 3 FETCH (UID 4 FLAGS (\Flagged \Recent $Keep))`)
	// Another session learns of the new UID and the expunge.
	has(t, untilShown(t, other, "NOOP", "EXPUNGE"), "* 4 EXISTS", "* 2 EXPUNGE")
	has(t, other.ok("FETCH 3 (UID FLAGS)"), `* 3 FETCH (UID 4 FLAGS (\Flagged $Keep))`)

	// UID MOVE of several, and the store agrees.
	has(t, c.ok("UID MOVE 1,3 INBOX"), "* OK [COPYUID ", " 1,3 5:6]")
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids, err := e.st.UIDs(context.Background(), e.account.ID, mb.ID)
	if err != nil || !slices.Equal(uids, []uint32{4, 5, 6}) || mb.Messages != 3 {
		t.Fatalf("INBOX after moves: %v %+v %v", uids, mb, err)
	}
	// Not a deletion: nothing to restore.
	if exp, err := e.st.Expunged(context.Background(), e.account.ID, mb.ID); err != nil || len(exp) != 0 {
		t.Fatalf("moved messages show as deleted: %v %v", exp, err)
	}
	has(t, c.ok("FETCH 1:* UID"), "* 1 FETCH (UID 4)", "* 2 FETCH (UID 5)", "* 3 FETCH (UID 6)")
	// EXAMINE is read-only.
	c.ok("EXAMINE INBOX")
	c.want("MOVE 1 INBOX", "NO")
}
