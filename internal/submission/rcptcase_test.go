package submission_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
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
