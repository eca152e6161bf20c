package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
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
			in := storetest.Inbox(t, st, acc)
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
	in := storetest.Inbox(t, st, acc)
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
		in := storetest.Inbox(t, st, acc)
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
		if in := storetest.Inbox(t, st, acc); len(in) != 0 {
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

// TestNotificationTextBounded (class: a remote's reply went into the
// notification raw and as one line): replies of random words, some
// longer than a line may be, with control characters (ESC, BEL, NUL,
// DEL, C1) and invalid UTF-8 among them, refuse one recipient (550) and
// delay another (452, past DelayNotice): every line of the notification
// has at most 998 octets, and at most 78 unless it holds a single word;
// its text/plain part is valid UTF-8 without control characters, its
// delivery status US-ASCII; Python's email package reads it without a
// defect; the reply's words are there, cleaned. The random reply is
// logged with its seed.
func TestNotificationTextBounded(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 2))
	junk := []string{"\x1b[31m", "\a", "\x00", "\x7f", "\xc2\x9b", "\x9b", "\xff\xfe", "é", "\t"}
	reply := func(code, enhanced string) string {
		var lines []string
		for range 1 + rnd.IntN(12) {
			var words []string
			for range 1 + rnd.IntN(8) {
				var w strings.Builder
				for range 1 + rnd.IntN([]int{12, 60, 300}[rnd.IntN(3)]) {
					if rnd.IntN(40) == 0 {
						w.WriteString(junk[rnd.IntN(len(junk))])
					} else {
						w.WriteByte(byte('a' + rnd.IntN(26)))
					}
				}
				words = append(words, w.String())
			}
			lines = append(lines, strings.Join(words, " "))
		}
		for i := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			lines[i] = code + sep + enhanced + " " + lines[i]
		}
		return strings.Join(lines, "\r\n") + "\r\n"
	}
	refusal, delay := reply("550", "5.1.1"), reply("452", "4.2.2")
	t.Logf("refusal %q", refusal)
	t.Logf("delay %q", delay)
	port := startScript(t, answerRCPT(false, func(w io.Writer, rcpt string) {
		if strings.Contains(rcpt, "nobody@") {
			io.WriteString(w, refusal)
		} else {
			io.WriteString(w, delay)
		}
	}))
	st, acc := newStore(t)
	now := t0.Add(5 * time.Hour) // past DelayNotice
	w := relayWorker(t, st, port, func() time.Time { return now })
	enqueue(t, st, acc, t0, "m1", "nobody@example.net", "slow@example.net")
	runOnce(t, w)
	in := storetest.Inbox(t, st, acc)
	if len(in) != 1 {
		t.Fatalf("%d notices, want one for both recipients", len(in))
	}
	n := in[0]
	for i, l := range bytes.Split(n, []byte("\r\n")) {
		if len(l) > 998 || len(l) > 78 && len(bytes.Fields(l)) > 1 {
			t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
		}
	}
	if got := checkReport(t, n); got != "rfc822; nobody@example.net failed 5.1.1\nrfc822; slow@example.net delayed 4.2.2\n" {
		t.Errorf("Python reads the recipients as %q", got)
	}
	parts := bytes.Split(n, []byte("\r\n--=_"))
	text, status := parts[1], parts[2]
	if !utf8.Valid(text) || bytes.ContainsFunc(text, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' || r >= 0x7f && r < 0xa0 }) {
		t.Errorf("the text part has control characters or invalid UTF-8:\n%q", text)
	}
	if i := bytes.IndexFunc(status, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' || r >= 0x7f }); i >= 0 {
		t.Errorf("the delivery status has %q at %d:\n%q", status[i:min(i+4, len(status))], i, status)
	}
	// The words of each reply that are all letters, as far as they are
	// kept, are there, unfolded.
	unfold := func(b []byte) string { return " " + strings.Join(strings.Fields(string(b)), " ") + " " }
	for _, r := range []string{refusal, delay} {
		at := 0
		for _, word := range strings.Fields(r) {
			at = strings.Index(r[at:], word) + at
			if at > maxReplyText/2 {
				break
			}
			if strings.Trim(word, "abcdefghijklmnopqrstuvwxyz") != "" {
				continue
			}
			for what, part := range map[string][]byte{"text": text, "status": status} {
				if !strings.Contains(unfold(part), " "+word+" ") {
					t.Errorf("the %s lacks %q", what, word)
				}
			}
		}
	}
}

