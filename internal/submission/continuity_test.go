package submission_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestContinuityOnlyDomain: a protected colleague gets the INBOX copy and
// the relay gets the message too, by default; with the domain set to
// "continuity only" the relay leg stops for that domain's recipients
// (and an unprotected address there is refused at RCPT), while other
// recipients are relayed as before. Over real SMTP, with a relay sink
// that counts.
func TestContinuityOnlyDomain(t *testing.T) {
	sk := startSink(t, "8BITMIME", "PIPELINING")
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{alice: alicePw, bob: bobPw},
		Configure: func(c *config.Config) { sk.relayTo(c) },
	})
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	drained := func() bool { return len(queued(t, srv, alice)) == 0 }

	// Default: both legs.
	if got := send(c, alice, []string{bob, outsider}, msg(alice, bob+", "+outsider, "both@x", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	waitFor(t, "the relay to take both recipients", func() bool { return sk.count(bob) == 1 && sk.count(outsider) == 1 })
	if _, ok := srv.Bodies(t, bob, store.Inbox)["both@x"]; !ok {
		t.Fatal("the colleague's INBOX copy is missing")
	}

	// Continuity only for example.test.
	setContinuityOnly(t, srv, true)
	if got := send(c, alice, []string{bob, outsider}, msg(alice, bob+", "+outsider, "only@x", "")); got != "ok" {
		t.Fatalf("send with continuity only: %s", got)
	}
	// The queue entries were made with the 250: only the outsider's.
	for _, e := range queued(t, srv, alice) {
		if e.Rcpt == bob {
			t.Errorf("queued for %s although the domain is continuity only", bob)
		}
	}
	waitFor(t, "the relay to take the outsider's second message", func() bool { return sk.count(outsider) == 2 })
	waitFor(t, "the queue to drain", drained)
	if n := sk.count(bob); n != 1 {
		t.Errorf("the relay got %d messages for %s, want 1 (none after continuity only)", n, bob)
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["only@x"]; !ok {
		t.Error("continuity only: the colleague's INBOX copy is missing")
	}
	// An address of the domain that is not protected has nowhere to go.
	if got := send(c, alice, []string{"nobody@" + srv.Domain}, msg(alice, "nobody@"+srv.Domain, "nowhere@x", "")); got != "550 5.1.1" {
		t.Errorf("unprotected address of a continuity-only domain: %s, want 550 5.1.1", got)
	}
	c.Reset()

	// Back to the default: relayed again.
	setContinuityOnly(t, srv, false)
	if got := send(c, alice, []string{bob}, msg(alice, bob, "again@x", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	waitFor(t, "the relay to take the colleague's message again", func() bool { return sk.count(bob) == 2 })
}

// setContinuityOnly sets the server's domain "continuity only" or back.
func setContinuityOnly(t *testing.T, srv *testserver.Server, on bool) {
	t.Helper()
	ctx := context.Background()
	d, err := srv.Store.Domain(ctx, srv.Domain)
	if err != nil {
		t.Fatal(err)
	}
	set := d.Settings()
	set.ContinuityOnly = on
	if err := srv.Store.SetDomainSettings(ctx, store.AllScope(), srv.Domain, set); err != nil {
		t.Fatal(err)
	}
}

// TestContinuityOnlyReplySaysDelivered: the 250 to a message says what
// became of its recipients: those of a "continuity only" domain were
// delivered to their continuity INBOX, the others queued. Before, a
// message to protected colleagues of such a domain only was answered
// "queued for 0 recipient(s)". Random recipients, with the seed logged.
func TestContinuityOnlyReplySaysDelivered(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	sk := startSink(t)
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{alice: alicePw, bob: bobPw, "dave@example.test": "dave-password"},
		Configure: func(c *config.Config) { sk.relayTo(c) },
	})
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	colleagues := []string{bob, "dave@example.test"}
	outsiders := []string{outsider, "erin@far.test", "frank@other.test"}
	// reply sends one message and returns its 250's text.
	reply := func(rcpts []string, mid string) string {
		t.Helper()
		if err := c.Mail(alice, nil); err != nil {
			t.Fatalf("MAIL: %v", err)
		}
		for _, r := range rcpts {
			if err := c.Rcpt(r, nil); err != nil {
				t.Fatalf("RCPT %s: %v", r, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("DATA: %v", err)
		}
		io.WriteString(w, msg(alice, strings.Join(rcpts, ", "), mid, ""))
		res, err := w.CloseWithResponse()
		if err != nil {
			t.Fatalf("end of DATA to %v: %v", rcpts, err)
		}
		return res.StatusText
	}
	for i := range 12 {
		only := i%2 == 0
		setContinuityOnly(t, srv, only)
		local := colleagues[:rng.IntN(len(colleagues)+1)]
		far := outsiders[:rng.IntN(len(outsiders)+1)]
		switch {
		case i == 0: // the probe's case: colleagues only
			local, far = colleagues, nil
		case i == 2:
			local, far = colleagues[:1], outsiders[:1]
		case len(local)+len(far) == 0:
			far = outsiders[:1]
		}
		rcpts := append(slices.Clone(local), far...)
		rng.Shuffle(len(rcpts), func(i, j int) { rcpts[i], rcpts[j] = rcpts[j], rcpts[i] })
		want := fmt.Sprintf("queued for %d recipient(s)", len(rcpts))
		if only {
			switch {
			case len(far) == 0:
				want = fmt.Sprintf("delivered to %d continuity mailbox(es)", len(local))
			case len(local) > 0:
				want = fmt.Sprintf("delivered to %d continuity mailbox(es), queued for %d recipient(s)", len(local), len(far))
			default:
				want = fmt.Sprintf("queued for %d recipient(s)", len(far))
			}
		}
		got := reply(rcpts, fmt.Sprintf("reply%d@x", i))
		if strings.TrimPrefix(got, "2.0.0 ") != want {
			t.Errorf("continuity only %v, to %v: 250 %q, want %q", only, rcpts, got, want)
		}
	}
}
