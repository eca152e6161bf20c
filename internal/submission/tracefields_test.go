package submission_test

import (
	"crypto/tls"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
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

// TestReceivedNamesClient: the Received field the queue puts on relayed
// mail has the FROM clause RFC 5321 4.4 requires, naming the client by
// the name it gave in EHLO (never its address) as an authenticated
// sender, and WITH ESMTPSA (RFC 3848: ESMTP, TLS and AUTH), on 587
// (Python's smtplib, STARTTLS) and on 465 (go-smtp); the colleague's
// INBOX copy and the Sent copy gain no trace field.
func TestReceivedNamesClient(t *testing.T) {
	sk := startSink(t, "8BITMIME")
	srv := start(t, func(c *config.Config) { sk.relayTo(c) })

	// 587, STARTTLS.
	_, port, _ := net.SplitHostPort(srv.Submission)
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	if out, err := exec.Command("python3", "-c", pyReceived, "localhost", port, cafile, alice, alicePw, "laptop.office.example",
		outsider+","+bob, msg(alice, outsider+", "+bob, "rcvd-587", "")).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	checkReceived(t, srv, sk, "rcvd-587", "laptop.office.example")

	// 465, implicit TLS.
	conn, err := tls.Dial("tcp", srv.Submissions, srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	cl := smtp.NewClient(conn)
	defer cl.Close()
	if err := cl.Hello("phone.office.example"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := send(cl, alice, []string{outsider, bob}, msg(alice, outsider+", "+bob, "rcvd-465", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	checkReceived(t, srv, sk, "rcvd-465", "phone.office.example")
}

// pyReceived sends one message over 587 with the EHLO name given.
const pyReceived = `
import smtplib, ssl, sys
host, port, cafile, user, pw, name, rcpts, msg = sys.argv[1:]
s = smtplib.SMTP(host, int(port), local_hostname=name, timeout=60)
s.starttls(context=ssl.create_default_context(cafile=cafile))
s.login(user, pw)
s.sendmail(user, rcpts.split(","), msg.encode())
s.quit()
`

// checkReceived waits for the relay to take message id for the
// outsider and checks its trace field (TestReceivedNamesClient).
func checkReceived(t *testing.T, srv *testserver.Server, sk *sink, id, ehlo string) {
	t.Helper()
	var data []byte
	waitFor(t, "the relay to take "+id, func() bool {
		for _, tx := range sk.transactions() {
			if messageID(tx.data) == id && slices.Contains(tx.rcpts, outsider) {
				data = tx.data
				return true
			}
		}
		return false
	})
	first, _, _ := strings.Cut(string(data), "; ")
	want := "Received: from " + ehlo + " (authenticated sender)\r\n\tby "
	if !strings.HasPrefix(first, want) || !strings.Contains(first, " with ESMTPSA id ") || strings.Contains(first, "127.0.0.1") {
		t.Errorf("the relayed message's trace field is %q, want it to start %q, with ESMTPSA and no address", first, want)
	}
	if b := srv.Bodies(t, bob, store.Inbox)[id]; b == nil || strings.Contains(strings.ToLower(headerOf(b)), "received:") {
		t.Errorf("the colleague's INBOX copy is missing or has a trace field:\n%s", headerOf(b))
	}
	if b := srv.Bodies(t, alice, store.Sent)[id]; b == nil || strings.Contains(strings.ToLower(headerOf(b)), "received:") {
		t.Errorf("the Sent copy is missing or has a trace field:\n%s", headerOf(b))
	}
}
