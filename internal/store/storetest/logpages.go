package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testLogPagedByCursor: paging the message log newest first, each page
// starting before the last record of the one before (BeforeTime and
// BeforeID, the console's and the API's cursor), lists every record
// exactly once and in the order of one unpaged search, however many
// records share a millisecond and whatever the page size; with an
// address, a status or a time range as well, the pages are those of the
// filtered search.
func testLogPagedByCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 13))
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	addrs := []string{"a@x.test", "b@x.test", "c@y.test"}
	kinds := []store.LogStatus{msglog.Submitted, msglog.Stored, msglog.Queued, msglog.Delivered}
	var events []store.LogEvent
	for i := range 120 {
		// Few distinct milliseconds, so that most records tie on time
		// and only their ids order them; not in time order.
		events = append(events, store.LogEvent{
			Time:   base.Add(time.Duration(rng.IntN(15)) * time.Millisecond),
			Status: kinds[rng.IntN(len(kinds))], MessageID: fmt.Sprintf("%d@x", i/4),
			MailFrom: addrs[rng.IntN(len(addrs))], Rcpt: addrs[rng.IntN(len(addrs))], DomainID: 1,
		})
	}
	for len(events) > 0 { // in several writes, as records come
		n := min(len(events), 1+rng.IntN(10))
		must(0, s.AppendLog(ctx, events[:n]...))
		events = events[n:]
	}
	ids := func(evs []store.LogEvent) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	for _, q := range []store.LogQuery{
		{},
		{Address: "a@x.test"},
		{Status: msglog.Queued},
		{Since: base.Add(3 * time.Millisecond), Until: base.Add(11 * time.Millisecond)},
		{DomainIDs: []int64{1}},
	} {
		all := q
		all.Limit = 1000
		want := ids(must(s.SearchLog(ctx, all)))
		if len(want) == 0 {
			t.Fatalf("SearchLog(%+v) found nothing", all)
		}
		for _, size := range []int{1, 2, 7, 50} {
			var got []int64
			page := q
			page.Limit = size
			for range len(want) + 1 {
				evs := must(s.SearchLog(ctx, page))
				got = append(got, ids(evs)...)
				if len(evs) < size {
					break
				}
				last := evs[len(evs)-1]
				page.BeforeTime, page.BeforeID = last.Time, last.ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v in pages of %d: %v, want %v", q, size, got, want)
			}
		}
	}
}
