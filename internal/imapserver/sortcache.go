package imapserver

import (
	"sync"

	"github.com/xtramail/xtramail/internal/store"
)

// maxSortRows bounds the rows the sort cache holds across mailboxes
// (about 250 bytes each).
const maxSortRows = 300_000

// sortCache keeps, per mailbox, the sort rows (store.SortRow) SORT and
// THREAD have read, so that sorting a large mailbox again reads only
// the messages that arrived since. A row never changes: a UID is never
// given twice in a mailbox of one UIDVALIDITY, and what a row holds
// (arrival, size, Message-ID, the body's keys) is fixed at delivery, so
// entries need no invalidation; rows of expunged messages are simply
// never asked for again. Entries are replaced, never changed in place,
// so a reader may keep using the slice it got.
type sortCache struct {
	mu sync.Mutex
	n  int // rows held
	m  map[mailboxKey][]store.SortRow
}

func newSortCache() *sortCache { return &sortCache{m: make(map[mailboxKey][]store.SortRow)} }

// rows returns the rows of uids (ascending) in order, loading those not
// held with load (given the ranges they span, it may return more). A UID
// that load does not return (expunged meanwhile) is left out.
func (c *sortCache) rows(key mailboxKey, uids []uint32, load func([]store.UIDRange) ([]store.SortRow, error)) ([]*store.SortRow, error) {
	c.mu.Lock()
	held := c.m[key]
	c.mu.Unlock()
	var missing uidView
	j := 0
	for _, u := range uids {
		for j < len(held) && held[j].UID < u {
			j++
		}
		if j == len(held) || held[j].UID != u {
			missing.push(u)
		}
	}
	if missing.count() > 0 {
		got, err := load(missing.ranges)
		if err != nil {
			return nil, err
		}
		held = mergeRows(held, got, &missing)
		c.put(key, held)
	}
	out := make([]*store.SortRow, 0, len(uids))
	j = 0
	for _, u := range uids {
		for j < len(held) && held[j].UID < u {
			j++
		}
		if j < len(held) && held[j].UID == u {
			out = append(out, &held[j])
		}
	}
	return out, nil
}

// mergeRows returns a new slice with the rows of held and those of got
// that want holds, in UID order.
func mergeRows(held, got []store.SortRow, want *uidView) []store.SortRow {
	out := make([]store.SortRow, 0, len(held)+int(want.count()))
	i := 0
	for k := range got {
		if !want.contains(got[k].UID) {
			continue
		}
		for i < len(held) && held[i].UID < got[k].UID {
			out = append(out, held[i])
			i++
		}
		if i < len(held) && held[i].UID == got[k].UID {
			i++ // both: keep the newer read
		}
		out = append(out, got[k])
	}
	return append(out, held[i:]...)
}

// put stores a mailbox's rows, evicting other mailboxes' rows while the
// cache holds more than maxSortRows. A mailbox bigger than the bound on
// its own is not kept.
func (c *sortCache) put(key mailboxKey, rows []store.SortRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n -= len(c.m[key])
	delete(c.m, key)
	if len(rows) > maxSortRows {
		return
	}
	for k, r := range c.m {
		if c.n+len(rows) <= maxSortRows {
			break
		}
		c.n -= len(r)
		delete(c.m, k)
	}
	c.m[key] = rows
	c.n += len(rows)
}
