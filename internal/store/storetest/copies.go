package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMessageCopies: a message's copies by Message-ID, live and deleted,
// across accounts, and nothing outside the scope.
func testMessageCopies(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "bob@example.test")
	alice, bob := accs[0], accs[1]
	raw := Raw("copies", "hello")
	d := deliver(t, s, raw, time.Now(), store.Copy{AccountID: alice.ID, Mailbox: store.Inbox}, store.Copy{AccountID: bob.ID, Mailbox: store.Inbox})
	deliver(t, s, Raw("other", "x"), time.Now(), store.Copy{AccountID: alice.ID, Mailbox: store.Inbox})
	if err := s.Expunge(ctx, alice.ID, d[0].MailboxID, []int64{d[0].MessageID}); err != nil {
		t.Fatal(err)
	}
	got := must(s.MessageCopies(ctx, store.AllScope(), "copies@example.org", 0))
	want := []store.MessageCopy{
		{AccountID: alice.ID, Address: alice.Address, ID: d[0].MessageID, Mailbox: store.Inbox, Deleted: true},
		{AccountID: bob.ID, Address: bob.Address, ID: d[1].MessageID, Mailbox: store.Inbox},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("copies %+v, want %+v", got, want)
	}
	if got := must(s.MessageCopies(ctx, store.AllScope(), "copies@example.org", 1)); len(got) != 1 {
		t.Fatalf("limit 1: %+v", got)
	}
	if got := must(s.MessageCopies(ctx, store.CustomerScope(1<<40), "copies@example.org", 0)); len(got) != 0 {
		t.Fatalf("another customer's scope sees %+v", got)
	}
	if got := must(s.MessageCopies(ctx, store.AllScope(), "", 0)); len(got) != 0 {
		t.Fatalf("empty Message-ID: %+v", got)
	}
}
