package submission_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
)

// TestRecipientCaseSentOn: a remote recipient's local part goes to the
// relay in the case the client gave it (RFC 5321 2.4: only the
// destination host may read it case-insensitively); its domain, and a
// protected colleague's address, are ours to compare in lower case: the
// colleague gets the INBOX copy, and the message log finds every
// recipient by its lower-case address.
func TestRecipientCaseSentOn(t *testing.T) {
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	mixed, quoted, colleague := "MiXeD.Case@Remote.TEST", `"Jo.Smith"@far.test`, strings.ToUpper(bob[:1])+bob[1:]
	if got := send(c, alice, []string{mixed, quoted, colleague}, msg(alice, mixed+", "+quoted+", "+colleague, "case@x", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	// The colleague is relayed to as well, for their primary mailbox.
	want := []string{"MiXeD.Case@remote.test", "Jo.Smith@far.test", colleague}
	waitFor(t, "the relay to take the message", func() bool {
		n := 0
		for _, tx := range sk.transactions() {
			n += len(tx.rcpts)
		}
		return n >= len(want)
	})
	var got []string
	for _, tx := range sk.transactions() {
		got = append(got, tx.rcpts...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the relay got RCPT %q, want %q", got, want)
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["case@x"]; !ok {
		t.Errorf("the colleague written %s has no INBOX copy", colleague)
	}
	// The sender's delivery status has each recipient once, from the log
	// and the queue together.
	st, err := srv.Store.DeliveryStatus(context.Background(), srv.Account(t, alice).ID, "case@x")
	if err != nil || len(st) != 3 {
		t.Errorf("delivery status: %+v %v, want 3 recipients", st, err)
	}
	for _, a := range []string{"mixed.case@remote.test", "jo.smith@far.test"} {
		evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{Address: a})
		if err != nil || len(evs) == 0 {
			t.Errorf("log search for %s: %v %v", a, evs, err)
		}
	}
}

// TestRecipientCaseFromWebmail: the webmail's messages (a held draft,
// submitted by the outbox, its recipients read from the header) are sent
// on with each local part as written too, the same address written twice
// in two cases once.
func TestRecipientCaseFromWebmail(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct := srv.Account(t, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)
	raw := "From: Alice <" + alice + ">\r\nTo: MiXeD.Case@Remote.TEST, mixed.case@remote.test\r\nBcc: Bcc.UPPER@far.test\r\n" +
		"Subject: held\r\nMessage-ID: <webcase@x>\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nHi there.\r\n"
	holdRaw(t, srv, acct, raw, clk.Now())
	clk.Advance(10 * time.Second)
	if n, err := ob.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("sent %d: %v", n, err)
	}
	var got []string
	for _, e := range queued(t, srv, alice) {
		got = append(got, e.Rcpt)
	}
	slices.Sort(got)
	if want := []string{"Bcc.UPPER@far.test", "MiXeD.Case@remote.test"}; !slices.Equal(got, want) {
		t.Errorf("queued for %q, want %q", got, want)
	}
}
