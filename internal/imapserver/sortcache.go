package imapserver

import (
	"slices"
	"strconv"
	"sync"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// maxSortRows bounds the messages the sort cache holds across mailboxes
// (about 200 bytes each, plus 4 bytes per kept order).
const maxSortRows = 300_000

// Per mailbox entry, at most this many sort orders and thread results
// are kept (Roundcube asks for one or two orders of a mailbox).
const (
	maxOrders  = 8
	maxThreads = 4
)

// sortCache keeps, per mailbox, what SORT and THREAD have read of its
// messages (a thread.Msg each: the store's sort row, store.SortRow), the
// sort orders computed over them and the last thread results, so that
// sorting a large mailbox again reads only the messages that arrived
// since and sorts only those (issue 11 part 7).
//
// A message's row never changes: a UID is never given twice in a
// mailbox of one UIDVALIDITY, and what a row holds (arrival, size,
// Message-ID, the body's keys) is fixed at delivery, so entries need no
// invalidation; rows of expunged messages are never asked for again and
// are left out of every answer by the caller's hits. Entries are replaced
// when they grow, never changed in place, so a reader may keep using the
// entry it got.
type sortCache struct {
	mu sync.Mutex
	n  int // rows held
	m  map[mailboxKey]*sortEntry
}

// sortEntry is one mailbox's cached messages, in ascending UID order, with
// the orders and thread results computed over them.
type sortEntry struct {
	msgs []thread.Msg // fixed once the entry is published

	mu      sync.Mutex
	orders  map[string]*sortOrder
	threads map[threadKey]*threadResult
}

// sortOrder is the order of every message of an entry by some criteria:
// indices into the entry's msgs.
type sortOrder struct {
	crit []thread.Criterion
	idx  []int32
}

// threadKey names a thread result: the algorithm and whether it numbers
// by UID or by sequence number.
type threadKey struct {
	algo string
	uid  bool
}

// threadResult is a THREAD answer and the messages it was computed on
// (with their numbers): it answers again while these are the same.
type threadResult struct {
	hits []sortHit
	out  []byte
}

func newSortCache() *sortCache { return &sortCache{m: make(map[mailboxKey]*sortEntry)} }

// rows returns the mailbox's entry holding the messages of uids
// (ascending), loading those not held with load (given the ranges they
// span, it may return more), and for each UID its index in the entry's
// msgs, or -1 for a UID that load does not return (expunged meanwhile).
func (c *sortCache) rows(key mailboxKey, uids []uint32, load func([]store.UIDRange) ([]thread.Msg, error)) (*sortEntry, []int32, error) {
	c.mu.Lock()
	e := c.m[key]
	c.mu.Unlock()
	if e == nil {
		e = &sortEntry{}
	}
	var missing uidView
	j := 0
	held := e.msgs
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
			return nil, nil, err
		}
		merged, appended := mergeMsgs(held, got, &missing)
		ne := &sortEntry{msgs: merged}
		if appended {
			// Messages that arrived since: the orders kept are
			// extended rather than computed again.
			ne.orders = e.extendOrders(merged, len(held))
		}
		c.put(key, ne)
		e = ne
	}
	idx := make([]int32, len(uids))
	j = 0
	held = e.msgs
	for i, u := range uids {
		for j < len(held) && held[j].UID < u {
			j++
		}
		idx[i] = -1
		if j < len(held) && held[j].UID == u {
			idx[i] = int32(j)
		}
	}
	return e, idx, nil
}

