package submission_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
	"github.com/xtramail/xtramail/internal/testserver"
)

// senderFields returns the values of the Sender fields of a message's
// header.
func senderFields(msg []byte) []string {
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	var out []string
	for _, l := range strings.Split(string(hdr), "\r\n") {
		if name, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Sender") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// TestMultiFromGetsSender: a From of several mailboxes needs a Sender
// field (RFC 5322 3.6, 3.6.2), which was missing from what was relayed
// when the client sent none. Submission adds "Sender: <signed-in
// address>" where it adds a missing Date and Message-ID (RFC 6409 8),
// over DATA and BDAT (the From folded across chunks), so the relay and
// the Sent copy get it; a From of one mailbox (a comma inside its
// quoted name included) or a message with its own Sender is left as it
// is.
func TestMultiFromGetsSender(t *testing.T) {
	sk := startSink(t, "8BITMIME", "PIPELINING")
	srv := testserver.Start(t, testserver.Options{
		Users:     map[string]string{alice: alicePw},
		Configure: func(c *config.Config) { sk.relayTo(c) },
	})
	const two = "alice+two@example.test"
	cases := []struct {
		name, fields string
		want         []string // the Sender fields of what is sent
		bdat         bool
	}{
		{"two mailboxes", "From: " + alice + ", " + two + "\r\n", []string{alice}, false},
		{"folded", "From: Alice <" + alice + ">,\r\n Two <" + two + ">\r\n", []string{alice}, false},
		{"a group of two", "From: team: " + alice + ", " + two + ";\r\n", []string{alice}, false},
		{"folded across chunks", "From: Alice <" + alice + ">,\r\n" + strings.Repeat(" \r\n", 40) + " Two <" + two + ">\r\n", []string{alice}, true},
		{"no header after From", "", []string{alice}, true},
		{"a comma in a quoted name", "From: \"Doe, Alice\" <" + alice + ">\r\n", nil, false},
		{"one mailbox", "From: " + alice + "\r\n", nil, false},
		{"own Sender", "From: " + alice + ", " + two + "\r\nSender: " + two + "\r\n", []string{two}, false},
	}
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	raw := signedIn(t, srv, true)
	for i, tc := range cases {
		mid := fmt.Sprintf("sender%d@x", i)
		body := tc.fields + "To: " + outsider + "\r\nSubject: " + tc.name + "\r\nMessage-ID: <" + mid + ">\r\n\r\nhi\r\n"
		if tc.fields == "" {
			// The From field ends the header, and there is no body: the
			// Sender goes after it (headerCompleter.Close).
			body = "To: " + outsider + "\r\nSubject: " + tc.name + "\r\nMessage-ID: <" + mid + ">\r\nFrom: " + alice + ",\r\n " + two
		}
		if !tc.bdat {
			if got := send(c, alice, []string{outsider}, body); got != "ok" {
				t.Fatalf("%s: %s", tc.name, got)
			}
			continue
		}
		var cuts []int
		for at := 7; at < len(body); at += 9 {
			cuts = append(cuts, at)
		}
		if got := transfer(raw, "BDAT", []byte(body), cuts); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("%s: %q", tc.name, got)
		}
	}
	waitFor(t, "the relay to take every message", func() bool { return len(sk.transactions()) == len(cases) })
	relayed := map[string][]byte{}
	for _, tr := range sk.transactions() {
		relayed[messageID(tr.data)] = tr.data
	}
	sent := srv.Bodies(t, alice, store.Sent)
	for i, tc := range cases {
		mid := fmt.Sprintf("sender%d@x", i)
		for what, b := range map[string][]byte{"relayed": relayed[mid], "Sent copy": sent[mid]} {
			if b == nil {
				t.Errorf("%s: no %s", tc.name, what)
				continue
			}
			if got := senderFields(b); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s: %s has Sender fields %q, want %q:\n%s", tc.name, what, got, tc.want, b)
			}
		}
	}
}

// TestHeldMultiFromGetsSender: the webmail's held messages reach Submit
// completed as the listener's do, so one whose From names several
// mailboxes (a draft written elsewhere) gets its Sender too.
func TestHeldMultiFromGetsSender(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)
	raw := "From: " + alice + ", alice+two@example.test\r\nTo: " + outsider + "\r\nSubject: held\r\nMessage-ID: <heldsender@x>\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nhi\r\n"
	holdRaw(t, srv, acct, raw, clk.Now())
	clk.Advance(10 * time.Second)
	if n, err := ob.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("SendDue: %d %v", n, err)
	}
	sent, ok := srv.Bodies(t, alice, store.Sent)["heldsender@x"]
	if !ok {
		list, _ := srv.Store.Outbox(ctx, acct.ID)
		t.Fatalf("not sent: %+v", list)
	}
	if got := senderFields(sent); len(got) != 1 || got[0] != alice {
		t.Errorf("Sent copy's Sender fields %q, want %s:\n%s", got, alice, sent)
	}
}
