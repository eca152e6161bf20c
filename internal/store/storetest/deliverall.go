package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testDeliverAll: several deliveries with their own bodies commit as one
// (a Sent copy keeping its Bcc header beside what is sent without it),
// and one failing delivery leaves nothing of the others.
func testDeliverAll(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "alice@example.test", "bob@example.test")
	alice, bob := accts[0], accts[1]
	withBcc := []byte("From: alice@example.test\r\nTo: bob@example.test\r\nBcc: hidden@far.example\r\nSubject: both\r\nMessage-ID: <both@example.test>\r\n\r\nhello\r\n")
	without := bytes.Replace(withBcc, []byte("Bcc: hidden@far.example\r\n"), nil, 1)
	now := time.Now()
	sent := store.NewDelivery(withBcc, now)
	sent.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	sent.Events = []store.LogEvent{{Status: msglog.Submitted, MessageID: "both@example.test", Rcpt: "x"}}
	out := store.NewDelivery(without, now)
	out.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
	out.Outbound = []store.Outbound{{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: "hidden@far.example"}}
	dl := must(s.DeliverAll(ctx, sent, out))
	if len(dl) != 2 || len(dl[0]) != 1 || len(dl[1]) != 1 {
		t.Fatalf("DeliverAll: %+v", dl)
	}
	sentMsg := must(s.Message(ctx, alice.ID, dl[0][0].MessageID))
	bobMsg := must(s.Message(ctx, bob.ID, dl[1][0].MessageID))
	if got := readBody(t, s, alice.ID, sentMsg.BodyID); !bytes.Equal(got, withBcc) {
		t.Fatalf("Sent copy %q", got)
	}
	if got := readBody(t, s, bob.ID, bobMsg.BodyID); !bytes.Equal(got, without) {
		t.Fatalf("INBOX copy %q", got)
	}
	q := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: alice.ID}))
	if len(q) != 1 || q[0].BodyID != bobMsg.BodyID || q[0].Size != int64(len(without)) {
		t.Fatalf("queue %+v, want the entry on the body without Bcc", q)
	}

	// A failure in the last delivery undoes the first: no copy, no queue
	// entry, no log record, no UID used.
	before := must(s.Mailbox(ctx, alice.ID, store.Sent))
	a := store.NewDelivery(Raw("undone", "a"), now)
	a.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent}}
	a.Events = []store.LogEvent{{Status: msglog.Submitted, MessageID: "undone@example.org"}}
	a.Outbound = []store.Outbound{{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: "r@far.example"}}
	b := store.NewDelivery(Raw("undone2", "b"), now)
	b.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: "No such folder"}}
	if _, err := s.DeliverAll(ctx, a, b); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeliverAll with a missing mailbox: %v, want ErrNotFound", err)
	}
	after := must(s.Mailbox(ctx, alice.ID, store.Sent))
	if after.Messages != before.Messages || after.UIDNext != before.UIDNext {
		t.Fatalf("Sent before %+v, after a failed DeliverAll %+v", before, after)
	}
	if q := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: alice.ID})); len(q) != 1 {
		t.Fatalf("queue after a failed DeliverAll: %+v", q)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "undone@example.org"})); len(ev) != 0 {
		t.Fatalf("log after a failed DeliverAll: %+v", ev)
	}
	// An invalid delivery (no body) is refused before anything is written.
	if _, err := s.DeliverAll(ctx, a, &store.Delivery{Copies: a.Copies}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("DeliverAll with an invalid delivery: %v, want ErrInvalid", err)
	}

	// The duplicate rule holds across the deliveries of one call.
	x := store.NewDelivery(Raw("twice", "same"), now)
	x.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
	y := store.NewDelivery(Raw("twice", "same"), now)
	y.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
	dl = must(s.DeliverAll(ctx, x, y))
	if dl[0][0].Duplicate || !dl[1][0].Duplicate || dl[1][0].UID != dl[0][0].UID {
		t.Fatalf("same message twice in one DeliverAll: %+v", dl)
	}
}
