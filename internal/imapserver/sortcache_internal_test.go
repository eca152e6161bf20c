package imapserver

import (
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// TestSortCacheLoadsOnlyMissingRows guards SORT's cost on a large mailbox
// that grows: a second sort reads only the UIDs the cache lacks, a UID the
// store no longer returns is left out, and the cache stays within its
// bound.
func TestSortCacheLoadsOnlyMissingRows(t *testing.T) {
	c := newSortCache()
	key := mailboxKey{id: 1, uidValidity: 7}
	live := map[uint32]bool{}
	for u := uint32(1); u <= 100; u++ {
		live[u] = true
	}
	var asked []uint32
	load := func(rs []store.UIDRange) ([]thread.Msg, error) {
		var out []thread.Msg
		for _, r := range rs {
			for u := r.First; u <= r.Last; u++ {
				asked = append(asked, u)
				if live[u] {
					out = append(out, thread.Msg{UID: u, Size: int64(u) * 10})
				}
			}
		}
		return out, nil
	}
	uidsOf := func(e *sortEntry, idx []int32) []uint32 {
		var out []uint32
		for _, i := range idx {
			if i < 0 {
				continue
			}
			r := &e.msgs[i]
			if r.Size != int64(r.UID)*10 {
				t.Fatalf("row %d carries size %d", r.UID, r.Size)
			}
			out = append(out, r.UID)
		}
		return out
	}
	all := func(lo, hi uint32) []uint32 {
		var out []uint32
		for u := lo; u <= hi; u++ {
			out = append(out, u)
		}
		return out
	}
	e, idx, err := c.rows(key, all(1, 100), load)
	if err != nil || !slices.Equal(uidsOf(e, idx), all(1, 100)) || len(asked) != 100 {
		t.Fatalf("first read: %v, %v, asked %d", uidsOf(e, idx), err, len(asked))
	}
	asked = nil
	for u := uint32(101); u <= 110; u++ {
		live[u] = true
	}
	delete(live, 105) // expunged before the read
	e, idx, _ = c.rows(key, all(50, 110), load)
	want := slices.DeleteFunc(all(50, 110), func(u uint32) bool { return u == 105 })
	if !slices.Equal(uidsOf(e, idx), want) || !slices.Equal(asked, all(101, 110)) {
		t.Fatalf("second read: %v (want %v), asked %v", uidsOf(e, idx), want, asked)
	}
	// Other mailboxes push old ones out beyond the bound.
	for id := int64(2); id < 10; id++ {
		big := make([]thread.Msg, maxSortRows/4)
		for i := range big {
			big[i].UID = uint32(i + 1)
		}
		c.put(mailboxKey{id: id, uidValidity: 1}, &sortEntry{msgs: big})
		if c.n > maxSortRows {
			t.Fatalf("cache holds %d rows, bound %d", c.n, maxSortRows)
		}
	}
	c.put(mailboxKey{id: 99, uidValidity: 1}, &sortEntry{msgs: make([]thread.Msg, maxSortRows+1)})
	if _, ok := c.m[mailboxKey{id: 99, uidValidity: 1}]; ok || c.n > maxSortRows {
		t.Fatalf("a mailbox above the bound was kept (%d rows held)", c.n)
	}
}

// TestSortCacheExtendsOrders guards the incremental sort order: once a
// mailbox has been sorted, new messages are merged into the kept order
// (not sorted again from scratch), which must equal a fresh sort, and an
// order over a mailbox that lost or gained messages in the middle is
// computed again.
func TestSortCacheExtendsOrders(t *testing.T) {
	c := newSortCache()
	key := mailboxKey{id: 1, uidValidity: 1}
	msg := func(u uint32) thread.Msg {
		return thread.Msg{UID: u, Size: int64((u * 7919) % 13), From: string(rune('a' + u%5))}
	}
	load := func(rs []store.UIDRange) ([]thread.Msg, error) {
		var out []thread.Msg
		for _, r := range rs {
			for u := r.First; u <= r.Last; u++ {
				if u%10 != 3 { // never delivered
					out = append(out, msg(u))
				}
			}
		}
		return out, nil
	}
	crit := []thread.Criterion{{Key: thread.Size, Reverse: true}, {Key: thread.From}}
	want := func(e *sortEntry) []uint32 {
		ms := slices.Clone(e.msgs)
		thread.Sort(ms, crit)
		var out []uint32
		for _, m := range ms {
			out = append(out, m.UID)
		}
		return out
	}
	got := func(e *sortEntry) []uint32 {
		var out []uint32
		for _, i := range e.order(crit) {
			out = append(out, e.msgs[i].UID)
		}
		return out
	}
	span := func(lo, hi uint32) []uint32 {
		var out []uint32
		for u := lo; u <= hi; u++ {
			out = append(out, u)
		}
		return out
	}
	e, _, _ := c.rows(key, span(1, 200), load)
	if g, w := got(e), want(e); !slices.Equal(g, w) {
		t.Fatalf("first order %v, want %v", g, w)
	}
	// New mail: the order is carried into the new entry, extended.
	e2, _, _ := c.rows(key, span(1, 260), load)
	if e2 == e || e2.orders[critKey(crit)] == nil {
		t.Fatal("the kept order was not carried over to the grown entry")
	}
	if g, w := got(e2), want(e2); !slices.Equal(g, w) {
		t.Fatalf("extended order %v, want %v", g, w)
	}
	// A range below the held messages: computed again.
	c2 := newSortCache()
	e3, _, _ := c2.rows(key, span(100, 200), load)
	got(e3)
	e4, _, _ := c2.rows(key, span(1, 200), load)
	if e4.orders != nil {
		t.Fatal("an order was carried over an entry that grew below its messages")
	}
	if g, w := got(e4), want(e4); !slices.Equal(g, w) {
		t.Fatalf("order after growth below %v, want %v", g, w)
	}
}

// TestSplitSpanCoversTheSpan guards the parallel first read of a large
// mailbox: its parts cover the span exactly, in order, without overlap.
func TestSplitSpanCoversTheSpan(t *testing.T) {
	for _, tc := range []struct {
		q []store.UIDRange
		n int
	}{
		{[]store.UIDRange{{First: 1, Last: 100_000}}, 100_000},
		{[]store.UIDRange{{First: 7, Last: 4_000_000_000}}, 100_000},
		{[]store.UIDRange{{First: 1, Last: 4_294_967_295}}, 90_000},
		{[]store.UIDRange{{First: 5, Last: 50_005}}, 50_001},
		{[]store.UIDRange{{First: 1, Last: 10}}, 10},
		{[]store.UIDRange{{First: 1, Last: 10}, {First: 20, Last: 100_000}}, 99_991},
	} {
		parts := splitSpan(tc.q, tc.n)
		if len(tc.q) > 1 || tc.n < 2*splitMin || len(parts) == 1 && runtime.GOMAXPROCS(0) < 2 {
			if len(parts) != 1 || !slices.Equal(parts[0], tc.q) {
				t.Errorf("%v: split into %v", tc.q, parts)
			}
			continue
		}
		if len(parts) < 2 {
			t.Errorf("%v of %d messages not split", tc.q, tc.n)
		}
		next := uint64(tc.q[0].First)
		for _, p := range parts {
			if len(p) != 1 || uint64(p[0].First) != next || p[0].Last < p[0].First {
				t.Fatalf("%v: parts %v", tc.q, parts)
			}
			next = uint64(p[0].Last) + 1
		}
		if next != uint64(tc.q[0].Last)+1 {
			t.Errorf("%v: parts %v end at %d", tc.q, parts, next-1)
		}
	}
}

// TestKeepBounded: the kept orders and thread results of an entry never
// pass their limit, and what was just kept is always there.
func TestKeepBounded(t *testing.T) {
	var m map[string]int
	for i := range 10 {
		k := strconv.Itoa(i)
		m = keepBounded(m, 3, k, i)
		if len(m) > 3 {
			t.Fatalf("after %d kept: %d entries, want at most 3", i+1, len(m))
		}
		if m[k] != i {
			t.Fatalf("after keeping %s: %v, want it there with %d", k, m, i)
		}
	}
	if len(m) != 3 {
		t.Errorf("%d entries, want 3", len(m))
	}
	// Keeping a key again replaces its value.
	for k := range m {
		m = keepBounded(m, 4, k, -1)
		if len(m) != 3 || m[k] != -1 {
			t.Errorf("keeping %s again: %v", k, m)
		}
		break
	}
}
