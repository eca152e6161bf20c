package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testAnnounced: whatever a read saw, the feed has told once
// WaitAnnounced returns (store.Announcements). Writers deliver and change
// flags while a reader reads the mailbox's HIGHESTMODSEQ, waits, and
// checks that a subscriber was told of a change at that modseq or later:
// a read may see a commit before its subscribers hear of it, never after
// WaitAnnounced.
func testAnnounced(t *testing.T, s store.Store) {
	ctx := context.Background()
	bob := setup(t, s, "bob@example.test")[0]
	inbox := must(s.Mailbox(ctx, bob.ID, store.Inbox))
	var told atomic.Uint64 // highest modseq announced for INBOX
	told.Store(inbox.HighestModSeq)
	defer s.Subscribe(bob.ID, func(c store.Change) {
		if c.MailboxID != inbox.ID {
			return
		}
		for {
			old := told.Load()
			if old >= c.ModSeq || told.CompareAndSwap(old, c.ModSeq) {
				return
			}
		}
	})()
	if err := s.WaitAnnounced(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dl, err := s.Deliver(ctx, func() *store.Delivery {
					d := store.NewDelivery(Raw("x", "y"), time.Now())
					d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
					return d
				}())
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == w%2 {
					if _, _, err := s.StoreFlags(ctx, bob.ID, inbox.ID, []uint32{dl[0].UID}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	reads := 0
	for time.Now().Before(deadline) && !t.Failed() {
		mb := must(s.MailboxByID(ctx, bob.ID, inbox.ID))
		if err := s.WaitAnnounced(ctx); err != nil {
			t.Fatal(err)
		}
		if got := told.Load(); got < mb.HighestModSeq {
			t.Fatalf("a read saw HIGHESTMODSEQ %d; after WaitAnnounced the feed had told only %d", mb.HighestModSeq, got)
		}
		reads++
	}
	halt()
	if reads == 0 {
		t.Fatal("no read ran")
	}
	// A context that ends stops the wait, or it had nothing to wait for.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WaitAnnounced(cctx); err != nil && err != context.Canceled {
		t.Errorf("WaitAnnounced with an ended context: %v", err)
	}
}
