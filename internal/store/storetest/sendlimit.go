package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testSendLimit: a delivery carrying a SendLimit is counted in the store;
// concurrent deliveries past the limit get exactly Max stored, the rest a
// *SendLimitError naming when to retry; a failed delivery counts nothing;
// the window slides; accounts are counted apart.
func testSendLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "alice@example.test", "bob@example.test")
	alice, bob := accts[0], accts[1]
	const max = 5
	base := time.Now().Truncate(time.Millisecond)
	send := func(acct store.Account, at time.Time, id string, mailbox string) error {
		d := store.NewDelivery(Raw(id, "limit"), at)
		d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: mailbox}}
		d.Limit = &store.SendLimit{AccountID: acct.ID, Max: max, Window: time.Hour}
		_, err := s.Deliver(ctx, d)
		return err
	}

	// 8 racing deliveries, each at its own millisecond: exactly max pass.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = send(alice, base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("race%d", i), store.Sent)
		})
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		var le *store.SendLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &le) && errors.Is(err, store.ErrSendLimit):
			refused++
			if le.RetryAt.Before(base.Add(time.Hour)) || le.RetryAt.After(base.Add(time.Hour+8*time.Millisecond)) {
				t.Errorf("RetryAt %s, want an hour after the oldest send (%s)", le.RetryAt, base)
			}
		default:
			t.Fatalf("racing delivery: %v", err)
		}
	}
	if ok != max || refused != 8-max {
		t.Fatalf("8 racing deliveries: %d stored, %d refused; want %d and %d", ok, refused, max, 8-max)
	}
	if mb := must(s.Mailbox(ctx, alice.ID, store.Sent)); mb.Messages != max {
		t.Fatalf("Sent holds %d messages, want %d (a refused delivery stores nothing)", mb.Messages, max)
	}
	n, oldest, err := s.SendsSince(ctx, alice.ID, base.Add(-time.Minute))
	if err != nil || n != max || oldest.Before(base) || oldest.After(base.Add(8*time.Millisecond)) {
		t.Fatalf("SendsSince = %d, %s, %v; want %d from %s", n, oldest, err, max, base)
	}
	if err := store.CheckSendLimit(ctx, s, store.SendLimit{AccountID: alice.ID, Max: max, Window: time.Hour}, base.Add(time.Minute)); !errors.Is(err, store.ErrSendLimit) {
		t.Fatalf("CheckSendLimit at the limit: %v", err)
	}

	// Another account has its own count.
	if err := send(bob, base, "bob1", store.Sent); err != nil {
		t.Fatalf("bob's first send: %v", err)
	}
	// A delivery that fails for another reason counts nothing.
	if err := send(bob, base, "bob2", "No such folder"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delivery to a missing mailbox: %v", err)
	}
	if n, _, _ := s.SendsSince(ctx, bob.ID, base.Add(-time.Minute)); n != 1 {
		t.Fatalf("bob's sends %d, want 1 (the failed one not counted)", n)
	}

	// The window slides: an hour after the oldest sends, they have left
	// it and as many new ones fit, no more.
	later := base.Add(time.Hour + 8*time.Millisecond)
	if err := store.CheckSendLimit(ctx, s, store.SendLimit{AccountID: alice.ID, Max: max, Window: time.Hour}, later); err != nil {
		t.Fatalf("CheckSendLimit after the window moved: %v", err)
	}
	passed := 0
	for i := range 8 {
		if err := send(alice, later.Add(time.Duration(i)*time.Microsecond), fmt.Sprintf("later%d", i), store.Sent); err == nil {
			passed++
		} else if !errors.Is(err, store.ErrSendLimit) {
			t.Fatal(err)
		}
	}
	if passed != max {
		t.Fatalf("%d sends passed after the window slid, want %d", passed, max)
	}
	if n, _, _ := s.SendsSince(ctx, alice.ID, later.Add(-time.Hour)); n != max {
		t.Fatalf("after the slide the window holds %d sends, want %d", n, max)
	}
	if err := send(alice, later, "bad", store.Sent); err == nil {
		t.Fatal("a send over the limit after the slide was stored")
	}
	// An invalid limit is refused, not ignored.
	d := store.NewDelivery(Raw("inval", "x"), base)
	d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Sent}}
	d.Limit = &store.SendLimit{AccountID: bob.ID}
	if _, err := s.Deliver(ctx, d); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("zero limit: %v, want ErrInvalid", err)
	}
}

// testSendsPruned: the records of sends leave the store with the
// retention purge once their window has passed, those of an account that
// stopped sending included (its own next send, which used to delete
// them, may never come); records still in their window stay, and the
// purge deletes at most its limit at a time.
func testSendsPruned(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "alice@example.test", "bob@example.test")
	alice, bob := accts[0], accts[1]
	base := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	send := func(acct store.Account, at time.Time, id string) {
		t.Helper()
		d := store.NewDelivery(Raw(id, "pruned"), at)
		d.Copies = []store.Copy{{AccountID: acct.ID, Mailbox: store.Sent}}
		d.Limit = &store.SendLimit{AccountID: acct.ID, Max: 100, Window: time.Hour}
		must(s.Deliver(ctx, d))
	}
	for i := range 3 {
		send(alice, base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("a%d", i))
	}
	send(bob, base.Add(50*time.Minute), "b0")
	count := func(acct store.Account) int {
		t.Helper()
		n, _, err := s.SendsSince(ctx, acct.ID, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r := must(s.Purge(ctx, base.Add(30*time.Minute), time.Time{}, 100)); r.Sends != 0 || count(alice) != 3 {
		t.Fatalf("purge within the window: pruned %d, alice keeps %d; want 0 and 3", r.Sends, count(alice))
	}
	// Alice stopped sending; an hour and a bit after her sends, they go,
	// two at a time; Bob's, 50 minutes younger, stay.
	now := base.Add(time.Hour + 3*time.Minute)
	if r := must(s.Purge(ctx, now, time.Time{}, 2)); r.Sends != 2 {
		t.Fatalf("first purge pruned %d sends, want 2 (its limit)", r.Sends)
	}
	if r := must(s.Purge(ctx, now, time.Time{}, 2)); r.Sends != 1 {
		t.Fatalf("second purge pruned %d sends, want 1", r.Sends)
	}
	if a, b := count(alice), count(bob); a != 0 || b != 1 {
		t.Fatalf("after the purge alice has %d sends, bob %d; want 0 and 1", a, b)
	}
	if r := must(s.Purge(ctx, base.Add(2*time.Hour), time.Time{}, 100)); r.Sends != 1 || count(bob) != 0 {
		t.Fatalf("purge after bob's window: pruned %d, bob keeps %d", r.Sends, count(bob))
	}
}
