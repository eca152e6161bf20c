package submission_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestRevokedSignInEndsSessions: after "xtramail user disable", "user
// passwd" or "user remove" (the CLI is another process: the store is
// changed, the server not told), a session signed in before sends
// nothing more. Its next MAIL, and the DATA of a transaction begun before
// the change, are answered 530 5.7.0, and the connection is closed, as
// IMAP ends its sessions. Before the fix both were answered 250 and the
// messages relayed.
func TestRevokedSignInEndsSessions(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	hash := srv.Account(t, alice).PasswordHash
	changes := []struct {
		name         string
		change, undo func() error
	}{
		{"disable",
			func() error { return srv.Store.SetEnabled(ctx, alice, false) },
			func() error { return srv.Store.SetEnabled(ctx, alice, true) }},
		{"passwd",
			func() error { return srv.Store.SetPassword(ctx, alice, hash+"-changed") },
			func() error { return srv.Store.SetPassword(ctx, alice, hash) }},
		{"remove",
			func() error { return srv.Store.DeleteAccount(ctx, alice) },
			nil},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			idle, busy := authedClient(t, srv), authedClient(t, srv)
			// busy is mid-transaction when the account changes.
			if err := busy.Mail(alice, nil); err != nil {
				t.Fatalf("MAIL before the change: %v", err)
			}
			if err := busy.Rcpt(outsider, nil); err != nil {
				t.Fatalf("RCPT before the change: %v", err)
			}
			if err := ch.change(); err != nil {
				t.Fatal(err)
			}

			if got := code(idle.Mail(alice, nil)); got != "530 5.7.0" {
				t.Errorf("MAIL after %s: %s, want 530 5.7.0", ch.name, got)
			}
			assertHungUp(t, idle, "the idle session")

			w, err := busy.Data()
			if err != nil {
				t.Fatalf("DATA after %s: %v (the refusal belongs after the message)", ch.name, err)
			}
			io.WriteString(w, msg(alice, outsider, "revoked-"+ch.name+"@x", ""))
			if got := code(w.Close()); got != "530 5.7.0" {
				t.Errorf("end of DATA after %s: %s, want 530 5.7.0", ch.name, got)
			}
			assertHungUp(t, busy, "the session mid-transaction")

			if ch.undo == nil {
				return // removed: nothing of the account is left to look at
			}
			if err := ch.undo(); err != nil {
				t.Fatal(err)
			}
			for _, e := range queued(t, srv, alice) {
				if e.MessageID == "revoked-"+ch.name+"@x" {
					t.Errorf("queued after %s: %+v", ch.name, e)
				}
			}
			if _, ok := srv.Bodies(t, alice, store.Sent)["revoked-"+ch.name+"@x"]; ok {
				t.Errorf("Sent copy kept after %s", ch.name)
			}
			// A new sign-in with what is valid now works as before.
			if got := send(authedClient(t, srv), alice, []string{outsider}, msg(alice, outsider, "after-"+ch.name+"@x", "")); got != "ok" {
				t.Errorf("send from a new session after undoing %s: %s", ch.name, got)
			}
		})
	}
}

// authedClient returns a 587 session signed in as alice.
func authedClient(t *testing.T, srv *testserver.Server) *smtp.Client {
	t.Helper()
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	return c
}

// assertHungUp checks that the server closed c: the next command gets
// no answer.
func assertHungUp(t *testing.T, c *smtp.Client, which string) {
	t.Helper()
	if err := c.Noop(); err == nil || strings.HasPrefix(code(err), "5") || strings.HasPrefix(code(err), "4") {
		t.Errorf("%s after the refusal: NOOP answered %q, want the connection closed", which, code(err))
	}
}

// TestRevokedSignInHoldsWithinASecond: a session sending message after
// message reads its account again at most once a second; a change holds
// for it from the next second on: a message a second after the change is
// refused 530 5.7.0, and not kept.
func TestRevokedSignInHoldsWithinASecond(t *testing.T) {
	srv := start(t, nil)
	c := authedClient(t, srv)
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "before@x", "")); got != "ok" {
		t.Fatalf("send before the change: %s", got)
	}
	if err := srv.Store.SetEnabled(context.Background(), alice, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := code(c.Mail(alice, nil)); got != "530 5.7.0" {
		t.Errorf("MAIL a second after the change: %s, want 530 5.7.0", got)
	}
	if err := srv.Store.SetEnabled(context.Background(), alice, true); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, srv, alice)); n != 1 {
		t.Errorf("%d queued, want the one sent before", n)
	}
}
