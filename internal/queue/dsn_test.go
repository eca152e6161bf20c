package queue

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
)

// dsnRelay is a relay-mode worker whose relay (a go-smtp sink) announces
// DSN or not, and refuses recipients named nobody@ with 550 and slow@
// with 451.
func dsnRelay(t *testing.T, dsn bool) (*sink, *Worker, store.Store, store.Account, *clocktest.Clock) {
	t.Helper()
	st, acc := newStore(t)
	sk := startSinkWith(t, nil, false, func(srv *smtp.Server) { srv.EnableDSN = dsn })
	sk.set(func() {
		sk.rcptHook = func(rcpt string) error {
			switch {
			case strings.HasPrefix(rcpt, "nobody@"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			case strings.HasPrefix(rcpt, "slow@"):
				return errTemp
			}
			return nil
		}
	})
	c := clocktest.New(t0)
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Now: c.Now, Rand: func() float64 { return 0.5 }}, st, nil, nil)
	return sk, w, st, acc, c
}

// TestDSNNotifyHonoured (RFC 3461 4.1): a failure is reported unless
// NOTIFY leaves FAILURE out (NEVER, SUCCESS alone); a delay only when
// NOTIFY has DELAY or is absent; the notices carry ENVID and ORCPT (RFC
// 3464 2.2.1, 2.3.1); RET=HDRS returns the header, RET=FULL the message.
func TestDSNNotifyHonoured(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dsn    store.DSN
		notice bool // a failure notice is expected
	}{
		{"no NOTIFY", store.DSN{}, true},
		{"NEVER", store.DSN{Notify: "NEVER"}, false},
		{"SUCCESS only", store.DSN{Notify: "SUCCESS"}, false},
		{"DELAY only", store.DSN{Notify: "DELAY"}, false},
		{"FAILURE", store.DSN{Notify: "FAILURE", ORcpt: "rfc822;Nobody@Example.net", EnvID: "env-42", Ret: "HDRS"}, true},
		{"SUCCESS,FAILURE,DELAY full", store.DSN{Notify: "SUCCESS,FAILURE,DELAY", Ret: "FULL", EnvID: "env-43"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, w, st, acc, _ := dsnRelay(t, false)
			enqueueDSN(t, st, acc, t0, "m1", map[string]store.DSN{"nobody@example.net": tc.dsn}, "nobody@example.net")
			runOnce(t, w)
			if q := queued(t, st); len(q) != 0 {
				t.Fatalf("queue %+v", q)
			}
			in := inbox(t, st, acc)
			if !tc.notice {
				if len(in) != 0 {
					t.Fatalf("NOTIFY=%s: a notice came:\n%s", tc.dsn.Notify, in[0])
				}
				return
			}
			if len(in) != 1 {
				t.Fatalf("%d notices, want 1", len(in))
			}
			n := in[0]
			if err := contains(n, "Action: failed", "Status: 5.1.1", "Final-Recipient: rfc822; nobody@example.net"); err != nil {
				t.Fatalf("notice %v:\n%s", err, n)
			}
			if tc.dsn.EnvID != "" && !bytes.Contains(n, []byte("\r\nOriginal-Envelope-Id: "+tc.dsn.EnvID+"\r\nReporting-MTA:")) {
				t.Errorf("no Original-Envelope-Id among the per-message fields:\n%s", n)
			}
			if tc.dsn.ORcpt != "" && !bytes.Contains(n, []byte("\r\nOriginal-Recipient: rfc822; Nobody@Example.net\r\nFinal-Recipient:")) {
				t.Errorf("no Original-Recipient in the recipient's fields:\n%s", n)
			}
			full := bytes.Contains(n, []byte("Content-Type: message/rfc822")) && bytes.Contains(n, []byte("this is m1."))
			if full != (tc.dsn.Ret == "FULL") {
				t.Errorf("RET=%q: whole message returned %t:\n%s", tc.dsn.Ret, full, n)
			}
			if !full && !bytes.Contains(n, []byte("Content-Type: text/rfc822-headers")) {
				t.Errorf("no header returned:\n%s", n)
			}
			if got := checkReport(t, n); got != "rfc822; nobody@example.net failed 5.1.1\n" {
				t.Errorf("Python reads the recipients as %q", got)
			}
		})
	}

	// Delays: NOTIFY=DELAY and no NOTIFY warn once after DelayNotice;
	// FAILURE alone and NEVER do not.
	_, w, st, acc, c := dsnRelay(t, false)
	enqueueDSN(t, st, acc, t0, "d1", map[string]store.DSN{
		"slow@a.example": {Notify: "DELAY"}, "slow@b.example": {}, "slow@c.example": {Notify: "FAILURE"}, "slow@d.example": {Notify: "NEVER"},
	}, "slow@a.example", "slow@b.example", "slow@c.example", "slow@d.example")
	for now := t0; now.Before(t0.Add(5 * time.Hour)); now = now.Add(30 * time.Minute) {
		c.Set(now)
		runOnce(t, w)
	}
	in := inbox(t, st, acc)
	var delayed []string
	for _, n := range in {
		for _, r := range []string{"a", "b", "c", "d"} {
			if bytes.Contains(n, []byte("Final-Recipient: rfc822; slow@"+r+".example\r\nAction: delayed")) {
				delayed = append(delayed, r)
			}
		}
	}
	slices.Sort(delayed)
	if strings.Join(delayed, ",") != "a,b" {
		t.Fatalf("delay notices for %v, want a and b:\n%s", delayed, bytes.Join(in, []byte("\n=====\n")))
	}
}

