package capture_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// TestSubAddressesEndToEnd (RFC 5233) on the whole service, with stock
// clients: a real Postfix (Debian's) relays mail for alice@ and
// alice+news@ (one transaction) and Alice+Shop@ to the capture
// listener; swaks and Python's smtplib hand over copies for other tags,
// one of them the same message again; the IMAP view of alice's INBOX
// then shows each message once; a domain with the delimiter off and a
// tag on an unprotected address are still refused 550 5.1.1.
func TestSubAddressesEndToEnd(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"alice@example.test": "alice-password"}})
	ctx := context.Background()
	off := srv.AddDomain(t, "off.test")
	set := off.Settings()
	set.RecipientDelimiter = ""
	if err := srv.Store.SetDomainSettings(ctx, store.AllScope(), "off.test", set); err != nil {
		t.Fatal(err)
	}
	srv.AddUser(t, "carol@off.test", "")

	_, portText, _ := net.SplitHostPort(srv.Capture)
	capturePort, _ := strconv.Atoi(portText)
	pfPort, roots := queuetest.StartPostfix(t, capturePort)
	viaPostfix := func(from string, to []string, msg string) {
		t.Helper()
		c, err := smtp.DialStartTLS(net.JoinHostPort("127.0.0.1", strconv.Itoa(pfPort)), &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail(from, to, strings.NewReader(msg)); err != nil {
			t.Fatalf("send through Postfix: %v", err)
		}
	}
	relayed := "From: Sender <sender@outside.test>\r\nTo: alice@example.test, alice+news@example.test\r\n" +
		"Subject: through postfix\r\nMessage-ID: <pf-1@outside.test>\r\n\r\nrelayed by Postfix\r\n"
	viaPostfix("sender@outside.test", []string{"alice@example.test", "alice+news@example.test"}, relayed)
	shop := "From: Shop <shop@outside.test>\r\nTo: Alice+Shop@example.test\r\nSubject: your order\r\nMessage-ID: <pf-2@outside.test>\r\n\r\nshipped\r\n"
	viaPostfix("shop@outside.test", []string{"Alice+Shop@example.test"}, shop)
	waitFor(t, "Postfix to relay both messages to capture", func() bool {
		b := srv.Bodies(t, "alice@example.test", store.Inbox)
		return b["pf-1@outside.test"] != nil && b["pf-2@outside.test"] != nil
	})

	// swaks: a new message for one tag and, as an upstream's retry, the
	// Postfix message again for another.
	swaks := func(to, body string) (string, error) {
		f := filepath.Join(t.TempDir(), "msg.eml")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(srv.Capture)
		out, err := exec.Command("swaks", "--server", host, "--port", port, "--helo", "upstream.test",
			"--from", "sender@outside.test", "--to", to, "--data", "@"+f).CombinedOutput()
		return string(out), err
	}
	if out, err := swaks("ALICE+Swaks@example.test", "From: sender@outside.test\r\nSubject: by swaks\r\nMessage-ID: <swaks-1@outside.test>\r\n\r\nhello\r\n"); err != nil ||
		!strings.Contains(out, "<-  250 2.0.0 stored") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if out, err := swaks("alice+again@example.test", relayed); err != nil || !strings.Contains(out, "<-  250 2.0.0 already stored (duplicate)") {
		t.Fatalf("swaks, the same message again: %v\n%s", err, out)
	}
	if out, err := swaks("carol+news@off.test", "Subject: off\r\n\r\nx\r\n"); err == nil || !strings.Contains(out, "<** 550 5.1.1") {
		t.Errorf("swaks to a tag at a domain with the delimiter off: %v\n%s", err, out)
	}
	if out, err := swaks("nobody+news@example.test", "Subject: nobody\r\n\r\nx\r\n"); err == nil || !strings.Contains(out, "<** 550 5.1.1") {
		t.Errorf("swaks to a tag on an unprotected address: %v\n%s", err, out)
	}

	// Python's smtplib: two tags in one transaction, one copy.
	const py = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), local_hostname="upstream.test") as s:
    s.sendmail("sender@outside.test", ["alice+a@example.test", "alice+b@example.test"], sys.stdin.buffer.read())
print("OK")
`
	cmd := exec.Command("python3", "-c", py, srv.Capture)
	cmd.Stdin = strings.NewReader("From: sender@outside.test\r\nSubject: two tags\r\nMessage-ID: <py-1@outside.test>\r\n\r\nonce\r\n")
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}

	// The IMAP view: each message once.
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.test", "alice-password").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Envelope.MessageID)
	}
	// Postfix relays its two in either order: each once is the point.
	slices.Sort(ids)
	want := "pf-1@outside.test pf-2@outside.test py-1@outside.test swaks-1@outside.test"
	if sel.NumMessages != 4 || strings.Join(ids, " ") != want {
		t.Errorf("IMAP INBOX: %d messages %q, want %q", sel.NumMessages, ids, want)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Error(err)
	}
	// A sub-address signs in to nothing.
	c2, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login("alice+news@example.test", "alice-password").Wait(); err == nil {
		t.Error("IMAP sign-in as a sub-address accepted")
	}

	// Postfix's copy kept its Received header: it is the relayed one.
	if b := srv.Bodies(t, "alice@example.test", store.Inbox)["pf-1@outside.test"]; !bytes.Contains(b, []byte("by relay.test (Postfix)")) {
		t.Errorf("the stored copy did not come through Postfix:\n%s", b)
	}
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
