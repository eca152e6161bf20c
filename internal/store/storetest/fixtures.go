package storetest

import (
	"context"
	"math/rand/v2"

	"github.com/xtramail/xtramail/internal/store"
)

// expungeFifth expunges about a fifth of the messages ids of one mailbox,
// chosen by r, so that UID lists have gaps.
func expungeFifth(s store.Store, r *rand.Rand, accountID, mailboxID int64, ids []int64) {
	var gone []int64
	for _, id := range ids {
		if r.IntN(5) == 0 {
			gone = append(gone, id)
		}
	}
	must(0, s.Expunge(context.Background(), accountID, mailboxID, gone))
}

// scatteredRanges returns ascending, disjoint UID ranges from one of the
// first few UIDs up to about last: mostly single UIDs, one in five a run
// of up to 12, with gaps between them.
func scatteredRanges(r *rand.Rand, last uint32) []store.UIDRange {
	var rs []store.UIDRange
	u := uint32(1 + r.IntN(4))
	for u <= last {
		n := uint32(0)
		if r.IntN(5) == 0 {
			n = uint32(r.IntN(12))
		}
		rs = append(rs, store.UIDRange{First: u, Last: u + n})
		u += n + 2 + uint32(r.IntN(6))
	}
	return rs
}
