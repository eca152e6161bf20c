package retention

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// TestRollingWindow advances an injected clock day by day and checks that
// each message disappears exactly when its domain's window has passed,
// across several batches per pass.
func TestRollingWindow(t *testing.T) {
	st := sqlitetest.New(t)
	ctx := context.Background()
	st.CreateDomain(ctx, "long.test", 30)
	st.CreateDomain(ctx, "short.test", 3)
	long, _ := st.CreateAccount(ctx, "a@long.test", "")
	short, _ := st.CreateAccount(ctx, "b@short.test", "")

	start := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	// Seven messages a day for ten days to each account.
	for day := range 10 {
		for i := range 7 {
			raw := []byte(fmt.Sprintf("Subject: day %d #%d\r\nMessage-ID: <%d.%d@x>\r\n\r\nbody\r\n", day, i, day, i))
			d := store.NewDelivery(raw, start.Add(time.Duration(day)*24*time.Hour+time.Duration(i)*time.Minute))
			d.Copies = []store.Copy{{AccountID: long.ID, Mailbox: store.Inbox}, {AccountID: short.ID, Mailbox: store.Inbox}}
			if _, err := st.Deliver(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := start
	w := &Worker{Store: st, Log: slog.New(slog.DiscardHandler), Batch: 5, LogDays: 90, Now: func() time.Time { return now }}
	count := func(a store.Account) int {
		mb, err := st.Mailbox(ctx, a.ID, store.Inbox)
		if err != nil {
			t.Fatal(err)
		}
		return int(mb.Messages)
	}
	for day := 0; day <= 45; day++ {
		now = start.Add(time.Duration(day)*24*time.Hour + 12*time.Hour)
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		// At noon+12h on day D, messages of days < D-window+1 are gone
		// (each day's messages arrive from 12:00 to 12:06).
		want := func(window int) int {
			n := 0
			for md := range 10 {
				if start.Add(time.Duration(md) * 24 * time.Hour).After(now.Add(-time.Duration(window) * 24 * time.Hour)) {
					n += 7
				}
			}
			return n
		}
		if got := count(long); got != want(30) {
			t.Fatalf("day %d: 30-day account has %d messages, want %d", day, got, want(30))
		}
		if got := count(short); got != want(3) {
			t.Fatalf("day %d: 3-day account has %d messages, want %d", day, got, want(3))
		}
	}
	evs, err := st.SearchLog(ctx, store.LogQuery{Status: msglog.Purged, Limit: 1000})
	if err != nil || len(evs) != 140 {
		t.Fatalf("purged log records: %d, %v; want 140", len(evs), err)
	}
	if s, _ := st.Stats(ctx); s.Messages != 0 || s.Bytes != 0 {
		t.Fatalf("stats after everything expired: %+v", s)
	}
}
