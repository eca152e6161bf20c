package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// TestExpiryNoticeSaysItGaveUp: an entry that only ever got 451 fails
// when its lifetime (random, whole days or hours, the seed logged) runs
// out; the failure notice's text says the service kept retrying for that
// long since the message was queued and gave up, and that the reply
// quoted was the last answer, rather than only marking a temporary
// error failed. The machine-readable part stays failed, 5.4.7 (RFC 3463:
// delivery time expired).
func TestExpiryNoticeSaysItGaveUp(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	lifetime, words := time.Duration(1+rng.IntN(9))*24*time.Hour, "days"
	if rng.IntN(2) == 0 {
		lifetime, words = time.Duration(2+rng.IntN(20))*time.Hour, "hours"
	}
	want := fmt.Sprintf("%d %s", int(lifetime/map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour}[words]), words)

	st, acc := newStore(t)
	sk := startSinkWith(t, nil, false, nil)
	sk.set(func() {
		sk.rcptHook = func(rcpt string) error {
			if strings.HasPrefix(rcpt, "nobody@") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox temporarily unavailable"}
		}
	})
	c := clocktest.New(t0)
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Lifetime: lifetime, DelayNotice: 1000 * time.Hour, Now: c.Now, Rand: func() float64 { return 0.5 }}, st, nil, nil)
	enqueue(t, st, acc, t0, "m1", "slow@example.net")
	enqueue(t, st, acc, t0, "m2", "nobody@example.net")
	for i := 0; i < 1000; i++ {
		runOnce(t, w)
		q := queued(t, st)
		if len(q) == 0 {
			break
		}
		c.Set(q[0].NextAttempt)
	}
	in := storetest.Inbox(t, st, acc)
	if len(in) != 2 {
		t.Fatalf("%d notices, want a failure for m2 and one at expiry for m1", len(in))
	}
	expired, refused := in[1], in[0]
	if err := contains(expired, "Action: failed", "Status: 5.4.7", "Diagnostic-Code: smtp; 451 4.3.0"); err != nil {
		t.Fatalf("expiry notice %v:\n%s", err, expired)
	}
	text := queuetest.NoticeText(t, expired)
	for _, s := range []string{
		"kept retrying for " + want + ", since " + t0.Format(time.RFC1123Z) + ", and has given up",
		"failed only temporarily each time",
		"<slow@example.net> (failed, gave up): last answer: ",
		"451 4.3.0 mailbox temporarily unavailable",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("the expiry notice's text lacks %q:\n%s", s, text)
		}
	}
	// A refusal is told as before: nothing about retrying.
	if text := queuetest.NoticeText(t, refused); strings.Contains(text, "gave up") || !strings.Contains(text, "<nobody@example.net> (failed): ") {
		t.Errorf("the refusal's text:\n%s", text)
	}
}

// TestDelayNoticeForContinuityColleague: the delay notice about the copy
// for a protected colleague's primary mailbox (the entry made with their
// continuity INBOX copy, store.Outbound.Continuity) says that the message
// is in their continuity mailbox and only that copy is delayed; another
// recipient's delay in the same notice is told as before.
func TestDelayNoticeForContinuityColleague(t *testing.T) {
	_, w, st, acc, c := dsnRelay(t, false)
	d := store.NewDelivery(rawMessage("d1", "subject d1", "slow@example.org", "slow@far.example"), t0)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"slow@example.org", "slow@far.example"}, d.Info, d.Size, t0)
	d.Outbound[0].Continuity = true
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	for now := t0; now.Before(t0.Add(5 * time.Hour)); now = now.Add(30 * time.Minute) {
		c.Set(now)
		runOnce(t, w)
	}
	in := storetest.Inbox(t, st, acc)
	if len(in) != 1 {
		t.Fatalf("%d notices, want one delay notice", len(in))
	}
	text := queuetest.NoticeText(t, in[0])
	for _, s := range []string{
		"delivered to the continuity mailbox of the recipients below",
		"<slow@example.org> (continuity mailbox: delivered; primary mailbox: delayed): ",
		"<slow@far.example> (delayed): ",
		"will be retried until",
	} {
		if !strings.Contains(strings.ToLower(text), strings.ToLower(s)) {
			t.Errorf("the delay notice's text lacks %q:\n%s", s, text)
		}
	}
	if err := contains(in[0], "Subject: Delayed Mail", "Final-Recipient: rfc822; slow@example.org\r\nAction: delayed"); err != nil {
		t.Errorf("delay notice %v:\n%s", err, in[0])
	}
}
