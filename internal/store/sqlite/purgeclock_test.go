package sqlite

import (
	"context"
	"testing"
	"time"

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
