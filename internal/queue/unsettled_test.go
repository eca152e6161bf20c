package queue

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// fullStore is a store whose settles fail while full is set, as on a
// full disk.
type fullStore struct {
	Store
	full atomic.Bool
}

func (f *fullStore) SettleQueue(ctx context.Context, settles []store.QueueSettle, events ...store.LogEvent) error {
	if f.full.Load() {
		return store.ErrStorageFull
	}
	return f.Store.SettleQueue(ctx, settles, events...)
}

func (f *fullStore) Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error) {
	if f.full.Load() {
		return nil, store.ErrStorageFull
	}
	return f.Store.Deliver(ctx, d)
}

// TestUnsettledNotSentAgain: when the store cannot record an attempt's
// outcome (a full disk), the worker keeps it and writes it at a later
// pass, and does not attempt the entry again meanwhile, even once the
// entry's lease has run out. The entry was left to its lease, so a
// message the remote server had acknowledged went out a second time 15
// minutes later; the failure notice of another went out with it.
func TestUnsettledNotSentAgain(t *testing.T) {
	s := newMX(t)
	refuseNobody(s)
	fs := &fullStore{Store: s.st}
	w := New(s.cfg, fs, nil, nil)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	enqueue(t, s.st, s.acc, t0, "m2", "nobody@example.net")
	fs.full.Store(true)
	runOnce(t, w)
	if got := s.sink.received(); len(got) != 1 {
		t.Fatalf("first attempt: %d messages at the sink, want 1", len(got))
	}
	// The disk stays full past the leases: the entries are claimed
	// again, and neither is attempted.
	for _, after := range []time.Duration{time.Minute, 16 * time.Minute, 40 * time.Minute} {
		s.clock.Set(t0.Add(after))
		runOnce(t, w)
		if got := s.sink.received(); len(got) != 1 {
			t.Fatalf("%v later, with the outcome still unrecorded: %d messages at the sink, want 1", after, len(got))
		}
	}
	if q := queued(t, s.st); len(q) != 2 {
		t.Fatalf("queue while the disk is full: %+v", q)
	}
	fs.full.Store(false)
	s.clock.Set(t0.Add(time.Hour))
	runOnce(t, w)
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue once the disk has room: %+v", q)
	}
	if got := s.sink.received(); len(got) != 1 {
		t.Fatalf("%d messages at the sink, want 1", len(got))
	}
	if d := events(t, s.st, msglog.Delivered); len(d) != 1 {
		t.Fatalf("delivered events %+v", d)
	}
	if in := storetest.Inbox(t, s.st, s.acc); len(in) != 1 || !strings.Contains(string(in[0]), "Final-Recipient: rfc822; nobody@example.net") {
		t.Fatalf("%d messages in the sender's INBOX, want one failure notice", len(in))
	}
}