// TestDSNSuccessRelayed (RFC 3461 4.2): NOTIFY=SUCCESS to a relay without
// DSN brings a "relayed" notice with the ENVID and ORCPT; to one with DSN
// the requests go on with the message (RET, ENVID, NOTIFY, ORCPT, as
// Postfix passes them) and the relay reports success, not us.
func TestDSNSuccessRelayed(t *testing.T) {
	dsn := map[string]store.DSN{
		"bob@far.example":   {Notify: "SUCCESS,FAILURE", ORcpt: "rfc822;bob+tag@far.example", Ret: "HDRS", EnvID: "env=1"},
		"carol@far.example": {Ret: "HDRS", EnvID: "env=1"},
	}
	t.Run("relay without DSN", func(t *testing.T) {
		sk, w, st, acc, _ := dsnRelay(t, false)
		enqueueDSN(t, st, acc, t0, "s1", dsn, "bob@far.example", "carol@far.example")
		runOnce(t, w)
		if got := sk.received(); len(got) != 1 || len(got[0].rcpts) != 2 {
			t.Fatalf("relay got %+v", got)
		}
		in := inbox(t, st, acc)
		if len(in) != 1 {
			t.Fatalf("%d notices, want the success report", len(in))
		}
		n := in[0]
		if err := contains(n, "Subject: Successful Mail Delivery Report: subject s1", "Original-Envelope-Id: env=1",
			"Original-Recipient: rfc822; bob+tag@far.example\r\nFinal-Recipient: rfc822; bob@far.example\r\nAction: relayed\r\nStatus: 2.0.0",
			"Content-Type: text/rfc822-headers"); err != nil {
			t.Fatalf("notice %v:\n%s", err, n)
		}
		if bytes.Contains(n, []byte("carol@far.example\r\nAction")) {
			t.Errorf("carol, who asked nothing, is reported:\n%s", n)
		}
		if got := checkReport(t, n); got != "rfc822; bob@far.example relayed 2.0.0\n" {
			t.Errorf("Python reads the recipients as %q", got)
		}
	})
	t.Run("relay with DSN", func(t *testing.T) {
		sk, w, st, acc, _ := dsnRelay(t, true)
		enqueueDSN(t, st, acc, t0, "s2", dsn, "bob@far.example", "carol@far.example")
		runOnce(t, w)
		got := sk.received()
		if len(got) != 1 || len(got[0].rcptOpts) != 2 {
			t.Fatalf("relay got %+v", got)
		}
		m := got[0]
		if m.mail.Return != smtp.DSNReturnHeaders || m.mail.EnvelopeID != "env=1" {
			t.Errorf("MAIL parameters RET=%q ENVID=%q", m.mail.Return, m.mail.EnvelopeID)
		}
		bob := m.rcptOpts[slices.Index(m.rcpts, "bob@far.example")]
		if !slices.Equal(bob.Notify, []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}) ||
			bob.OriginalRecipientType != smtp.DSNAddressTypeRFC822 || bob.OriginalRecipient != "bob+tag@far.example" {
			t.Errorf("bob's RCPT parameters %+v", bob)
		}
		if carol := m.rcptOpts[slices.Index(m.rcpts, "carol@far.example")]; len(carol.Notify) != 0 || carol.OriginalRecipient != "" {
			t.Errorf("carol's RCPT parameters %+v", carol)
		}
		if in := inbox(t, st, acc); len(in) != 0 {
			t.Fatalf("a notice came though the relay reports success itself:\n%s", in[0])
		}
	})
}

// checkReport has Python's email package read a notification as RFC 3464
// lays it out: a multipart/report of a text part, the delivery status
// (per-message block, then a block per recipient) and the returned
// header or message. It returns the recipient blocks' Final-Recipient,
// Action and Status, a line each.
func checkReport(t *testing.T, n []byte) string {
	t.Helper()
	script := `
import email, email.policy, sys
m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
text, status, orig = m.get_payload()
assert text.get_content_type() == "text/plain"
assert status.get_content_type() == "message/delivery-status"
assert orig.get_content_type() in ("text/rfc822-headers", "message/rfc822"), orig.get_content_type()
blocks = status.get_payload()
assert blocks[0]["Reporting-MTA"] == "dns; queue.example.org", dict(blocks[0])
for p in m.walk():
    assert not p.defects, (p.get_content_type(), p.defects)
for b in blocks[1:]:
    print(b["Final-Recipient"], b["Action"], b["Status"])
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = bytes.NewReader(n)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Python's email package on the notification: %v\n%s\n%s", err, out, n)
	}
	return string(out)
}
