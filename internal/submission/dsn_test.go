package submission_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestDSNParameters (RFC 3461): EHLO announces DSN; bad RET, ENVID,
// NOTIFY and ORCPT values are refused 501 5.5.4; good ones, given by
// Python's smtplib (mail_options, rcpt_options), msmtp (--dsn-notify,
// --dsn-return) and raw lines (swaks has no DSN options), are kept with
// the queue entries and passed on to a relay that announces DSN, as
// they were given.
func TestDSNParameters(t *testing.T) {
	sk := queuetest.StartSink(t, true)
	srv := start(t, func(c *config.Config) {
		c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayPort, c.Queue.RelayTLS = "relay", "127.0.0.1", sk.Port, "none"
	})
	_, port, _ := net.SplitHostPort(srv.Submission)
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	out, err := exec.Command("python3", "-c", pyDSN, "localhost", port, cafile, alice, alicePw).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "dsn announced\nRET=BOGUS 501 5.5.4\nENVID of 101 501 5.5.4\nNOTIFY=NEVER,SUCCESS 501 5.5.4\nORCPT=bogus 501 5.5.4\nsent\n"
	if got := strings.ReplaceAll(string(out), "\r", ""); got != want {
		t.Fatalf("python said\n%s\nwant\n%s", got, want)
	}

	rc := filepath.Join(t.TempDir(), "msmtprc")
	os.WriteFile(rc, []byte(fmt.Sprintf("account default\nhost localhost\nport %s\nauth on\nuser %s\npassword %s\nfrom %s\ntls on\ntls_starttls on\ntls_trust_file %s\n",
		port, alice, alicePw, alice, cafile)), 0o600)
	cmd := exec.Command("msmtp", "-C", rc, "--dsn-notify=failure,delay", "--dsn-return=full", outsider)
	cmd.Stdin = strings.NewReader(msg(alice, outsider, "msmtp-dsn@x", ""))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("msmtp: %v\n%s", err, out)
	}

	c := signedIn(t, srv, false)
	c.cmd("MAIL FROM:<"+alice+"> RET=WHAT", "501 5.5.4 ")
	c.cmd("MAIL FROM:<"+alice+"> ENVID=bad+ZZ", "501 5.5.4 ")
	c.cmd("MAIL FROM:<"+alice+"> RET=full ENVID=raw+2B1", "250 ")
	c.cmd("RCPT TO:<"+outsider+"> NOTIFY=SOMETIMES", "501 5.5.4 ")
	c.cmd("RCPT TO:<"+outsider+"> ORCPT=rfc822;"+strings.Repeat("o", 501), "501 5.5.4 ")
	c.cmd("RCPT TO:<"+outsider+"> NOTIFY=delay ORCPT=utf-8;carol\\x{E9}@far.test", "250 ")
	c.cmd("DATA", "354 ")
	c.send(msg(alice, outsider, "raw-dsn@x", "") + ".\r\n")
	c.expect("250 ")

	got := sk.Wait(3, time.Minute)
	if len(got) != 3 {
		t.Fatalf("the relay got %d messages, want 3", len(got))
	}
	byID := map[string]queuetest.Sunk{}
	for _, m := range got {
		for _, id := range []string{"py-dsn@x", "msmtp-dsn@x", "raw-dsn@x"} {
			if bytes.Contains(m.Data, []byte("<"+id+">")) {
				byID[id] = m
			}
		}
	}
	for _, tc := range []struct {
		id          string
		ret         smtp.DSNReturn
		envid       string
		notify      []smtp.DSNNotify
		orcptType   smtp.DSNAddressType
		orcpt       string
		relayedRcpt string
	}{
		{"py-dsn@x", smtp.DSNReturnHeaders, "py+env", []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}, smtp.DSNAddressTypeRFC822, "Carol+tag@far.test", outsider},
		{"msmtp-dsn@x", smtp.DSNReturnFull, "", []smtp.DSNNotify{smtp.DSNNotifyFailure, smtp.DSNNotifyDelayed}, "", "", outsider},
		{"raw-dsn@x", smtp.DSNReturnFull, "raw+1", []smtp.DSNNotify{smtp.DSNNotifyDelayed}, smtp.DSNAddressTypeUTF8, "carolé@far.test", outsider},
	} {
		m, ok := byID[tc.id]
		if !ok {
			t.Errorf("%s did not reach the relay", tc.id)
			continue
		}
		if m.Mail.Return != tc.ret || m.Mail.EnvelopeID != tc.envid {
			t.Errorf("%s: MAIL RET=%q ENVID=%q, want %q %q", tc.id, m.Mail.Return, m.Mail.EnvelopeID, tc.ret, tc.envid)
		}
		if len(m.Opts) != 1 || m.Rcpts[0] != tc.relayedRcpt {
			t.Errorf("%s: recipients %v", tc.id, m.Rcpts)
			continue
		}
		o := m.Opts[0]
		if !slices.Equal(o.Notify, tc.notify) || o.OriginalRecipientType != tc.orcptType || o.OriginalRecipient != tc.orcpt {
			t.Errorf("%s: RCPT NOTIFY=%v ORCPT=%s;%s, want %v %s;%s", tc.id, o.Notify, o.OriginalRecipientType, o.OriginalRecipient,
				tc.notify, tc.orcptType, tc.orcpt)
		}
	}
	// The relay reports success itself: nothing of ours in the INBOX.
	if in := srv.Bodies(t, alice, store.Inbox); len(in) != 0 {
		t.Errorf("%d notices in the sender's INBOX, want none", len(in))
	}
}

