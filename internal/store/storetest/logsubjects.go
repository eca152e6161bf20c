package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testLogSubjects: a search by subject word lists every record of every
// message with that subject exactly once, however many records share it
// (a backend may index each distinct subject once); after the retention
// purge of the message log, a purged subject is found no more, a subject
// a kept record still has is found, and a purged subject used again is
// found again.
func testLogSubjects(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	recent := old.AddDate(0, 1, 0)
	ev := func(at time.Time, kind store.LogStatus, id, subject string) store.LogEvent {
		return store.LogEvent{Time: at, Status: kind, MessageID: id, Subject: subject, MailFrom: "a@x.test", Rcpt: "b@y.test", DomainID: 1}
	}
	var events []store.LogEvent
	for i, k := range []store.LogStatus{msglog.Submitted, msglog.Stored, msglog.Queued} {
		events = append(events, ev(old.Add(time.Duration(i)*time.Second), k, "one@x", "Harbour crane inspection"))
	}
	must(0, s.AppendLog(ctx, events...))
	// The same message's last record comes in a write of its own.
	must(0, s.AppendLog(ctx, ev(old.Add(time.Minute), msglog.Delivered, "one@x", "Harbour crane inspection")))
	must(0, s.AppendLog(ctx, ev(old, msglog.Captured, "two@x", "Crane hire invoice"),
		ev(recent, msglog.Captured, "three@x", "Crane hire invoice"), ev(recent, msglog.Captured, "four@x", "")))

	count := func(q string) map[string]int {
		t.Helper()
		got := map[string]int{}
		ids := map[int64]bool{}
		for _, e := range must(s.SearchLog(ctx, store.LogQuery{Subject: q})) {
			if ids[e.ID] {
				t.Errorf("SearchLog(%q) lists record %d twice", q, e.ID)
			}
			ids[e.ID] = true
			got[e.MessageID+" "+string(e.Status)]++
		}
		return got
	}
	check := func(q string, want ...string) {
		t.Helper()
		got := count(q)
		if len(got) != len(want) {
			t.Errorf("SearchLog(%q) = %v, want %v", q, got, want)
			return
		}
		for _, w := range want {
			if got[w] != 1 {
				t.Errorf("SearchLog(%q) = %v, want %v once each", q, got, want)
				return
			}
		}
	}
	check("harbour", "one@x submitted", "one@x stored", "one@x queued", "one@x delivered")
	check("INSPECTION crane", "one@x submitted", "one@x stored", "one@x queued", "one@x delivered")
	check("crane", "one@x submitted", "one@x stored", "one@x queued", "one@x delivered", "two@x captured", "three@x captured")
	check("invoice", "two@x captured", "three@x captured")
	check("invoice", "two@x captured", "three@x captured")
	check("harbour invoice")

	res := must(s.Purge(ctx, recent, old.AddDate(0, 0, 1), 100))
	if res.Events != 5 {
		t.Errorf("purge removed %d records, want 5", res.Events)
	}
	check("harbour")
	check("crane", "three@x captured")
	check("invoice", "three@x captured")
	must(0, s.AppendLog(ctx, ev(recent, msglog.Stored, "five@x", "Harbour crane inspection")))
	check("harbour", "five@x stored")
}
