package imapserver

import (
	"slices"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
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
	load := func(rs []store.UIDRange) ([]store.SortRow, error) {
		var out []store.SortRow
		for _, r := range rs {
			for u := r.First; u <= r.Last; u++ {
				asked = append(asked, u)
				if live[u] {
					out = append(out, store.SortRow{UID: u, Size: int64(u) * 10, HasKeys: true})
				}
			}
		}
		return out, nil
	}
	uidsOf := func(rows []*store.SortRow) []uint32 {
		var out []uint32
		for _, r := range rows {
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
	rows, err := c.rows(key, all(1, 100), load)
	if err != nil || !slices.Equal(uidsOf(rows), all(1, 100)) || len(asked) != 100 {
		t.Fatalf("first read: %v, %v, asked %d", uidsOf(rows), err, len(asked))
	}
	asked = nil
	for u := uint32(101); u <= 110; u++ {
		live[u] = true
	}
	delete(live, 105) // expunged before the read
	rows, _ = c.rows(key, all(50, 110), load)
	want := slices.DeleteFunc(all(50, 110), func(u uint32) bool { return u == 105 })
	if !slices.Equal(uidsOf(rows), want) || !slices.Equal(asked, all(101, 110)) {
		t.Fatalf("second read: %v (want %v), asked %v", uidsOf(rows), want, asked)
	}
	// Other mailboxes push old ones out beyond the bound.
	for id := int64(2); id < 10; id++ {
		big := make([]store.SortRow, maxSortRows/4)
		for i := range big {
			big[i].UID = uint32(i + 1)
		}
		c.put(mailboxKey{id: id, uidValidity: 1}, big)
		if c.n > maxSortRows {
			t.Fatalf("cache holds %d rows, bound %d", c.n, maxSortRows)
		}
	}
	c.put(mailboxKey{id: 99, uidValidity: 1}, make([]store.SortRow, maxSortRows+1))
	if _, ok := c.m[mailboxKey{id: 99, uidValidity: 1}]; ok || c.n > maxSortRows {
		t.Fatalf("a mailbox above the bound was kept (%d rows held)", c.n)
	}
}
