package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testPendingDeletes checks store.PendingDeletes: a delete pending keeps
// its message in the mailbox under its UID, marked \Deleted and out of
// the webmail's lists; Undo clears the mark (not one the message had
// before) and keeps the UID; a due delete is expunged into Deleted
// unless an IMAP client cleared the mark meanwhile, and restored from
// there comes back without the mark; another account's
// ids are refused or ignored; the store expunges due deletes by itself.
func testPendingDeletes(t *testing.T, s store.Store) {
	ctx := context.Background()
	bob, eve, in := bobAndEve(t, s)
	ms := deliverSeries(t, s, bob, time.Now().Add(-time.Hour), "p", 4, func(i int) store.Flags {
		if i == 2 {
			return store.FlagDeleted // marked over IMAP before
		}
		return 0
	})
	var mu sync.Mutex
	var changes []store.Change
	cancel := s.Subscribe(bob.ID, func(c store.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })
	defer cancel()
	listed := func() []int64 {
		var out []int64
		for _, m := range must(s.MessagePage(ctx, bob.ID, in.ID, store.Cursor{}, 50)) {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	if _, err := s.DeleteLater(ctx, eve.ID, ids(ms[0]), time.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteLater of another account's message: %v, want ErrNotFound", err)
	}
	later := time.Now().Add(time.Hour)
	if got := must(s.DeleteLater(ctx, bob.ID, ids(ms[0], ms[1], ms[2]), later)); !slices.Equal(got, ids(ms[0], ms[1], ms[2])) {
		t.Fatalf("DeleteLater marked %v", got)
	}
	for _, m := range ms[:3] {
		now := must(s.Message(ctx, bob.ID, m.ID))
		if now.Expunged || now.UID != m.UID || now.Flags&store.FlagDeleted == 0 {
			t.Errorf("pending message %d: %+v, want live, UID %d, \\Deleted", m.ID, now, m.UID)
		}
	}
	if got := listed(); !slices.Equal(got, ids(ms[3])) {
		t.Errorf("MessagePage lists %v during the window, want only %d", got, ms[3].ID)
	}
	if got := must(s.ConversationPage(ctx, bob.ID, in.ID, store.Cursor{}, 50)); len(got) != 1 || got[0].Newest.ID != ms[3].ID {
		t.Errorf("ConversationPage lists %+v during the window", got)
	}
	mu.Lock()
	flagged := 0
	for _, c := range changes {
		if c.Kind == store.ChangeFlags {
			flagged++
		}
	}
	mu.Unlock()
	if flagged != 2 {
		t.Errorf("%d flag changes told, want 2 (the third was marked already)", flagged)
	}
	if got := must(s.UndoDelete(ctx, eve.ID, ids(ms[1]))); len(got) != 0 {
		t.Errorf("another account undid %v", got)
	}
	if got := must(s.UndoDelete(ctx, bob.ID, ids(ms[0], ms[2], ms[3]))); !slices.Equal(got, ids(ms[0], ms[2])) {
		t.Errorf("UndoDelete took back %v, want %v", got, ids(ms[0], ms[2]))
	}
	if m := must(s.Message(ctx, bob.ID, ms[0].ID)); m.UID != ms[0].UID || m.Flags&store.FlagDeleted != 0 || m.Expunged {
		t.Errorf("after Undo: %+v, want UID %d without \\Deleted", m, ms[0].UID)
	}
	if m := must(s.Message(ctx, bob.ID, ms[2].ID)); m.Flags&store.FlagDeleted == 0 {
		t.Errorf("Undo cleared the \\Deleted the message had before")
	}
	if n := must(s.ExpungeDue(ctx, time.Now(), 100)); n != 0 {
		t.Errorf("ExpungeDue before the window ends looked at %d", n)
	}
	// An IMAP client clears the mark on one: it stays when due.
	again := must(s.DeleteLater(ctx, bob.ID, ids(ms[0]), later))
	if len(again) != 1 {
		t.Fatalf("DeleteLater again: %v", again)
	}
	must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{ms[0].UID}, store.FlagsRemove, store.FlagDeleted, nil, 0))
	if n := must(s.ExpungeDue(ctx, later.Add(time.Second), 100)); n != 2 {
		t.Errorf("ExpungeDue after the window looked at %d, want 2", n)
	}
	if m := must(s.Message(ctx, bob.ID, ms[1].ID)); !m.Expunged {
		t.Errorf("the due delete was not expunged")
	}
	if m := must(s.Message(ctx, bob.ID, ms[0].ID)); m.Expunged {
		t.Errorf("a message whose mark IMAP cleared was expunged")
	}
	// Deleted lists the expunged one and the one still marked over
	// IMAP, newest first.
	deleted := must(s.DeletedPage(ctx, bob.ID, store.Cursor{}, 50))
	if !slices.Equal(ids(deleted...), ids(ms[2], ms[1])) {
		t.Errorf("Deleted lists %v, want %v", ids(deleted...), ids(ms[2], ms[1]))
	}
	if v := must(s.VanishedSince(ctx, bob.ID, in.ID, 0)); !slices.Contains(v, ms[1].UID) {
		t.Errorf("the expunged UID %d is not reported vanished: %v", ms[1].UID, v)
	}
	if got := must(s.UndoDelete(ctx, bob.ID, ids(ms[1]))); len(got) != 0 {
		t.Errorf("Undo after the window took back %v", got)
	}
	if n := must(s.ExpungeDue(ctx, later.Add(time.Hour), 100)); n != 0 {
		t.Errorf("ExpungeDue again looked at %d", n)
	}
	// Restored from Deleted: a new UID, without the \Deleted mark that
	// led to its expunge, listed again.
	if got := must(s.Restore(ctx, bob.ID, in.ID, ids(ms[1]))); len(got) != 1 {
		t.Fatalf("Restore: %+v", got)
	}
	if m := must(s.Message(ctx, bob.ID, ms[1].ID)); m.Expunged || m.Flags&store.FlagDeleted != 0 || m.UID == ms[1].UID {
		t.Errorf("restored: %+v, want live under a new UID without \\Deleted", m)
	}
	if !slices.Contains(listed(), ms[1].ID) {
		t.Errorf("the restored message is not listed: %v", listed())
	}

	// The store expunges a due delete by itself.
	must(s.DeleteLater(ctx, bob.ID, ids(ms[3]), time.Now().Add(200*time.Millisecond)))
	deadline := time.Now().Add(30 * time.Second)
	for !must(s.Message(ctx, bob.ID, ms[3].ID)).Expunged {
		if time.Now().After(deadline) {
			t.Fatal("a due delete was not expunged by the store within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
