package submission

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// countingStore counts the recipient look-ups Submit and RCPT make.
type countingStore struct {
	Store
	accounts, domains atomic.Int64
}

func (c *countingStore) Account(ctx context.Context, address string) (store.Account, error) {
	c.accounts.Add(1)
	return c.Store.Account(ctx, address)
}

func (c *countingStore) Domain(ctx context.Context, name string) (store.Domain, error) {
	c.domains.Add(1)
	return c.Store.Domain(ctx, name)
}

// exampleStore is a store with the domain example.test and the accounts
// alice@ (returned) and bob@ there.
func exampleStore(t *testing.T) (*sqlite.Store, store.Account) {
	t.Helper()
	st := sqlitetest.New(t)
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	alice, err := st.CreateAccount(ctx, "alice@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, "bob@example.test", ""); err != nil {
		t.Fatal(err)
	}
	return st, alice
}

// TestRecipientsLookedUpOncePerMessage guards the cost of routing
// (issue 13, speed): a recipient outside our domains costs one domain
// look-up and no account look-up; a route decided at RCPT is handed to
// Submit with the message and not looked up again; a protected
// colleague is still found (INBOX copy and relay), with or without a
// route from RCPT.
func TestRecipientsLookedUpOncePerMessage(t *testing.T) {
	st, alice := exampleStore(t)
	ctx := context.Background()
	cs := &countingStore{Store: st}
	sub := NewSubmitter(cs, Limits{}, nil, nil)
	lookups := func() (int64, int64) { return cs.accounts.Swap(0), cs.domains.Swap(0) }
	msg := func(id string) []byte {
		return []byte("From: alice@example.test\r\nTo: x\r\nSubject: s\r\nMessage-ID: <" + id + "@x>\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nhi\r\n")
	}

	// RCPT: a remote recipient, then a colleague.
	remote, err := sub.checkRoute(ctx, "carol@remote.test")
	if err != nil || !remote.relay || remote.local != nil {
		t.Fatalf("remote route %+v %v", remote, err)
	}
	if a, d := lookups(); a != 0 || d != 1 {
		t.Errorf("remote recipient at RCPT: %d account and %d domain look-ups, want 0 and 1", a, d)
	}
	local, err := sub.checkRoute(ctx, "bob@example.test")
	if err != nil || !local.relay || local.local == nil || local.local.Address != "bob@example.test" {
		t.Fatalf("colleague's route %+v %v", local, err)
	}
	lookups()

	// Submit with the routes from RCPT: no look-up again.
	rcpts := []string{"carol@remote.test", "bob@example.test"}
	res, err := sub.Submit(ctx, Message{Account: alice, MailFrom: alice.Address, Rcpts: rcpts, Body: msg("a"),
		routes: map[string]route{"carol@remote.test": remote, "bob@example.test": local}})
	if err != nil || res.Queued != 2 || res.Local != 1 {
		t.Fatalf("submit with routes: %+v %v", res, err)
	}
	if a, d := lookups(); a != 0 || d != 0 {
		t.Errorf("submit with the RCPT routes: %d account and %d domain look-ups, want none", a, d)
	}
	// Without (the webmail's way): our recipient's domain and account
	// once; the remote domain is known not to be ours since RCPT.
	res, err = sub.Submit(ctx, Message{Account: alice, MailFrom: alice.Address, Rcpts: rcpts, Body: msg("b")})
	if err != nil || res.Queued != 2 || res.Local != 1 {
		t.Fatalf("submit without routes: %+v %v", res, err)
	}
	if a, d := lookups(); a != 1 || d != 1 {
		t.Errorf("submit without routes: %d account and %d domain look-ups, want 1 and 1", a, d)
	}
}

// TestForeignDomainRemembered: a recipient domain that is not ours is
// looked up once per foreignTTL, not at every RCPT; one of ours is looked
// up every time, so that a change of its settings counts at once; a
// domain added is routed as ours once foreignTTL has passed.
func TestForeignDomainRemembered(t *testing.T) {
	st, _ := exampleStore(t)
	ctx := context.Background()
	cs := &countingStore{Store: st}
	sub := NewSubmitter(cs, Limits{}, nil, nil)
	clock := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	sub.foreign.now = func() time.Time { return clock }

	for i := range 3 {
		if rt, err := sub.checkRoute(ctx, fmt.Sprintf("r%d@remote.test", i)); err != nil || !rt.relay || rt.local != nil {
			t.Fatalf("remote route %+v %v", rt, err)
		}
		if _, err := sub.checkRoute(ctx, "bob@example.test"); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.domains.Swap(0); n != 1+3 {
		t.Errorf("3 messages to a remote and a local recipient: %d domain look-ups, want 1 for the remote domain and 3 for ours", n)
	}

	// remote.test becomes ours, continuity only: a recipient there
	// without an account is refused, once the answer has expired.
	if _, err := st.CreateDomain(ctx, "remote.test", 0); err != nil {
		t.Fatal(err)
	}
	d, err := st.Domain(ctx, "remote.test")
	if err != nil {
		t.Fatal(err)
	}
	set := d.Settings()
	set.ContinuityOnly = true
	if err := st.SetDomainSettings(ctx, store.AllScope(), "remote.test", set); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(foreignTTL - time.Millisecond)
	if _, err := sub.checkRoute(ctx, "r9@remote.test"); err != nil {
		t.Fatalf("within the TTL: %v, want the remembered answer (relay)", err)
	}
	clock = clock.Add(time.Millisecond)
	if _, err := sub.checkRoute(ctx, "r9@remote.test"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("after the TTL: %v, want ErrNoRoute (the domain is ours, continuity only)", err)
	}
}

// TestRecipientsOnce: a recipient given twice (in any case) is queued
// once, among a few recipients and among many.
func TestRecipientsOnce(t *testing.T) {
	st, alice := exampleStore(t)
	ctx := context.Background()
	sub := NewSubmitter(st, Limits{}, nil, nil)
	for _, n := range []int{3, 40} {
		var rcpts []string
		for i := range n {
			rcpts = append(rcpts, fmt.Sprintf("r%d@remote.test", i))
		}
		rcpts = append(rcpts, "R0@remote.test", "r1@REMOTE.test", rcpts[n-1])
		body := fmt.Sprintf("From: alice@example.test\r\nSubject: s\r\nMessage-ID: <%d@x>\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nhi\r\n", n)
		res, err := sub.Submit(ctx, Message{Account: alice, MailFrom: alice.Address, Rcpts: rcpts, Body: []byte(body)})
		if err != nil || res.Queued != n {
			t.Errorf("%d recipients and 3 of them again: queued %d (%v), want %d", n, res.Queued, err, n)
		}
	}
}