// mergeMsgs returns a new slice with the messages of held and those of
// got that want holds, in UID order, and whether all of those came after
// held's last.
func mergeMsgs(held, got []thread.Msg, want *uidView) ([]thread.Msg, bool) {
	if len(held) == 0 && uint32(len(got)) == want.count() {
		// A first read of exactly what was asked (SORT of ALL after a
		// restart): no copy of 100,000 messages.
		return got, true
	}
	out := make([]thread.Msg, 0, len(held)+int(want.count()))
	appended := true
	i := 0
	for k := range got {
		if !want.contains(got[k].UID) {
			continue
		}
		if len(held) > 0 && got[k].UID <= held[len(held)-1].UID {
			appended = false
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
	return append(out, held[i:]...), appended
}

// extendOrders returns e's orders extended to msgs, which are e's
// messages (its first n) followed by new ones: the new messages are
// sorted and merged in, linear in the old ones.
func (e *sortEntry) extendOrders(msgs []thread.Msg, n int) map[string]*sortOrder {
	e.mu.Lock()
	old := make([]*sortOrder, 0, len(e.orders))
	for _, o := range e.orders {
		old = append(old, o)
	}
	e.mu.Unlock()
	if len(old) == 0 {
		return nil
	}
	out := make(map[string]*sortOrder, len(old))
	for _, o := range old {
		added := make([]int32, len(msgs)-n)
		for i := range added {
			added[i] = int32(n + i)
		}
		thread.Order(msgs, added, o.crit)
		out[critKey(o.crit)] = &sortOrder{crit: o.crit, idx: thread.Merge(msgs, o.idx, added, o.crit)}
	}
	return out
}

// order returns the indices of all of e's messages sorted by crit,
// computed once per entry and criteria.
func (e *sortEntry) order(crit []thread.Criterion) []int32 {
	k := critKey(crit)
	e.mu.Lock()
	o := e.orders[k]
	e.mu.Unlock()
	if o != nil {
		return o.idx
	}
	idx := make([]int32, len(e.msgs))
	for i := range idx {
		idx[i] = int32(i)
	}
	thread.Order(e.msgs, idx, crit)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.orders = keepBounded(e.orders, maxOrders, k, &sortOrder{crit: slices.Clone(crit), idx: idx})
	return idx
}

// thread returns the kept answer of THREAD by k over hits, or nil.
func (e *sortEntry) thread(k threadKey, hits []sortHit) []byte {
	e.mu.Lock()
	r := e.threads[k]
	e.mu.Unlock()
	if r == nil || len(r.hits) != len(hits) {
		return nil
	}
	for i := range hits {
		if hits[i].uid != r.hits[i].uid || hits[i].seq != r.hits[i].seq {
			return nil
		}
	}
	return r.out
}

// keepThread keeps a THREAD answer over hits.
func (e *sortEntry) keepThread(k threadKey, hits []sortHit, out []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.threads = keepBounded(e.threads, maxThreads, k, &threadResult{hits: slices.Clone(hits), out: out})
}

// keepBounded puts v at k in m (made when nil) and returns m; a full m,
// holding limit entries, first drops one, whichever the map yields first:
// a client rarely asks for more than one or two, so which goes matters
// little.
func keepBounded[K comparable, V any](m map[K]V, limit int, k K, v V) map[K]V {
	if m == nil {
		m = make(map[K]V)
	}
	if len(m) >= limit {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = v
	return m
}

// critKey names a list of criteria.
func critKey(crit []thread.Criterion) string {
	b := make([]byte, 0, 3*len(crit))
	for _, c := range crit {
		if c.Reverse {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(c.Key), 10)
		b = append(b, ' ')
	}
	return string(b)
}

// put stores a mailbox's entry, evicting other mailboxes' entries while
// the cache holds more than maxSortRows. A mailbox bigger than the bound
// on its own is not kept.
func (c *sortCache) put(key mailboxKey, e *sortEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[key]; old != nil {
		c.n -= len(old.msgs)
	}
	delete(c.m, key)
	if len(e.msgs) > maxSortRows {
		return
	}
	for k, r := range c.m {
		if c.n+len(e.msgs) <= maxSortRows {
			break
		}
		c.n -= len(r.msgs)
		delete(c.m, k)
	}
	c.m[key] = e
	c.n += len(e.msgs)
}