// TestDSNRelayedNotice (RFC 3461 4.2, RFC 3464): NOTIFY=SUCCESS, sent to
// a relay that does not announce DSN, brings the sender a "relayed"
// notice with the ENVID and ORCPT; Python's email package reads it.
func TestDSNRelayedNotice(t *testing.T) {
	sk := startSink(t, "PIPELINING", "8BITMIME")
	srv := start(t, sk.relayTo)
	c := signedIn(t, srv, false)
	c.cmd("MAIL FROM:<"+alice+"> RET=HDRS ENVID=note+3D1", "250 ")
	c.cmd("RCPT TO:<"+outsider+"> NOTIFY=SUCCESS ORCPT=rfc822;carol@far.test", "250 ")
	c.cmd("RCPT TO:<dave@far.test> NOTIFY=NEVER", "250 ")
	c.cmd("DATA", "354 ")
	c.send(msg(alice, outsider, "note@x", "") + ".\r\n")
	c.expect("250 ")
	var dsn []byte
	waitFor(t, "the success notice", func() bool {
		for _, b := range srv.Bodies(t, alice, store.Inbox) {
			dsn = b
			return true
		}
		return false
	})
	if tr := sk.transactions(); len(tr) != 1 || strings.Contains(strings.ToUpper(tr[0].mail), "RET=") {
		t.Fatalf("the relay without DSN got %+v", tr)
	}
	for _, want := range []string{"Original-Envelope-Id: note=1", "Original-Recipient: rfc822; carol@far.test\r\nFinal-Recipient: rfc822; carol@far.test\r\nAction: relayed\r\nStatus: 2.0.0",
		"In-Reply-To: <note@x>", "Content-Type: text/rfc822-headers"} {
		if !bytes.Contains(dsn, []byte(want)) {
			t.Errorf("notice lacks %q:\n%s", want, dsn)
		}
	}
	if bytes.Contains(dsn, []byte("dave@far.test")) {
		t.Errorf("dave asked for no notice:\n%s", dsn)
	}
	if got, want := pyReadNotice(t, dsn, "Original-Recipient"), "note=1 | rfc822; carol@far.test | relayed 2.0.0 | text/rfc822-headers"; got != want {
		t.Fatalf("Python's email package on the notice: %s, want %s", got, want)
	}
}

// pyReadNotice reads a delivery status notification with Python's email
// package, as another mail system would, and returns its envelope id, the
// first recipient's field (Original-Recipient or Final-Recipient), action
// and status, and the type of the returned part, "|" between them.
func pyReadNotice(t *testing.T, dsn []byte, field string) string {
	t.Helper()
	const script = `
import email, email.policy, sys
m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
text, status, headers = m.get_payload()
blocks = status.get_payload()
print(blocks[0]["Original-Envelope-Id"], "|", blocks[1][sys.argv[1]], "|", blocks[1]["Action"], blocks[1]["Status"], "|", headers.get_content_type())
`
	cmd := exec.Command("python3", "-c", script, field)
	cmd.Stdin = bytes.NewReader(dsn)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Python's email package on the notice: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestDSNPassedOnUnpipelined: a relay that announces DSN but not
// PIPELINING gets the parameters too, from go-smtp's client.
func TestDSNPassedOnUnpipelined(t *testing.T) {
	sk := startSink(t, "DSN", "8BITMIME")
	srv := start(t, sk.relayTo)
	c := signedIn(t, srv, false)
	c.cmd("MAIL FROM:<"+alice+"> RET=HDRS ENVID=u+2B1", "250 ")
	c.cmd("RCPT TO:<"+outsider+"> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;carol@far.test", "250 ")
	c.cmd("DATA", "354 ")
	c.send(msg(alice, outsider, "unpiped@x", "") + ".\r\n")
	c.expect("250 ")
	waitFor(t, "the relay to take the message", func() bool { return len(sk.transactions()) == 1 })
	tr := sk.transactions()[0]
	if !strings.Contains(tr.mail, " RET=HDRS") || !strings.Contains(tr.mail, " ENVID=u+2B1") {
		t.Errorf("MAIL %q", tr.mail)
	}
	if len(tr.rcptArgs) != 1 || tr.rcptArgs[0] != "<"+outsider+"> NOTIFY=SUCCESS,DELAY ORCPT=RFC822;carol@far.test" {
		t.Errorf("RCPT %q", tr.rcptArgs)
	}
}

// pyDSN checks the DSN announcement and refusals, then sends one message
// with DSN parameters.
const pyDSN = `
import smtplib, ssl, sys
host, port, cafile, user, pw = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
s = smtplib.SMTP(host, int(port), timeout=60)
s.starttls(context=ctx)
s.ehlo()
if s.has_extn("dsn"):
    print("dsn announced")
s.login(user, pw)
code, text = s.mail(user, ["RET=BOGUS"])
print("RET=BOGUS", code, text.decode().split()[0])
s.rset()
code, text = s.mail(user, ["ENVID=" + "x" * 101])
print("ENVID of 101", code, text.decode().split()[0])
s.rset()
s.mail(user)
code, text = s.rcpt("carol@far.test", ["NOTIFY=NEVER,SUCCESS"])
print("NOTIFY=NEVER,SUCCESS", code, text.decode().split()[0])
code, text = s.rcpt("carol@far.test", ["ORCPT=bogus"])
print("ORCPT=bogus", code, text.decode().split()[0])
s.rset()
msg = ("From: %s\r\nTo: carol@far.test\r\nSubject: dsn\r\nMessage-ID: <py-dsn@x>\r\n\r\nbody\r\n" % user).encode()
s.sendmail(user, ["carol@far.test"], msg, mail_options=["RET=HDRS", "ENVID=py+2Benv"],
           rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Carol+2Btag@far.test"])
print("sent")
s.quit()
`
