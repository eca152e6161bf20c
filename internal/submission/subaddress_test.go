package submission_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestSubAddresses (RFC 5233) over real SMTP: a protected colleague's
// sub-address (bob+x@) gets the continuity INBOX copy, logged as written
// and found by bob@; the signed-in user may send with a sub-address of
// their own as envelope sender and From, but not with one of someone
// else's, not with an address that is another account, and not when
// their domain has the delimiter off (550 5.7.1); a message for bob@ and
// bob+x@ is one copy in bob's INBOX; a sub-address does not sign in.
func TestSubAddresses(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	srv.AddUser(t, "alice+exact@example.test", "exact-password") // someone really called that
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	const shop = "alice+shop@example.test"
	if got := send(c, "Alice+Shop@example.test", []string{"Bob+X@example.test", outsider}, msg(shop, "bob+x@example.test, "+outsider, "tag1@x", "")); got != "ok" {
		t.Fatalf("alice as %s to bob+x@: %s", shop, got)
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["tag1@x"]; !ok {
		t.Error("bob+x@: no copy in bob's INBOX")
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["tag1@x"]; !ok {
		t.Error("no Sent copy for alice")
	}
	evs, err := srv.Store.SearchLog(ctx, store.LogQuery{Address: bob, MessageID: "tag1@x", Status: msglog.Stored})
	if err != nil || len(evs) != 1 || evs[0].Rcpt != "bob+x@example.test" || evs[0].Account != bob || evs[0].Detail != store.Inbox {
		t.Errorf("bob's record found by bob@: %+v, %v", evs, err)
	}
	// The relay leg goes to the address as written (its local part's
	// case too), for bob's primary mailbox and its own rules on the tag.
	// Its return path is the sub-address it went out as.
	var rcpts []string
	for _, e := range queued(t, srv, alice) {
		rcpts = append(rcpts, e.Rcpt)
		if e.MailFrom != shop {
			t.Errorf("queued for %s with return path %q, want %s", e.Rcpt, e.MailFrom, shop)
		}
	}
	if strings.Join(rcpts, ",") != "Bob+X@example.test,"+outsider && strings.Join(rcpts, ",") != outsider+",Bob+X@example.test" {
		t.Errorf("queued for %q", rcpts)
	}

	for _, tc := range []struct{ name, mailFrom, from string }{
		{"someone else's sub-address as envelope sender", "bob+x@example.test", shop},
		{"someone else's sub-address in From", shop, "bob+x@example.test"},
		{"another account's address", "alice+exact@example.test", shop},
		{"another account's address in From", alice, "alice+exact@example.test"},
		{"a sub-address at another domain", "alice+x@far.test", shop},
	} {
		if got := send(c, tc.mailFrom, []string{outsider}, msg(tc.from, outsider, "spoof@x", "")); got != "550 5.7.1" {
			t.Errorf("%s: %s, want 550 5.7.1", tc.name, got)
		}
		c.Reset()
	}

	// A local part with a character that is a delimiter elsewhere but
	// not here ("-"; this domain's is "+") has sub-addresses all the same.
	srv.AddUser(t, "mary-jane@example.test", "mary-jane-password")
	mj := dial(t, srv)
	if err := mj.Auth(sasl.NewPlainClient("", "mary-jane@example.test", "mary-jane-password")); err != nil {
		t.Fatal(err)
	}
	if got := send(mj, "mary-jane+x@example.test", []string{outsider}, msg("mary-jane+x@example.test", outsider, "mj1@x", "")); got != "ok" {
		t.Errorf("mary-jane as mary-jane+x@: %s", got)
	}
	// bob@ and bob+x@ in one message: one INBOX copy.
	if got := send(c, alice, []string{bob, "bob+x@example.test"}, msg(alice, bob+", bob+x@example.test", "both1@x", "")); got != "ok" {
		t.Fatalf("to bob@ and bob+x@: %s", got)
	}
	n := 0
	for _, m := range srv.Messages(t, bob, store.Inbox) {
		if m.MessageID == "both1@x" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("bob@ and bob+x@ in one message: %d copies in bob's INBOX, want 1", n)
	}

	// Sign-in is with the address itself only.
	c2, err := smtp.DialStartTLS(srv.Submission, srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Auth(sasl.NewPlainClient("", shop, alicePw)); code(err) != "535 5.7.8" {
		t.Errorf("sign-in as %s: %v, want 535 5.7.8", shop, err)
	}

	// Python's smtplib, as a mail program would.
	pySubmit(t, srv, alice, alicePw, "alice+py@example.test", "bob+py@example.test", msg("alice+py@example.test", "bob+py@example.test", "py1@x", ""))
	if _, ok := srv.Bodies(t, bob, store.Inbox)["py1@x"]; !ok {
		t.Error("bob+py@ over smtplib: no copy in bob's INBOX")
	}

	// The delimiter off for the domain: no sub-addresses.
	d, err := srv.Store.Domain(ctx, srv.Domain)
	if err != nil {
		t.Fatal(err)
	}
	set := d.Settings()
	set.RecipientDelimiter = ""
	if err := srv.Store.SetDomainSettings(ctx, store.AllScope(), srv.Domain, set); err != nil {
		t.Fatal(err)
	}
	if got := send(c, shop, []string{outsider}, msg(shop, outsider, "off1@x", "")); got != "550 5.7.1" {
		t.Errorf("sub-address with the delimiter off: %s, want 550 5.7.1", got)
	}
	c.Reset()
	if got := send(c, alice, []string{"bob+x@example.test"}, msg(alice, "bob+x@example.test", "off2@x", "")); got != "ok" {
		t.Fatalf("to bob+x@ with the delimiter off: %s", got)
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["off2@x"]; ok {
		t.Error("with the delimiter off, bob+x@ still reached bob's INBOX")
	}
}

// pySubmit sends one message with Python's smtplib: STARTTLS, AUTH,
// MAIL FROM from.
func pySubmit(t *testing.T, srv *testserver.Server, user, pass, from, to, body string) {
	t.Helper()
	const script = `
import smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port)) as s:
    s.starttls(context=ssl._create_unverified_context())
    s.login(sys.argv[2], sys.argv[3])
    s.sendmail(sys.argv[4], [sys.argv[5]], sys.stdin.buffer.read())
print("OK")
`
	cmd := exec.Command("python3", "-c", script, srv.Submission, user, pass, from, to)
	cmd.Stdin = bytes.NewReader([]byte(body))
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
}
