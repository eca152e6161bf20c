package submission_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
)

// TestReturnPathNotSent: Return-Path fields a client wrote (forged trace
// information; RFC 5321 4.4: the final delivery MTA adds the field, an
// originating system SHOULD NOT send it) do not reach the relay or a
// colleague's INBOX; the Sent copy keeps what the user sent, as it keeps
// a Bcc. Other trace fields are left as they are.
func TestReturnPathNotSent(t *testing.T) {
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	trace := "Return-Path: <ceo@example.test>\r\nReceived: from trusted.internal by mx.far.test; Mon, 7 Dec 2026 09:00:00 +0000\r\n" +
		"return-path : <other@example.test>\r\n"
	body := "Return-Path: <first@example.test>\r\n" + msg(alice, outsider+", "+bob, "rp@x", trace)
	if got := send(c, alice, []string{outsider, bob}, body); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	waitFor(t, "the relay to take the message", func() bool { return sk.count(outsider) >= 1 })
	for _, tx := range sk.transactions() {
		hdr := strings.ToLower(headerOf(tx.data))
		if strings.Contains(hdr, "return-path") {
			t.Errorf("the relay got a client's Return-Path:\n%s", headerOf(tx.data))
		}
		if !strings.Contains(hdr, "received: from trusted.internal") {
			t.Errorf("the client's Received field was not left as it was:\n%s", headerOf(tx.data))
		}
	}
	if b := srv.Bodies(t, bob, store.Inbox)["rp@x"]; strings.Contains(strings.ToLower(headerOf(b)), "return-path") {
		t.Errorf("the colleague's INBOX copy has the client's Return-Path:\n%s", headerOf(b))
	}
	if b := srv.Bodies(t, alice, store.Sent)["rp@x"]; strings.Count(strings.ToLower(headerOf(b)), "return-path") != 3 {
		t.Errorf("the Sent copy does not keep what was submitted:\n%s", headerOf(b))
	}
}
