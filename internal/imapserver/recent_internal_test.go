package imapserver

import (
	"slices"
	"testing"
)

// TestUIDRangesRemoveSorted: expunged UIDs leave a session's recent set.
func TestUIDRangesRemoveSorted(t *testing.T) {
	for _, tc := range []struct {
		in     uidRanges
		remove []uint32
		want   uidRanges
	}{
		{uidRanges{{First: 1, Last: 5}}, []uint32{1, 3, 5}, uidRanges{{First: 2, Last: 2}, {First: 4, Last: 4}}},
		{uidRanges{{First: 1, Last: 2}, {First: 7, Last: 9}}, []uint32{2, 6, 7, 10}, uidRanges{{First: 1, Last: 1}, {First: 8, Last: 9}}},
		{uidRanges{{First: 4, Last: 4}}, []uint32{4}, nil},
		{uidRanges{{First: 3, Last: 4}}, []uint32{1, 2}, uidRanges{{First: 3, Last: 4}}},
		{uidRanges{{First: 1<<32 - 2, Last: 1<<32 - 1}}, []uint32{1<<32 - 1}, uidRanges{{First: 1<<32 - 2, Last: 1<<32 - 2}}},
	} {
		got := slices.Clone(tc.in)
		got.removeSorted(tc.remove)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v minus %v = %v, want %v", tc.in, tc.remove, got, tc.want)
		}
	}
}
