package imapserver

import (
	"context"
	"sort"
	"sync"

	"github.com/xtramail/xtramail/internal/store"
)

// flagCache keeps, per selected mailbox, an immutable snapshot of its
// messages' UIDs, flags and modseqs, shared by every session that has the
// mailbox selected. A FETCH FLAGS, flag SEARCH or EXPUNGE over a large
// mailbox reads it instead of scanning the store: the snapshot is brought
// up to date from the store's modseq (changes and vanished UIDs since),
// which costs a couple of index lookups when little changed. Snapshots
// are replaced, never modified (copy on write), and dropped when the last
// session leaves the mailbox.
type flagCache struct {
	mu    sync.Mutex
	snaps map[int64]*flagSnap
	users map[int64]int // sessions with the mailbox selected
}

type flagSnap struct {
	modseq uint64
	rows   []store.MessageFlags // by UID
}

// minCached is the size of a UID set from which the cache is used; below
// it the store answers directly.
const minCached = 512

func newFlagCache() *flagCache {
	return &flagCache{snaps: make(map[int64]*flagSnap), users: make(map[int64]int)}
}

func (c *flagCache) acquire(mailboxID int64) {
	c.mu.Lock()
	c.users[mailboxID]++
	c.mu.Unlock()
}

func (c *flagCache) release(mailboxID int64) {
	c.mu.Lock()
	if c.users[mailboxID]--; c.users[mailboxID] <= 0 {
		delete(c.users, mailboxID)
		delete(c.snaps, mailboxID)
	}
	c.mu.Unlock()
}

// get returns an up-to-date snapshot of a mailbox. It must not be
// modified.
func (c *flagCache) get(ctx context.Context, st Store, mailboxID int64) (*flagSnap, error) {
	mb, err := st.MailboxByID(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	old := c.snaps[mailboxID]
	c.mu.Unlock()
	if old != nil && old.modseq == mb.HighestModSeq {
		return old, nil
	}
	// Queries run after mb was read may see later changes too; applying
	// a change twice is harmless, so the snapshot is labelled with mb's
	// modseq and the next update re-reads from there.
	snap := &flagSnap{modseq: mb.HighestModSeq}
	if old == nil {
		snap.rows, err = st.FlagsByUID(ctx, mailboxID, nil)
		if err != nil {
			return nil, err
		}
	} else {
		changed, err := st.ChangedSince(ctx, mailboxID, old.modseq)
		if err != nil {
			return nil, err
		}
		vanished, err := st.VanishedSince(ctx, mailboxID, old.modseq)
		if err != nil {
			return nil, err
		}
		snap.rows = merge(old.rows, changed, vanished)
	}
	c.mu.Lock()
	if c.users[mailboxID] > 0 {
		if cur := c.snaps[mailboxID]; cur == nil || cur.modseq <= snap.modseq {
			c.snaps[mailboxID] = snap
		}
	}
	c.mu.Unlock()
	return snap, nil
}

// merge returns rows with changed rows replaced or added and vanished
// UIDs removed, in UID order; rows is not modified.
func merge(rows, changed []store.MessageFlags, vanished []uint32) []store.MessageFlags {
	gone := make(map[uint32]bool, len(vanished))
	for _, u := range vanished {
		gone[u] = true
	}
	out := make([]store.MessageFlags, 0, len(rows)+len(changed))
	i, j := 0, 0
	for i < len(rows) || j < len(changed) {
		var m store.MessageFlags
		switch {
		case j >= len(changed) || i < len(rows) && rows[i].UID < changed[j].UID:
			m = rows[i]
			i++
		case i >= len(rows) || changed[j].UID < rows[i].UID:
			m = changed[j]
			j++
		default: // same UID: the change wins
			m = changed[j]
			i++
			j++
		}
		if !gone[m.UID] {
			out = append(out, m)
		}
	}
	return out
}

// flagRows returns the flag rows of the messages in ranges (nil: all),
// from the shared snapshot for large sets and from the store otherwise.
// Callers still filter with the view.
func (s *session) flagRows(ranges []store.UIDRange) ([]store.MessageFlags, error) {
	id := s.sel.mb.ID
	if ranges != nil && rangesCount(ranges) < minCached {
		return s.srv.store.FlagsByUID(s.ctx, id, queryRanges(ranges))
	}
	snap, err := s.srv.flags.get(s.ctx, s.srv.store, id)
	if err != nil {
		return nil, err
	}
	if ranges == nil {
		return snap.rows, nil
	}
	first, last := ranges[0].First, ranges[len(ranges)-1].Last
	lo := sort.Search(len(snap.rows), func(i int) bool { return snap.rows[i].UID >= first })
	hi := sort.Search(len(snap.rows), func(i int) bool { return snap.rows[i].UID > last })
	return snap.rows[lo:hi], nil
}
