package submission_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
)

// foldedField is a header field of about n bytes made of folded lines of
// 1 to long bytes: short ones are the shape that costs a signer most per
// byte.
func foldedField(rng *rand.Rand, n, long int) string {
	var b strings.Builder
	b.WriteString("X-Filler: start\r\n")
	for b.Len() < n {
		b.WriteString(" " + strings.Repeat("x", 1+rng.IntN(long)) + "\r\n")
	}
	return b.String()
}

// TestHeaderSectionBound: a header section past what the DKIM signer is
// given (dkim.MaxHeaderBytes or dkim.MaxHeaderLines; tens of MB of folded
// lines cost it quadratic time, and a message past them would go out
// unsigned) is refused 552 5.3.4 over SMTP, and nothing of it is kept or
// queued; one within both goes. The webmail's messages, which reach
// Submit through the outbox, are held to the same bound.
func TestHeaderSectionBound(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	over := foldedField(rng, dkim.MaxHeaderBytes+rng.IntN(64<<10), 70)
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "bighdr@x", over)); got != "552 5.3.4" {
		t.Errorf("header section over the bound: %s, want 552 5.3.4", got)
	}
	// 2,100 lines of a few bytes: a small header, but too many lines.
	lines := "X-Filler: start\r\n" + strings.Repeat(" x\r\n", dkim.MaxHeaderLines+100)
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "manylines@x", lines)); got != "552 5.3.4" {
		t.Errorf("header section of %d lines: %s, want 552 5.3.4", dkim.MaxHeaderLines+100, got)
	}
	// 1,500 lines of 60 to 120 bytes: under both bounds.
	var ub strings.Builder
	ub.WriteString("X-Filler: start\r\n")
	for range 1500 {
		ub.WriteString(" " + strings.Repeat("y", 60+rng.IntN(60)) + "\r\n")
	}
	under := ub.String()
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "okhdr@x", under)); got != "ok" {
		t.Errorf("header section under the bound: %s", got)
	}
	if countIn(t, srv, alice, store.Sent, "bighdr@x") != 0 || queuedFor(t, srv, "bighdr@x") != 0 ||
		countIn(t, srv, alice, store.Sent, "manylines@x") != 0 || queuedFor(t, srv, "manylines@x") != 0 {
		t.Error("a message refused for its header was kept or queued")
	}
	if countIn(t, srv, alice, store.Sent, "okhdr@x") != 1 || queuedFor(t, srv, "okhdr@x") != 1 {
		t.Error("a message under the header bound was not sent")
	}

	// The webmail's path: a held draft, submitted by the outbox.
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)
	raw := "From: Alice <" + alice + ">\r\nTo: " + outsider + "\r\n" + over + "Subject: held\r\n" +
		"Message-ID: <bigdraft@x>\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nHi there.\r\n"
	holdRaw(t, srv, acct, raw, clk.Now())
	clk.Advance(10 * time.Second)
	if n, _ := ob.SendDue(ctx); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	list, _ := srv.Store.Outbox(ctx, acct.ID)
	if len(list) != 1 || !strings.Contains(list[0].Error, "header is too big") {
		t.Errorf("outbox after a draft with a header over the bound: %+v", list)
	}
	if countIn(t, srv, alice, store.Sent, "bigdraft@x") != 0 || queuedFor(t, srv, "bigdraft@x") != 0 {
		t.Error("a webmail message refused for its header was kept or queued")
	}
}
