package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestPurgeRecordsItsOwnTime: what a purge records (its log events)
// carries the time Purge is given, as its cutoff does, not the wall
// clock: a purge run for another moment (a test's clock, a replay) says
// so consistently.
func TestPurgeRecordsItsOwnTime(t *testing.T) {
	s := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if _, err := s.CreateDomain(ctx, "example.test", 30); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := store.NewDelivery([]byte("From: a@far.test\r\nSubject: old\r\nMessage-ID: <old@far.test>\r\n\r\nx\r\n"), at.Add(-40*24*time.Hour))
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
	if _, err := s.DeliverAll(ctx, d); err != nil {
		t.Fatal(err)
	}
	res, err := s.Purge(ctx, at, time.Time{}, 100)
	if err != nil || res.Messages != 1 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	evs, err := s.SearchLog(ctx, store.LogQuery{Status: msglog.Purged})
	if err != nil || len(evs) != 1 {
		t.Fatalf("purged records: %+v %v", evs, err)
	}
	if !evs[0].Time.Equal(at) {
		t.Errorf("purged record at %v, want the purge's time %v", evs[0].Time.UTC(), at)
	}
}

// TestPurgeCountsFromArrival: the window counts from when a message
// arrived, not from its INTERNALDATE. A message its client dated 90 days
// back (an APPEND of old mail from the primary) was purged at the next
// pass, minutes after the user put it there. Now it stays its whole
// window; a copy of it keeps its arrival (copying does not renew a
// window); a message the service dated itself (capture, submission: it
// arrived at its INTERNALDATE, as rows stored before arrivals were kept
// count) goes by its INTERNALDATE; and kept candidates, which the purge
// takes by INTERNALDATE, never use up a pass's batch.
func TestPurgeCountsFromArrival(t *testing.T) {
	const day = 24 * time.Hour
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	s := openWith(t, t.TempDir(), Options{Clock: clk})
	defer s.Close()
	ctx := t.Context()
	if _, err := s.CreateDomain(ctx, "example.test", 30); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(subject string, byClient bool) store.Delivered {
		d := store.NewDelivery(fmt.Appendf(nil, "Subject: %s\r\nMessage-ID: <%s@far.test>\r\n\r\nx\r\n", subject, subject), t0.Add(-90*day))
		d.DatedByClient = byClient
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		dl, err := s.Deliver(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return dl[0]
	}
	dragged := deliver("dragged", true)
	deliver("captured", false)
	subjects := func() []string {
		var out []string
		for _, name := range []string{store.Inbox, "Archive"} {
			mb, err := s.Mailbox(ctx, a.ID, name)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := s.Messages(ctx, a.ID, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				out = append(out, name+":"+m.Subject)
			}
		}
		return out
	}

	clk.Advance(10 * day)
	archive, err := s.CreateMailbox(ctx, a.ID, "Archive", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, a.ID, dragged.MailboxID, []uint32{dragged.UID}, archive.ID); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at   time.Duration // after t0
		want []string
	}{
		// A batch of one: the dragged message, first by INTERNALDATE and
		// kept, does not stop the purge of the one after it.
		{10 * day, []string{"INBOX:dragged", "Archive:dragged"}},
		{30*day - time.Minute, []string{"INBOX:dragged", "Archive:dragged"}},
		{30*day + time.Minute, nil},
	} {
		clk.Set(t0.Add(step.at))
		for {
			r, err := s.Purge(ctx, clk.Now(), time.Time{}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Messages == 0 {
				break
			}
		}
		if got := subjects(); !slices.Equal(got, step.want) {
			t.Errorf("%v after arrival: %q, want %q", step.at, got, step.want)
		}
	}
}
