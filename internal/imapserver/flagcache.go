package imapserver

import (
	"cmp"
	"context"
	"slices"
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
// are replaced, never modified (copy on write). When the last session
// leaves a mailbox its snapshot is kept a while (idleRows), so that the
// next SELECT of a large mailbox, often the same client reconnecting,
// only reads what changed since.
type flagCache struct {
	mu    sync.Mutex
	snaps map[int64]*flagSnap
	users map[int64]int // sessions with the mailbox selected
	idle  []int64       // mailboxes with a snapshot and no session, oldest first
}

// idleRows bounds the rows of snapshots kept for mailboxes no session has
// selected (about 50 bytes a row), idleSnaps their number.
const (
	idleRows  = 200_000
	idleSnaps = 16
)

type flagSnap struct {
	modseq uint64
	rows   []store.MessageFlags // by UID
}

// smallSnap is the size up to which a stale snapshot is read again whole:
// one query, cheaper than the two that bring it up to date.
const smallSnap = 256

// minCached is the size of a UID set from which the cache is used; below
// it the store answers directly.
const minCached = 512

func newFlagCache() *flagCache {
	return &flagCache{snaps: make(map[int64]*flagSnap), users: make(map[int64]int)}
}

func (c *flagCache) acquire(mailboxID int64) {
	c.mu.Lock()
	if c.users[mailboxID]++; c.users[mailboxID] == 1 {
		c.idle = slices.DeleteFunc(c.idle, func(id int64) bool { return id == mailboxID })
	}
	c.mu.Unlock()
}

func (c *flagCache) release(mailboxID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users[mailboxID]--; c.users[mailboxID] > 0 {
		return
	}
	delete(c.users, mailboxID)
	if c.snaps[mailboxID] == nil {
		return
	}
	c.idle = append(c.idle, mailboxID)
	rows := 0
	for _, id := range c.idle {
		rows += len(c.snaps[id].rows)
	}
	for len(c.idle) > 0 && (rows > idleRows || len(c.idle) > idleSnaps) {
		rows -= len(c.snaps[c.idle[0]].rows)
		delete(c.snaps, c.idle[0])
		c.idle = c.idle[1:]
	}
}

// get returns an up-to-date snapshot of a mailbox. It must not be
// modified.
func (c *flagCache) get(ctx context.Context, st Store, accountID, mailboxID int64) (*flagSnap, error) {
	mb, err := st.MailboxByID(ctx, accountID, mailboxID)
	if err != nil {
		return nil, err
	}
	return c.getAt(ctx, st, mb)
}

// peek returns the current snapshot of a mailbox without bringing it up
// to date, or nil.
func (c *flagCache) peek(mailboxID int64) *flagSnap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snaps[mailboxID]
}

// getAt is get for a mailbox record just read from the store.
func (c *flagCache) getAt(ctx context.Context, st Store, mb store.Mailbox) (*flagSnap, error) {
	mailboxID := mb.ID
	var err error
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
	if old == nil || len(old.rows) <= smallSnap {
		snap.rows, err = st.FlagsByUID(ctx, mb.AccountID, mailboxID, nil)
		if err != nil {
			return nil, err
		}
	} else {
		changed, err := st.ChangedSince(ctx, mb.AccountID, mailboxID, old.modseq)
		if err != nil {
			return nil, err
		}
		vanished, err := st.VanishedSince(ctx, mb.AccountID, mailboxID, old.modseq)
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

// maxAdvance bounds the snapshots that advance copies: past it, the next
// get brings a snapshot up to date only when a large set needs it.
const maxAdvance = 4096

// advance moves a mailbox's snapshot from modseq from to modseq to with
// the changes a session read or made over that span (a refresh, or its
// own write), when the snapshot is still at from. The snapshot then stays
// at the modseq of the session's view, so flagRows serves small sets from
// it too, without a store read.
func (c *flagCache) advance(mailboxID int64, from, to uint64, changed []store.MessageFlags, vanished []uint32) {
	c.mu.Lock()
	old := c.snaps[mailboxID]
	c.mu.Unlock()
	if old == nil || old.modseq != from || to <= from || len(old.rows) > maxAdvance {
		return
	}
	byUID := func(a, b store.MessageFlags) int { return cmp.Compare(a.UID, b.UID) }
	if !slices.IsSortedFunc(changed, byUID) {
		changed = slices.SortedFunc(slices.Values(changed), byUID)
	}
	snap := &flagSnap{modseq: to, rows: merge(old.rows, changed, vanished)}
	c.mu.Lock()
	if c.users[mailboxID] > 0 && c.snaps[mailboxID] == old {
		c.snaps[mailboxID] = snap
	}
	c.mu.Unlock()
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
	snap := s.srv.flags.peek(id)
	if snap == nil || snap.modseq != s.sel.modseq || s.dirty.Load() {
		// A snapshot at the view's modseq (taken at SELECT, or by
		// another session) is the store's answer already; otherwise
		// small sets are asked of the store.
		if ranges != nil && rangesCount(ranges) < minCached {
			return s.srv.store.FlagsByUID(s.ctx, s.account.ID, id, queryRanges(ranges))
		}
		var err error
		snap, err = s.srv.flags.get(s.ctx, s.srv.store, s.account.ID, id)
		if err != nil {
			return nil, err
		}
	}
	if ranges == nil {
		return snap.rows, nil
	}
	first, last := ranges[0].First, ranges[len(ranges)-1].Last
	lo := sort.Search(len(snap.rows), func(i int) bool { return snap.rows[i].UID >= first })
	hi := sort.Search(len(snap.rows), func(i int) bool { return snap.rows[i].UID > last })
	return snap.rows[lo:hi], nil
}