// TestStatusClassMatchesAction (class: the status of a notice was made
// from any reply code, and kept whatever its class): a RCPT answered with
// a code SMTP does not have (999, 199, 699) or one not due (354) is a
// protocol error: deferred, 4.5.0, and the session is ended (the server
// may take what follows a 354 for a message); a 450 or 451 whose enhanced
// code has another class is delayed with the class 4 (4.1.1, 4.0.0); a
// 550 with a class 4 one fails with 5.1.1; and the reply is quoted as
// the server gave it, with no enhanced code made up. With PIPELINING
// and without; one message per recipient, each over a session of its
// own.
func TestStatusClassMatchesAction(t *testing.T) {
	cases := []struct {
		rcpt, reply, action, status string
	}{
		{"r999", "999 9.9.9 weird", "delayed", "4.5.0"},
		{"r354", "354 go ahead", "delayed", "4.5.0"},
		{"r199", "199 hmm", "delayed", "4.5.0"},
		{"r699", "699 6.1.1 hmm", "delayed", "4.5.0"},
		{"r220", "220 hello again", "delayed", "4.5.0"},
		{"r450", "450 5.1.1 odd", "delayed", "4.1.1"},
		{"r451", "451 2.0.0 odd", "delayed", "4.0.0"},
		{"r452", "452 odd", "delayed", "4.0.0"},
		{"r550", "550 4.1.1 odd", "failed", "5.1.1"},
		{"r551", "551 no such user here", "failed", "5.0.0"},
	}
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("pipelining ", pipelining), func(t *testing.T) {
			var mu sync.Mutex
			after := map[string]string{} // what each recipient's session sent after its RCPT
			port := startScript(t, func(nc net.Conn, _ *bufio.Reader) {
				var sent bytes.Buffer
				br := bufio.NewReader(io.TeeReader(nc, &sent))
				rcpt := ""
				answerRCPT(pipelining, func(w io.Writer, line string) {
					for _, c := range cases {
						if strings.Contains(line, "<"+c.rcpt+"@") {
							rcpt = c.rcpt
							io.WriteString(w, c.reply+"\r\n")
						}
					}
				})(nc, br)
				_, rest, _ := strings.Cut(sent.String(), "<"+rcpt+"@example.net>\r\n")
				mu.Lock()
				after[rcpt] = rest
				mu.Unlock()
			})
			st, acc := newStore(t)
			now := t0.Add(5 * time.Hour) // past DelayNotice
			w := relayWorker(t, st, port, func() time.Time { return now })
			for _, c := range cases {
				enqueue(t, st, acc, t0, c.rcpt, c.rcpt+"@example.net")
			}
			runOnce(t, w)
			got := map[string]string{}
			for _, n := range storetest.Inbox(t, st, acc) {
				status := strings.Join(strings.Fields(string(bytes.Split(n, []byte("\r\n--=_"))[2])), " ")
				for _, c := range cases {
					if strings.Contains(status, "Final-Recipient: rfc822; "+c.rcpt+"@") {
						got[c.rcpt] = status
					}
				}
			}
			for _, c := range cases {
				status := got[c.rcpt]
				want := "Action: " + c.action + " Status: " + c.status + " Remote-MTA: dns; 127.0.0.1 Diagnostic-Code: smtp; "
				if c.status == "4.5.0" {
					want += "smtp protocol error: unexpected reply: " + c.reply + " "
				} else {
					want += c.reply + " "
				}
				if !strings.Contains(status, want) {
					t.Errorf("%s answered %q: notice %q, want %q", c.rcpt, c.reply, status, want)
				}
				// The session ended at once: nothing more but DATA, sent
				// with the RCPT when pipelining.
				mu.Lock()
				rest := after[c.rcpt]
				mu.Unlock()
				if c.status == "4.5.0" && rest != "" && !(pipelining && rest == "DATA\r\n") {
					t.Errorf("%s answered %q: the session went on with %q", c.rcpt, c.reply, rest)
				}
			}
		})
	}
}
