package sqlite

import (
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestCancelSendReadsLeaseOnStoreClock guards the outbox's times against
// the system clock: a held message's lease is taken on the service's
// clock (ClaimSends' now), so Undo (CancelSend) must read it on the same
// clock, the store's. It read time.Now: with the clock an hour ahead, a
// lease that had ended on it still refused the undo, and a test that
// moves the clock through a hold saw the undo fail.
func TestCancelSendReadsLeaseOnStoreClock(t *testing.T) {
	clk := clocktest.New(time.Now().Add(time.Hour).Truncate(time.Millisecond))
	s := openWith(t, t.TempDir(), Options{Clock: clk})
	defer s.Close()
	ctx := t.Context()
	a := bob(t, s)
	d := store.NewDelivery([]byte("From: bob@example.test\r\nTo: carol@far.test\r\nSubject: Held\r\n\r\nbody\r\n"), clk.Now())
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Drafts}}
	dl, err := s.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.ScheduleSend(ctx, a.ID, dl[0].MessageID, clk.Now().Add(10*time.Second), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	const lease = time.Minute
	if claimed, err := s.ClaimSends(ctx, clk.Now(), lease, 10); err != nil || len(claimed) != 1 {
		t.Fatalf("claim at the hold's end: %+v, %v; want the held message", claimed, err)
	}
	// Leased: the sender has it, Undo is too late.
	clk.Advance(lease - time.Millisecond)
	if _, err := s.CancelSend(ctx, a.ID, held.ID); err == nil {
		t.Fatal("undo 1 ms before the lease ended took the message back from the sender")
	}
	// The lease ended on the clock (the sender died): Undo takes it.
	clk.Advance(time.Millisecond)
	if _, err := s.CancelSend(ctx, a.ID, held.ID); err != nil {
		t.Errorf("undo once the lease ended on the store's clock: %v", err)
	}
}
