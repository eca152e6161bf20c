package submission_test

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestDSNDeliveredContinuityOnly (RFC 3461 4.2, RFC 3464): at a
// "continuity only" domain the continuity INBOX is where a protected
// recipient's mail is delivered, so NOTIFY=SUCCESS brings the sender a
// "delivered" notice at once, as from a final delivery agent: with the
// ENVID and ORCPT, the header only though RET=FULL (RFC 3461 4.3), and
// nothing for a recipient who did not ask. Over a raw SMTP session and
// with Python's smtplib; Python's email package reads the notice.
func TestDSNDeliveredContinuityOnly(t *testing.T) {
	const dave, davePw = "dave@example.test", "dave-password"
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{alice: alicePw, bob: bobPw, dave: davePw},
		Configure: func(c *config.Config) {
			c.Hostname = "mx.example.test"
		},
	})
	setContinuityOnly(t, srv, true)

	c := signedIn(t, srv, false)
	c.cmd("MAIL FROM:<"+alice+"> RET=FULL ENVID=cont+3D1", "250 ")
	c.cmd("RCPT TO:<"+bob+"> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;robert@example.test", "250 ")
	c.cmd("RCPT TO:<"+dave+"> NOTIFY=FAILURE", "250 ")
	c.cmd("DATA", "354 ")
	c.send(msg(alice, bob+", "+dave, "cont@x", "") + ".\r\n")
	c.expect("250 ")

	notices := func() [][]byte {
		var out [][]byte
		for _, b := range srv.Bodies(t, alice, store.Inbox) {
			out = append(out, b)
		}
		return out
	}
	// The notice is stored with the message, before the 250.
	got := notices()
	if len(got) != 1 {
		t.Fatalf("%d notices in the sender's INBOX, want 1", len(got))
	}
	dsn := got[0]
	for _, want := range []string{"Subject: Successful Mail Delivery Report", "In-Reply-To: <cont@x>",
		"Reporting-MTA: dns; mx.example.test", "Original-Envelope-Id: cont=1",
		"Original-Recipient: rfc822; robert@example.test\r\nFinal-Recipient: rfc822; " + bob + "\r\nAction: delivered\r\nStatus: 2.0.0",
		"Content-Type: text/rfc822-headers", "Message-ID: <cont@x>"} {
		if !bytes.Contains(dsn, []byte(want)) {
			t.Errorf("notice lacks %q:\n%s", want, dsn)
		}
	}
	if bytes.Contains(dsn, []byte("Final-Recipient: rfc822; "+dave)) || bytes.Contains(dsn, []byte("message/rfc822")) || bytes.Contains(dsn, []byte("Hi there.")) {
		t.Errorf("notice names dave, who asked for none, or returns the message:\n%s", dsn)
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["cont@x"]; !ok {
		t.Error("bob's INBOX copy is missing")
	}
	if q := queued(t, srv, alice); len(q) != 0 {
		t.Errorf("queued for a continuity-only domain: %+v", q)
	}
	if got, want := pyReadNotice(t, dsn, "Final-Recipient"), "cont=1 | rfc822; "+bob+" | delivered 2.0.0 | text/rfc822-headers"; got != want {
		t.Fatalf("Python's email package on the notice: %s, want %s", got, want)
	}

	// smtplib: NOTIFY=SUCCESS for both brings one notice naming both;
	// without NOTIFY, none.
	_, port, _ := net.SplitHostPort(srv.Submission)
	py := `
import smtplib, ssl, sys
port, cafile, user, pw, rcpt1, rcpt2 = sys.argv[1:]
s = smtplib.SMTP("localhost", int(port), timeout=60)
s.starttls(context=ssl.create_default_context(cafile=cafile))
s.login(user, pw)
m = "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n"
s.sendmail(user, [rcpt1, rcpt2], (m % (user, rcpt1, "py both", "py-both@x")).encode(), rcpt_options=["NOTIFY=SUCCESS"])
s.sendmail(user, [rcpt1], (m % (user, rcpt1, "py none", "py-none@x")).encode())
s.quit()
`
	if out, err := exec.Command("python3", "-c", py, port, filepath.Join(srv.Data, tlsutil.SelfSignedCertFile), alice, alicePw, bob, dave).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got = notices()
	if len(got) != 2 {
		t.Fatalf("%d notices after smtplib's two messages, want 2 (one more)", len(got))
	}
	var both []byte
	for _, b := range got {
		if bytes.Contains(b, []byte("<py-both@x>")) {
			both = b
		}
		if bytes.Contains(b, []byte("<py-none@x>")) {
			t.Errorf("a notice for a message without NOTIFY:\n%s", b)
		}
	}
	if bytes.Count(both, []byte("Action: delivered")) != 2 || !bytes.Contains(both, []byte("Final-Recipient: rfc822; "+dave)) {
		t.Errorf("notice for both recipients:\n%s", both)
	}
}
