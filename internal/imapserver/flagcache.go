package imapserver

import (
	"cmp"
	"context"
	"fmt"
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
	snaps map[mailboxKey]*flagSnap
	users map[mailboxKey]int // sessions with the mailbox selected
	idle  []mailboxKey       // mailboxes with a snapshot and no session, oldest first
}

// mailboxKey names a mailbox in the server's memory: every per-mailbox
// state (flag snapshots; \Recent claims live in the store) is kept under its id and its
// UIDVALIDITY, so that it can never be served for another mailbox, even
// from a backend that gave an id twice (issue 11: a deleted mailbox's
// snapshot was served to the next mailbox, of another account, that got
// its id). The store promises both are never reused; the pair guards
// against a backend that breaks the promise, at no cost.
type mailboxKey struct {
	id          int64
	uidValidity uint32
}

func keyOf(mb store.Mailbox) mailboxKey { return mailboxKey{mb.ID, mb.UIDValidity} }

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
	return &flagCache{snaps: make(map[mailboxKey]*flagSnap), users: make(map[mailboxKey]int)}
}

func (c *flagCache) acquire(key mailboxKey) {
	c.mu.Lock()
	if c.users[key]++; c.users[key] == 1 {
		c.idle = slices.DeleteFunc(c.idle, func(k mailboxKey) bool { return k == key })
	}
	c.mu.Unlock()
}

func (c *flagCache) release(key mailboxKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users[key]--; c.users[key] > 0 {
		return
	}
	delete(c.users, key)
	if c.snaps[key] == nil {
		return
	}
	c.idle = append(c.idle, key)
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

// forget drops what is kept about a mailbox that was deleted or renamed:
// the next session to select it (under its new name) starts afresh.
// Sessions that still have it selected keep their count.
func (c *flagCache) forget(key mailboxKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.snaps, key)
	c.idle = slices.DeleteFunc(c.idle, func(k mailboxKey) bool { return k == key })
}

// get returns an up-to-date snapshot of a mailbox of the account. It must
// not be modified. A mailbox that no longer exists, or that is not the
// one key names, is store.ErrNotFound.
func (c *flagCache) get(ctx context.Context, st Store, accountID int64, key mailboxKey) (*flagSnap, error) {
	mb, err := st.MailboxByID(ctx, accountID, key.id)
	if err != nil {
		return nil, err
	}
	if keyOf(mb) != key {
		return nil, fmt.Errorf("mailbox %d has UIDVALIDITY %d, not %d: %w", key.id, mb.UIDValidity, key.uidValidity, store.ErrNotFound)
	}
	return c.getAt(ctx, st, mb)
}

// peek returns the current snapshot of a mailbox without bringing it up
// to date, or nil.
func (c *flagCache) peek(key mailboxKey) *flagSnap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snaps[key]
}

// getAt is get for a mailbox record just read from the store.
func (c *flagCache) getAt(ctx context.Context, st Store, mb store.Mailbox) (*flagSnap, error) {
	mailboxID, key := mb.ID, keyOf(mb)
	var err error
	c.mu.Lock()
	old := c.snaps[key]
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
	if c.users[key] > 0 {
		if cur := c.snaps[key]; cur == nil || cur.modseq <= snap.modseq {
			c.snaps[key] = snap
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
func (c *flagCache) advance(key mailboxKey, from, to uint64, changed []store.MessageFlags, vanished []uint32) {
	c.mu.Lock()
	old := c.snaps[key]
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
	if c.users[key] > 0 && c.snaps[key] == old {
		c.snaps[key] = snap
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
//
// A session never reads flags older than its own last write (issue 11
// part 2): the shared snapshot serves only when it is at the view's
// modseq, the change feed has nothing pending, and that modseq is not
// below the session's last write; anything else is read from the store,
// which has every acknowledged write.
func (s *session) flagRows(ranges []store.UIDRange) ([]store.MessageFlags, error) {
	sel := s.sel
	key := keyOf(sel.mb)
	snap := s.srv.flags.peek(key)
	if snap == nil || snap.modseq != sel.modseq || snap.modseq < sel.written || s.dirty.Load() {
		// A snapshot at the view's modseq (taken at SELECT, or by
		// another session) is the store's answer already; otherwise
		// small sets are asked of the store.
		if ranges != nil && rangesCount(ranges) < minCached {
			return s.srv.store.FlagsByUID(s.ctx, s.account.ID, sel.mb.ID, queryRanges(ranges))
		}
		var err error
		snap, err = s.srv.flags.get(s.ctx, s.srv.store, s.account.ID, key)
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
