package imapserver

import (
	"context"
	"slices"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

func rowsOf(uids ...uint32) []store.MessageFlags {
	out := make([]store.MessageFlags, len(uids))
	for i, u := range uids {
		out[i] = store.MessageFlags{UID: u, ModSeq: 1}
	}
	return out
}

// TestFlagCacheIdle: a released mailbox keeps its snapshot within the idle
// bounds, oldest dropped first, and a new session takes it back.
func TestFlagCacheIdle(t *testing.T) {
	c := newFlagCache()
	k := func(id int64) mailboxKey { return mailboxKey{id, 100} }
	for id := int64(1); id <= idleSnaps+2; id++ {
		c.acquire(k(id))
		c.snaps[k(id)] = &flagSnap{modseq: 1, rows: rowsOf(1, 2)}
		c.release(k(id))
	}
	if len(c.idle) != idleSnaps || c.peek(k(1)) != nil || c.peek(k(2)) != nil || c.peek(k(3)) == nil {
		t.Fatalf("idle %v; snapshots 1..3 kept: %v %v %v", c.idle, c.peek(k(1)) != nil, c.peek(k(2)) != nil, c.peek(k(3)) != nil)
	}
	c.acquire(k(3))
	if len(c.idle) != idleSnaps-1 || c.peek(k(3)) == nil {
		t.Fatalf("re-acquired: idle %v", c.idle)
	}
	// One huge snapshot alone is over idleRows: dropped at release.
	c.snaps[k(3)] = &flagSnap{modseq: 1, rows: make([]store.MessageFlags, idleRows+1)}
	c.release(k(3))
	if c.peek(k(3)) != nil {
		t.Error("snapshot over idleRows kept")
	}
	// forget drops an idle snapshot at once; a key with another
	// UIDVALIDITY never finds it.
	if c.peek(mailboxKey{4, 101}) != nil {
		t.Error("snapshot found under another UIDVALIDITY")
	}
	c.forget(k(4))
	if c.peek(k(4)) != nil || slices.Contains(c.idle, k(4)) {
		t.Errorf("forgotten snapshot kept: idle %v", c.idle)
	}
}

// TestFlagCacheAdvance: advance applies changes only to a snapshot at the
// modseq they start from, and only while the mailbox is selected.
func TestFlagCacheAdvance(t *testing.T) {
	c := newFlagCache()
	k := mailboxKey{7, 100}
	c.acquire(k)
	c.snaps[k] = &flagSnap{modseq: 4, rows: rowsOf(1, 2, 3)}
	c.advance(k, 3, 5, rowsOf(9), nil) // from the wrong modseq
	if s := c.peek(k); s.modseq != 4 || len(s.rows) != 3 {
		t.Fatalf("advanced from a stale modseq: %+v", s)
	}
	changed := []store.MessageFlags{{UID: 4, ModSeq: 5}, {UID: 2, ModSeq: 5, Flags: store.FlagSeen}} // unsorted
	c.advance(k, 4, 5, changed, []uint32{1})
	s := c.peek(k)
	if s.modseq != 5 || len(s.rows) != 3 || s.rows[0].UID != 2 || s.rows[0].Flags != store.FlagSeen || s.rows[2].UID != 4 {
		t.Fatalf("advanced: %+v", s)
	}
	c.release(k)
	c.advance(k, 5, 6, rowsOf(8), nil)
	if c.peek(k).modseq != 5 {
		t.Error("idle snapshot advanced")
	}
}

// unseenStore is a Store that answers FirstUnseen from rows, counting
// calls.
type unseenStore struct {
	Store
	rows  []store.MessageFlags
	calls int
}

func (f *unseenStore) FirstUnseen(context.Context, int64, int64) (uint32, error) {
	f.calls++
	for _, m := range f.rows {
		if m.Flags&store.FlagSeen == 0 {
			return m.UID, nil
		}
	}
	return 0, nil
}

// TestFirstUnseen: the session turns the store's first unseen UID into a
// sequence number of a view with UID gaps, in one read.
func TestFirstUnseen(t *testing.T) {
	const n = 50_000
	var rows []store.MessageFlags
	var uids []uint32
	for i := range uint32(n) {
		u := 2*i + 1 // gaps: the view is not dense
		uids = append(uids, u)
		rows = append(rows, store.MessageFlags{UID: u, Flags: store.FlagSeen})
	}
	for _, want := range []uint32{1, 1024, 1025, 5000, 49_999, n} {
		st := &unseenStore{rows: slices.Clone(rows)}
		st.rows[want-1].Flags = 0
		s := &session{srv: &Server{store: st}, ctx: context.Background()}
		v := newView(uids)
		got, err := s.firstUnseen(1, &v)
		if err != nil || got != want {
			t.Errorf("first unseen %d: got %d, %v", want, got, err)
		}
		if st.calls != 1 {
			t.Errorf("first unseen %d: %d reads", want, st.calls)
		}
	}
	st := &unseenStore{rows: rows}
	s := &session{srv: &Server{store: st}, ctx: context.Background()}
	v := newView(uids)
	if got, _ := s.firstUnseen(1, &v); got != 0 {
		t.Errorf("all seen: %d", got)
	}
}
