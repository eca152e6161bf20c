package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// testSubscriptions: subscriptions are a list of names per account, apart
// from the mailboxes (RFC 9051 section 6.3.7): the default folders start
// subscribed, CREATE subscribes nothing, DELETE keeps the name, RENAME
// carries it along, and one account's list is never another's.
func testSubscriptions(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	bob, eve := accts[0].ID, accts[1].ID
	subs := func(a int64) []string { t.Helper(); return must(s.Subscriptions(ctx, a)) }
	want := []string{store.Drafts, store.Inbox, store.Sent, store.Trash}
	slices.Sort(want)
	if got := subs(bob); !slices.Equal(got, want) {
		t.Fatalf("new account's subscriptions %v, want %v", got, want)
	}
	must(s.CreateMailbox(ctx, bob, "Work/Reports", ""))
	if got := subs(bob); !slices.Equal(got, want) {
		t.Fatalf("CREATE subscribed: %v", got)
	}
	if mb := must(s.Mailbox(ctx, bob, "Work/Reports")); mb.Subscribed {
		t.Fatal("created mailbox shows as subscribed")
	}
	must(0, s.SetSubscription(ctx, bob, "Work/Reports", true))
	must(0, s.SetSubscription(ctx, bob, "Work/Reports", true)) // again: no error
	if mb := must(s.Mailbox(ctx, bob, "Work/Reports")); !mb.Subscribed {
		t.Fatal("subscribed mailbox shows as not subscribed")
	}
	// Renaming the parent carries the child's subscription.
	must(0, s.RenameMailbox(ctx, bob, "Work", "Job"))
	if got := subs(bob); !slices.Contains(got, "Job/Reports") || slices.Contains(got, "Work/Reports") {
		t.Fatalf("after RENAME %v", got)
	}
	// DELETE keeps the subscription; the name can be unsubscribed after.
	must(0, s.DeleteMailbox(ctx, bob, "Job/Reports"))
	if got := subs(bob); !slices.Contains(got, "Job/Reports") {
		t.Fatalf("DELETE removed the subscription: %v", got)
	}
	// A name without a mailbox can be subscribed too.
	must(0, s.SetSubscription(ctx, bob, "Future", true))
	// Another account's list is its own.
	if got := subs(eve); !slices.Equal(got, want) {
		t.Fatalf("eve's subscriptions %v", got)
	}
	if err := s.SetSubscription(ctx, eve, "Future", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("eve unsubscribing bob's name: %v", err)
	}
	must(0, s.SetSubscription(ctx, bob, "Job/Reports", false))
	if err := s.SetSubscription(ctx, bob, "Job/Reports", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unsubscribing a name not subscribed: %v", err)
	}
	if err := s.SetSubscription(ctx, bob, "bad//name", true); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("subscribing an invalid name: %v", err)
	}
	// SetSubscribed by id, scoped by account.
	trash := must(s.Mailbox(ctx, bob, store.Trash))
	if err := s.SetSubscribed(ctx, eve, trash.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetSubscribed of bob's mailbox as eve: %v", err)
	}
	must(0, s.SetSubscribed(ctx, bob, trash.ID, false))
	if got := subs(bob); slices.Contains(got, store.Trash) || !slices.Contains(got, "Future") {
		t.Fatalf("after unsubscribing Trash by id %v", got)
	}
	if got := subs(eve); !slices.Contains(got, store.Trash) {
		t.Fatalf("eve's Trash unsubscribed by bob: %v", got)
	}
	must(0, s.DeleteAccount(ctx, "bob@example.test"))
	if got := subs(bob); len(got) != 0 {
		t.Fatalf("subscriptions of a deleted account %v", got)
	}
}
