package imapserver_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// rereadStore counts the store reads by which a session brings its view
// of the selected mailbox up to date (sync's refresh), and can run a
// write of another client inside SELECT's read of the mailbox.
type rereadStore struct {
	store.Store
	rereads atomic.Int64
	// duringMailbox, when set, runs once after Mailbox has read its
	// answer and before it returns it.
	duringMailbox atomic.Pointer[func()]
}

func (s *rereadStore) Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error) {
	mb, err := s.Store.Mailbox(ctx, accountID, name)
	if f := s.duringMailbox.Swap(nil); f != nil {
		(*f)()
	}
	return mb, err
}

func (s *rereadStore) MailboxByID(ctx context.Context, accountID, id int64) (store.Mailbox, error) {
	s.rereads.Add(1)
	return s.Store.MailboxByID(ctx, accountID, id)
}

func (s *rereadStore) ChangedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]store.MessageFlags, error) {
	s.rereads.Add(1)
	return s.Store.ChangedSince(ctx, accountID, mailboxID, modseq)
}

func (s *rereadStore) VanishedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]uint32, error) {
	s.rereads.Add(1)
	return s.Store.VanishedSince(ctx, accountID, mailboxID, modseq)
}

func newRereadEnv(t *testing.T) (*env, *rereadStore) {
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	st := &rereadStore{Store: openStore(t, dir)}
	return newEnvStore(t, st, dir), st
}

// TestSelectReportsChangeAnnouncedDuringItsRead guards SELECT's window:
// the mailbox is read before the session listens to its changes (it
// needs the id), so a change committed and announced in between reaches
// no one. The next command must still report it. Here another client's
// STORE runs, and is announced, inside SELECT's read of the mailbox.
func TestSelectReportsChangeAnnouncedDuringItsRead(t *testing.T) {
	e, st := newRereadEnv(t)
	for i := range 2 {
		e.deliver(store.Inbox, msg(fmt.Sprintf("m%d", i), "x"), store.FlagSeen)
	}
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, e.account.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	c := e.login()
	c.ok("ENABLE CONDSTORE")
	hook := func() {
		// StoreFlags returns once its change was announced.
		if _, _, err := st.Store.StoreFlags(ctx, e.account.ID, mb.ID, []uint32{1}, store.FlagsAdd, store.FlagFlagged, nil, 0); err != nil {
			t.Error(err)
		}
	}
	st.duringMailbox.Store(&hook)
	lines := c.ok("SELECT INBOX")
	has(t, lines, fmt.Sprintf("[HIGHESTMODSEQ %d]", mb.HighestModSeq))
	lines = c.ok("NOOP")
	has(t, lines, `* 1 FETCH (FLAGS (\Flagged \Seen) MODSEQ (`)
}

// TestOwnWritesNeedNoReread guards the cost of the barrier's sync in the
// common case of one session on its mailbox (issue 11 part 9, the
// realistic mix): after SELECT, and after the session's own STORE and
// UID EXPUNGE, nothing else changed, so no command re-reads the mailbox
// to learn it. A change by another session is still re-read and
// reported.
func TestOwnWritesNeedNoReread(t *testing.T) {
	e, st := newRereadEnv(t)
	for i := range 4 {
		e.deliver(store.Inbox, msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	a, b := e.login(), e.login()
	b.ok("SELECT INBOX")
	a.ok("SELECT INBOX")
	st.rereads.Store(0)
	a.ok("UID FETCH 1:* (FLAGS)")
	a.ok(`UID STORE 3,4 +FLAGS.SILENT (\Deleted)`)
	lines := a.ok("UID EXPUNGE 3")
	has(t, lines, "* 3 EXPUNGE")
	lines = a.ok("UID FETCH 1:* (FLAGS)")
	has(t, lines, `* 3 FETCH (UID 4 FLAGS (\Deleted))`)
	a.ok("NOOP")
	if n := st.rereads.Load(); n != 0 {
		t.Errorf("%d re-reads of the mailbox after SELECT and the session's own writes, want 0", n)
	}
	// Another session's write is read back and reported.
	b.ok(`UID STORE 1 +FLAGS.SILENT (\Flagged)`)
	lines = a.ok("NOOP")
	has(t, lines, `* 1 FETCH (FLAGS (\Flagged))`)
	if st.rereads.Load() == 0 {
		t.Error("another session's STORE was reported without a re-read")
	}
	// And one that came between the session's view and its own EXPUNGE
	// too: B expunges UID 2 just before A's EXPUNGE finds it gone.
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	a.ok("NOOP")
	b.ok("UID EXPUNGE 2")
	lines = a.ok("UID EXPUNGE 4")
	has(t, lines, "* 2 EXPUNGE", "* 2 EXPUNGE")
	lines = a.ok("UID FETCH 1:* (FLAGS)")
	if len(lines) != 1 {
		t.Errorf("after both expunges A still has %v", lines)
	}
}
