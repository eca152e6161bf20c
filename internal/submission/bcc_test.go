package submission_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
)

// removeOnDeliver is the real store, with an account removed (as an
// administrator may at any moment) just before Submit's write reaches it.
type removeOnDeliver struct {
	store.Store
	t      *testing.T
	remove string
	calls  [][]*store.Delivery
}

func (r *removeOnDeliver) DeliverAll(ctx context.Context, ds ...*store.Delivery) ([][]store.Delivered, error) {
	r.calls = append(r.calls, ds)
	if r.remove != "" {
		if err := r.Store.DeleteAccount(ctx, r.remove); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.Store.DeliverAll(ctx, ds...)
}

// TestBccSentCopyAndSendingOneTransaction guards issue 13 part 3 with
// part 4: a message with Bcc has two bodies (the Sent copy keeps the
// header, what is sent does not), written in one store transaction. When
// the part without Bcc cannot be stored (a protected recipient removed
// meanwhile), no Sent copy is left behind either: the client, told no
// 250, sends again. Before, the Sent copy was committed first, alone.
func TestBccSentCopyAndSendingOneTransaction(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	a, err := srv.Store.Account(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	body := msg(alice, outsider, "bcc-tx@x", "Bcc: "+bob+", hidden@far.test\r\n")
	rcpts := []string{outsider, bob, "hidden@far.test"}

	st := &removeOnDeliver{Store: srv.Store, t: t, remove: bob}
	sub := submission.NewSubmitter(st, submission.Limits{}, nil, nil)
	_, err = sub.Submit(ctx, submission.Message{Account: a, MailFrom: alice, Rcpts: rcpts, Body: []byte(body)})
	if err == nil {
		t.Fatal("Submit succeeded although a recipient's mailbox went away")
	}
	if len(st.calls) != 1 || len(st.calls[0]) != 2 {
		t.Fatalf("store calls %d (deliveries %v), want one DeliverAll of 2", len(st.calls), st.calls)
	}
	if got := srv.Bodies(t, alice, store.Sent); len(got) != 0 {
		t.Fatalf("a Sent copy was kept for a message not sent: %d", len(got))
	}
	if q := queued(t, srv, alice); len(q) != 0 {
		t.Fatalf("%d queue entries for a message not sent", len(q))
	}

	// With nothing going away, one call stores both bodies.
	ok := &removeOnDeliver{Store: srv.Store, t: t}
	sub = submission.NewSubmitter(ok, submission.Limits{}, nil, func() time.Time { return time.Now() })
	body = msg(alice, outsider, "bcc-tx2@x", "Bcc: hidden@far.test\r\n")
	if _, err := sub.Submit(ctx, submission.Message{Account: a, MailFrom: alice, Rcpts: []string{outsider, "hidden@far.test"}, Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	if len(ok.calls) != 1 || len(ok.calls[0]) != 2 {
		t.Fatalf("store calls %d, want one DeliverAll of 2", len(ok.calls))
	}
	if sent := string(srv.Bodies(t, alice, store.Sent)["bcc-tx2@x"]); !strings.Contains(sent, "Bcc: hidden@far.test\r\n") {
		t.Fatalf("Sent copy:\n%s", sent)
	}
	if q := queued(t, srv, alice); len(q) != 2 {
		t.Fatalf("%d queue entries, want 2", len(q))
	}
}
