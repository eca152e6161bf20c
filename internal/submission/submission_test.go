package submission_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

const (
	alice    = "alice@example.test"
	alicePw  = "alice-password"
	bob      = "bob@example.test" // a protected colleague
	bobPw    = "bob-password"
	outsider = "carol@far.test"
)

func start(t *testing.T, configure func(*config.Config)) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{
		Users:     map[string]string{alice: alicePw, bob: bobPw},
		Configure: configure,
	})
}

func msg(from, to, mid, extra string) string {
	return "From: Alice <" + from + ">\r\nTo: " + to + "\r\n" + extra + "Subject: hello " + mid + "\r\nMessage-ID: <" + mid + ">\r\n" +
		"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nHi there.\r\n"
}

// dial opens a 587-style session, STARTTLS done.
func dial(t *testing.T, srv *testserver.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(srv.Submission, srv.ClientTLS())
	if err != nil {
		t.Fatalf("dial submission: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func code(err error) string {
	if se, ok := err.(*smtp.SMTPError); ok {
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// send runs one transaction and returns the answer's code.
func send(c *smtp.Client, from string, to []string, body string) string {
	if err := c.Mail(from, nil); err != nil {
		return code(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return code(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return code(err)
	}
	io.WriteString(w, body)
	return code(w.Close())
}

// signInLogged reports whether the message log holds a sign-in record
// of addr from the test's client.
func signInLogged(t *testing.T, srv *testserver.Server, addr string, kind store.LogStatus, detail string) bool {
	t.Helper()
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{Address: addr, Status: kind})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.RemoteIP == "127.0.0.1" && e.Detail == detail {
			return true
		}
	}
	t.Logf("%s records of %s: %+v", kind, addr, evs)
	return false
}

func queued(t *testing.T, srv *testserver.Server, addr string) []store.QueueEntry {
	t.Helper()
	a, err := srv.Store.Account(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	es, err := srv.Store.QueueEntries(context.Background(), store.QueueQuery{AccountID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestSubmitStoresSentQueueAndColleagueInbox: one message to a protected
// colleague and an outside address gives one Sent copy, one queue entry
// per recipient, the colleague's INBOX copy and the log events.
func TestSubmitStoresSentQueueAndColleagueInbox(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if got := send(c, alice, []string{bob, outsider}, msg(alice, bob+", "+outsider, "m1@x", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["m1@x"]; !ok {
		t.Errorf("no Sent copy")
	}
	if _, ok := srv.Bodies(t, bob, store.Inbox)["m1@x"]; !ok {
		t.Errorf("no INBOX copy for the protected colleague")
	}
	es := queued(t, srv, alice)
	rcpts := map[string]bool{}
	for _, e := range es {
		rcpts[e.Rcpt] = true
	}
	if len(es) != 2 || !rcpts[bob] || !rcpts[outsider] {
		t.Errorf("queue entries %+v, want one for %s and one for %s", es, bob, outsider)
	}
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{MessageID: "m1@x"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[store.LogStatus]int{}
	for _, e := range evs {
		kinds[e.Status]++
		if e.RemoteIP != "127.0.0.1" {
			t.Errorf("event %s without the client IP: %+v", e.Status, e)
		}
	}
	if kinds[msglog.Submitted] != 1 || kinds[msglog.Queued] != 2 || kinds[msglog.Stored] != 2 {
		t.Errorf("log events %v, want 1 submitted, 2 queued, 2 stored", kinds)
	}
}

// TestWellFormedHeadersAccepted: what CheckHeader lets through, as mail
// programs write it: folded fields, a continuation line of white space
// only (obsolete syntax, read alike by all), no body, bare LF line
// endings (made CRLF on the way in), 8-bit text in a value.
func TestWellFormedHeadersAccepted(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	for mid, body := range map[string]string{
		"folded@x": "From: " + alice + "\r\nTo: " + outsider + ",\r\n \r\n\tother@far.test\r\nSubject: folded\r\n subject\r\nMessage-ID: <folded@x>\r\n\r\nhi\r\n",
		"nobody@x": "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: no body\r\nMessage-ID: <nobody@x>\r\n",
		"barelf@x": "From: " + alice + "\nTo: " + outsider + "\nSubject: bare LF\nMessage-ID: <barelf@x>\n\nhi\n",
		"utf8@x":   "From: Zo\u00eb <" + alice + ">\r\nTo: " + outsider + "\r\nSubject: caf\u00e9\r\nMessage-ID: <utf8@x>\r\n\r\nhi\r\n",
		// Quotes that quote nothing: the same address (RFC 5322 3.4.1).
		"quoted@x": "From: \"" + strings.Replace(alice, "@", "\"@", 1) + "\r\nTo: " + outsider + "\r\nSubject: quoted\r\nMessage-ID: <quoted@x>\r\n\r\nhi\r\n",
	} {
		if got := send(c, alice, []string{outsider}, body); got != "ok" {
			t.Errorf("%s: %s, want it sent", mid, got)
		}
		if _, ok := srv.Bodies(t, alice, store.Sent)[mid]; !ok {
			t.Errorf("%s: no Sent copy", mid)
		}
	}
}

// TestRefusals: what a submission server must refuse, each with its code.
func TestRefusals(t *testing.T) {
	srv := start(t, func(c *config.Config) {
		c.Submission.MaxRecipients = 3
		c.Submission.MaxPerHour = 2
	})
	authed := func(t *testing.T) *smtp.Client {
		c := dial(t, srv)
		if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
		return c
	}
	t.Run("AUTH before STARTTLS", func(t *testing.T) {
		// By hand: go-smtp's client would not even try.
		conn, err := net.Dial("tcp", srv.Submission)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		r := bufio.NewReader(conn)
		read := func() string {
			var all string
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("read: %v (so far %q)", err, all)
				}
				all += line
				if len(line) < 4 || line[3] != '-' {
					return all
				}
			}
		}
		read()
		fmt.Fprintf(conn, "EHLO client.test\r\n")
		if ehlo := read(); strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
			t.Errorf("EHLO before STARTTLS:\n%s", ehlo)
		}
		fmt.Fprintf(conn, "AUTH PLAIN %s\r\n", base64Std("\x00"+alice+"\x00"+alicePw))
		if got := read(); !strings.HasPrefix(got, "523 5.7.10") {
			t.Errorf("AUTH before STARTTLS: %q, want 523 5.7.10", got)
		}
		fmt.Fprintf(conn, "MAIL FROM:<%s>\r\n", alice)
		if got := read(); !strings.HasPrefix(got, "530 5.7.0") {
			t.Errorf("MAIL before STARTTLS and AUTH: %q, want 530 5.7.0", got)
		}
	})
	t.Run("relay without AUTH", func(t *testing.T) {
		c := dial(t, srv)
		if got := send(c, alice, []string{outsider}, msg(alice, outsider, "r1@x", "")); got != "530 5.7.0" {
			t.Errorf("MAIL before AUTH: %s, want 530 5.7.0", got)
		}
		if len(queued(t, srv, alice)) != 0 {
			t.Errorf("queued without AUTH")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := dial(t, srv)
		if got := code(c.Auth(sasl.NewPlainClient("", alice, "wrong"))); got != "535 5.7.8" {
			t.Errorf("wrong password: %s, want 535 5.7.8", got)
		}
		// A name held nowhere, as long as a client likes: answered the
		// same, and not logged (nobody's tenant would see it, and each
		// attempt would add its text to the log).
		made := strings.Repeat("x", 90<<10) + "@" + strings.Split(alice, "@")[1]
		if got := code(dial(t, srv).Auth(sasl.NewPlainClient("", made, "wrong"))); got != "535 5.7.8" {
			t.Errorf("unknown user: %s, want 535 5.7.8", got)
		}
		srv.FlushLog(t)
		if !signInLogged(t, srv, alice, msglog.LoginFailed, "submission sign-in failed") {
			t.Errorf("failed sign-in not in the message log as login-failed with the IP")
		}
		all, _ := srv.Store.SearchLog(context.Background(), store.LogQuery{})
		for _, e := range all {
			if strings.Contains(e.MailFrom+e.Rcpt, "xxxxxxxxxx") {
				t.Errorf("a made-up user name reached the message log: %s %.60s…", e.Status, e.MailFrom+e.Rcpt)
			}
		}
	})
	t.Run("sign-in logged", func(t *testing.T) {
		authed(t)
		srv.FlushLog(t)
		if !signInLogged(t, srv, alice, msglog.Login, "submission sign-in") {
			t.Errorf("sign-in not in the message log as login with the IP")
		}
	})
	t.Run("PLAIN for another identity", func(t *testing.T) {
		c := dial(t, srv)
		if got := code(c.Auth(sasl.NewPlainClient(bob, alice, alicePw))); got != "535 5.7.8" {
			t.Errorf("authzid of another user: %s, want 535 5.7.8", got)
		}
	})
	t.Run("spoofed envelope", func(t *testing.T) {
		c := authed(t)
		if got := send(c, bob, []string{outsider}, msg(bob, outsider, "s1@x", "")); got != "550 5.7.1" {
			t.Errorf("MAIL FROM another address: %s, want 550 5.7.1", got)
		}
	})
	t.Run("spoofed From", func(t *testing.T) {
		c := authed(t)
		if got := send(c, alice, []string{outsider}, msg(bob, outsider, "s2@x", "")); got != "550 5.7.1" {
			t.Errorf("From of another address: %s, want 550 5.7.1", got)
		}
		two := strings.Replace(msg(alice, outsider, "s3@x", ""), "From: Alice <"+alice+">", "From: "+alice+", "+bob, 1)
		if got := send(c, alice, []string{outsider}, two); got != "550 5.7.1" {
			t.Errorf("From with a second, foreign address: %s, want 550 5.7.1", got)
		}
		if got := send(c, alice, []string{outsider}, "To: x@far.test\r\nSubject: no from\r\n\r\nhi\r\n"); got != "550 5.7.1" {
			t.Errorf("no From header: %s, want 550 5.7.1", got)
		}
		if _, ok := srv.Bodies(t, alice, store.Sent)["s2@x"]; ok {
			t.Errorf("spoofed message stored")
		}
	})
	t.Run("malformed header", func(t *testing.T) {
		// A line that is no header field ended the header for our From
		// check, while the relay and the DKIM signer read on to the
		// blank line and took the second From for the message's: a
		// colleague's name, signed by our domain. Each such line, in
		// every way of making one, is refused before anything is kept.
		c := authed(t)
		for i, line := range []string{"X-Junk", ">From x", ":", "X Y: v", "X-\xe9t\xe9: v", "\x00", "From x@y Sat Dec  5 08:00:00 2026", "X-Nul: a\x00b"} {
			mid := fmt.Sprintf("smuggle%d@x", i)
			body := "From: " + alice + "\r\nTo: " + outsider + "\r\nSubject: s\r\nMessage-ID: <" + mid + ">\r\n" + line + "\r\nFrom: " + bob + "\r\n\r\nhi\r\n"
			if got := send(c, alice, []string{outsider}, body); got != "554 5.6.0" {
				t.Errorf("header with the line %q before a second From: %s, want 554 5.6.0", line, got)
			}
			if _, ok := srv.Bodies(t, alice, store.Sent)[mid]; ok {
				t.Errorf("message with the line %q stored", line)
			}
		}
		for name, body := range map[string]string{
			"mbox From line first":   "From alice Sat Dec  5 08:00:00 2026\r\n" + msg(alice, outsider, "mbox@x", ""),
			"continuation first":     " folded\r\n" + msg(alice, outsider, "orphan@x", ""),
			"no header field at all": "Hello there\r\nFrom: " + alice + "\r\n\r\nhi\r\n",
		} {
			if got := send(c, alice, []string{outsider}, body); got != "554 5.6.0" {
				t.Errorf("%s: %s, want 554 5.6.0", name, got)
			}
		}
		if n := len(queued(t, srv, alice)); n != 0 {
			t.Errorf("%d queue entries after refused messages", n)
		}
	})
	t.Run("too many recipients", func(t *testing.T) {
		c := authed(t)
		if err := c.Mail(alice, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := c.Rcpt(fmt.Sprintf("r%d@far.test", i), nil); err != nil {
				t.Fatalf("RCPT %d: %v", i, err)
			}
		}
		if got := code(c.Rcpt("r3@far.test", nil)); got != "452 4.5.3" {
			t.Errorf("fourth RCPT: %s, want 452 4.5.3", got)
		}
		c.Reset()
	})
	t.Run("over the hourly limit", func(t *testing.T) {
		c := authed(t)
		for i := range 2 {
			if got := send(c, alice, []string{outsider}, msg(alice, outsider, fmt.Sprintf("h%d@x", i), "")); got != "ok" {
				t.Fatalf("message %d: %s", i, got)
			}
		}
		if got := send(c, alice, []string{outsider}, msg(alice, outsider, "h2@x", "")); got != "450 4.7.1" {
			t.Errorf("third message in the hour: %s, want 450 4.7.1", got)
		}
		// Another user has their own allowance.
		c2 := dial(t, srv)
		if err := c2.Auth(sasl.NewPlainClient("", bob, bobPw)); err != nil {
			t.Fatal(err)
		}
		if got := send(c2, bob, []string{outsider}, msg(bob, outsider, "b1@x", "")); got != "ok" {
			t.Errorf("bob's first message: %s", got)
		}
	})
}

// tryRecipients signs alice in and starts one transaction (MAIL with
// opts), checking each RCPT's answer against want ("ok" or a code); when
// any was accepted, it sends a message to them. It returns the
// recipients queued for alice so far, sorted.
func tryRecipients(t *testing.T, srv *testserver.Server, opts *smtp.MailOptions, want map[string]string) []string {
	t.Helper()
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(alice, opts); err != nil {
		t.Fatal(err)
	}
	accepted := false
	for rcpt, w := range want {
		got := code(c.Rcpt(rcpt, nil))
		if got != w {
			t.Errorf("RCPT TO:<%s> (SMTPUTF8 %v): %s, want %s", rcpt, opts != nil && opts.UTF8, got, w)
		}
		accepted = accepted || got == "ok"
	}
	if accepted {
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, msg(alice, outsider, fmt.Sprintf("rcpts-%d@x", len(want)), ""))
		if got := code(w.Close()); got != "ok" {
			t.Fatalf("DATA: %s", got)
		}
	}
	var rcpts []string
	for _, e := range queued(t, srv, alice) {
		rcpts = append(rcpts, e.Rcpt)
	}
	slices.Sort(rcpts)
	return rcpts
}

// TestRecipientSyntax: a recipient with a second "@" is refused at RCPT
// 553 5.1.3, the others of the transaction go on (it was accepted as the
// local part "bad@" and relayed). <Postmaster> without a domain (RFC 5321
// 4.1.1.3) is the postmaster of the user's own domain (go-smtp before
// v0.26 answered it 501, a syntax error).
func TestRecipientSyntax(t *testing.T) {
	srv := start(t, nil)
	got := tryRecipients(t, srv, nil, map[string]string{
		"bad@@far.test":    "553 5.1.3",
		"a@b@far.test":     "553 5.1.3",
		"@far.test":        "501 5.5.2",
		"dave@far.test":    "ok",
		"Erin@Far.Test":    "ok",
		"f.o+tag@far.test": "ok",
		"Postmaster":       "ok",
		"postmasterx":      "501 5.5.2",
	})
	// The local part as written (RFC 5321 2.4), the domain in lower case.
	if want := []string{"Erin@far.test", "Postmaster@example.test", "dave@far.test", "f.o+tag@far.test"}; !slices.Equal(got, want) {
		t.Errorf("queued for %q, want %q", got, want)
	}
}

// TestInternationalRecipients: with SMTPUTF8 announced and asked for in
// MAIL, a recipient domain in U-labels is taken and queued in its
// A-labels (it was refused 553 5.1.3), a UTF-8 local part as it is;
// without SMTPUTF8 in MAIL, a UTF-8 address is refused 553 5.6.7 (RFC
// 6531 3.5), in RCPT and in MAIL itself.
func TestInternationalRecipients(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	if got := code(c.Mail("älice@example.test", nil)); got != "553 5.6.7" {
		t.Errorf("MAIL FROM a UTF-8 address without SMTPUTF8: %s, want 553 5.6.7", got)
	}
	tryRecipients(t, srv, nil, map[string]string{"user@bücher.test": "553 5.6.7", "üser@far.test": "553 5.6.7"})
	got := tryRecipients(t, srv, &smtp.MailOptions{UTF8: true}, map[string]string{
		"user@bücher.test": "ok",
		"üser@far.test":    "ok",
		"x@-ü.test":        "553 5.1.3", // a label may not start with a hyphen
	})
	if want := []string{"user@xn--bcher-kva.test", "üser@far.test"}; !slices.Equal(got, want) {
		t.Errorf("queued for %q, want %q", got, want)
	}
}

// TestSpoofedOriginators: a From or Sender field past the first one, or
// a Sender that is not the user's, is refused like a foreign From: the
// envelope held only the first of each field, while a reader's mail
// program may show another.
func TestSpoofedOriginators(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	own := "From: Alice <" + alice + ">\r\n"
	for _, tc := range []struct{ name, fields, want string }{
		{"second From", own + "From: " + bob + "\r\n", "550 5.7.1"},
		{"second From after a broken one", "From: <" + alice + "\r\nFrom: " + bob + "\r\n", "550 5.7.1"},
		{"foreign Sender", own + "Sender: " + bob + "\r\n", "550 5.7.1"},
		{"two Senders", own + "Sender: " + alice + "\r\nsender: " + bob + "\r\n", "550 5.7.1"},
		{"own Sender", own + "Sender: " + alice + "\r\n", "ok"},
	} {
		mid := strings.ReplaceAll(tc.name, " ", "-") + "@x"
		body := tc.fields + "To: " + outsider + "\r\nSubject: " + tc.name + "\r\nMessage-ID: <" + mid + ">\r\n\r\nhi\r\n"
		if got := send(c, alice, []string{outsider}, body); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if _, stored := srv.Bodies(t, alice, store.Sent)[mid]; stored != (tc.want == "ok") {
			t.Errorf("%s: stored %v", tc.name, stored)
		}
	}
}

// TestBccStrippedFromWhatIsSent: the Sent copy keeps Bcc, the queued body
// and a protected recipient's copy do not.
func TestBccStrippedFromWhatIsSent(t *testing.T) {
	srv := start(t, nil)
	c := dial(t, srv)
	if err := c.Auth(sasl.NewPlainClient("", alice, alicePw)); err != nil {
		t.Fatal(err)
	}
	body := msg(alice, outsider, "bcc1@x", "Bcc: "+bob+",\r\n secret@far.test\r\nResent-Bcc: resent@far.test\r\n")
	if got := send(c, alice, []string{outsider, bob, "secret@far.test"}, body); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	sent := string(srv.Bodies(t, alice, store.Sent)["bcc1@x"])
	if !strings.Contains(sent, "Bcc: "+bob+",\r\n secret@far.test\r\n") {
		t.Errorf("Sent copy lost its Bcc header:\n%s", sent)
	}
	inbox := string(srv.Bodies(t, bob, store.Inbox)["bcc1@x"])
	if inbox == "" || strings.Contains(strings.ToLower(inbox), "bcc:") || strings.Contains(inbox, "secret@") {
		t.Errorf("colleague's copy shows the Bcc:\n%s", inbox)
	}
	es := queued(t, srv, alice)
	if len(es) != 3 {
		t.Fatalf("%d queue entries, want 3", len(es))
	}
	a, _ := srv.Store.Account(context.Background(), alice)
	rc, err := srv.Store.OpenBody(context.Background(), a.ID, es[0].BodyID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if strings.Contains(strings.ToLower(string(b)), "bcc:") || strings.Contains(string(b), "resent@") || !strings.Contains(string(b), "Hi there.") {
		t.Errorf("queued body:\n%s", b)
	}
}

// TestImplicitTLS465: submission over TLS from the first byte, AUTH LOGIN.
func TestImplicitTLS465(t *testing.T) {
	srv := start(t, nil)
	c, err := smtp.DialTLS(srv.Submissions, srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS offered inside TLS")
	}
	if err := c.Auth(loginClient{alice, alicePw}); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	if got := send(c, alice, []string{outsider}, msg(alice, outsider, "tls1@x", "")); got != "ok" {
		t.Fatalf("send: %s", got)
	}
	if _, ok := srv.Bodies(t, alice, store.Sent)["tls1@x"]; !ok {
		t.Errorf("no Sent copy")
	}
}

// TestLoginRaw drives AUTH LOGIN by hand, with and without an initial
// response, as Outlook and older phones do.
func TestLoginRaw(t *testing.T) {
	srv := start(t, nil)
	for _, initial := range []bool{false, true} {
		conn, err := tls.Dial("tcp", srv.Submissions, srv.ClientTLS())
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		expect := func(prefix string) {
			t.Helper()
			for {
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("want %q: %v", prefix, err)
				}
				if !strings.HasPrefix(line, prefix) {
					t.Fatalf("got %q, want %q", line, prefix)
				}
				if len(line) < 4 || line[3] != '-' {
					return
				}
			}
		}
		b64 := func(s string) string { return base64Std(s) }
		expect("220 ")
		fmt.Fprintf(conn, "EHLO c\r\n")
		expect("250")
		if initial {
			fmt.Fprintf(conn, "AUTH LOGIN %s\r\n", b64(alice))
		} else {
			fmt.Fprintf(conn, "AUTH LOGIN\r\n")
			expect("334 " + b64("Username:"))
			fmt.Fprintf(conn, "%s\r\n", b64(alice))
		}
		expect("334 " + b64("Password:"))
		fmt.Fprintf(conn, "%s\r\n", b64(alicePw))
		expect("235 ")
		conn.Close()
	}
}

// TestMalformedAuth: a SASL response the mechanism cannot read (an empty
// PLAIN message, one without its NULs) is the client's syntax error, 501
// 5.5.2, not go-smtp's "454 4.7.0 sasl: invalid response", a temporary
// failure with the library's words; "*" cancels with 501 (RFC 4954 4).
// The session signs in afterwards.
func TestMalformedAuth(t *testing.T) {
	srv := start(t, nil)
	conn, err := tls.Dial("tcp", srv.Submissions, srv.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawConv{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect("220 ")
	c.cmd("EHLO c", "250")
	for _, tc := range []struct{ name, first, second, want string }{
		{"empty initial response", "AUTH PLAIN =", "", "501 5.5.2"},
		{"empty response", "AUTH PLAIN", "=", "501 5.5.2"},
		{"no NULs", "AUTH PLAIN " + base64Std(alice+alicePw), "", "501 5.5.2"},
		{"one NUL", "AUTH PLAIN " + base64Std(alice+"\x00"+alicePw), "", "501 5.5.2"},
		{"cancelled", "AUTH LOGIN", "*", "501 "},
		{"signed in after all that", "AUTH PLAIN " + base64Std("\x00"+alice+"\x00"+alicePw), "", "235 2.0.0"},
	} {
		var got string
		if tc.second != "" {
			c.cmd(tc.first, "334")
			got = c.cmd(tc.second, "")
		} else {
			got = c.cmd(tc.first, "")
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %s", tc.name, got, tc.want)
		}
		if strings.Contains(got, "sasl") {
			t.Errorf("%s: %q shows the library's words", tc.name, got)
		}
	}
}

// TestStockClients: Python smtplib (STARTTLS + PLAIN, STARTTLS + LOGIN,
// 465), swaks and msmtp submit; the Sent copies are read back over IMAP
// with Python imaplib.
func TestStockClients(t *testing.T) {
	srv := start(t, nil)
	cafile := filepath.Join(srv.Data, tlsutil.SelfSignedCertFile)
	host, port587, _ := net.SplitHostPort(srv.Submission)
	_, port465, _ := net.SplitHostPort(srv.Submissions)
	_, portIMAP, _ := net.SplitHostPort(srv.IMAP)
	dir := t.TempDir()
	script := filepath.Join(dir, "send.py")
	os.WriteFile(script, []byte(pyScript), 0o644)
	out, err := exec.Command("python3", script, "localhost", port587, port465, portIMAP, cafile, alice, alicePw).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "refused 530") || !strings.Contains(string(out), "refused 550") {
		t.Errorf("python refusals not seen:\n%s", out)
	}
	_ = host

	swaksMsg := filepath.Join(dir, "swaks.eml")
	os.WriteFile(swaksMsg, []byte(msg(alice, outsider, "swaks1@x", "")), 0o644)
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		cmd := exec.Command("swaks", "--server", "localhost", "--port", port587, "--tls", "--tls-ca-path", cafile,
			"--auth", mech, "--auth-user", alice, "--auth-password", alicePw,
			"--from", alice, "--to", outsider, "--data", swaksMsg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("swaks %s: %v\n%s", mech, err, out)
		}
	}
	cmd := exec.Command("swaks", "--server", "localhost", "--port", port587, "--tls", "--tls-ca-path", cafile,
		"--auth", "PLAIN", "--auth-user", alice, "--auth-password", alicePw,
		"--from", bob, "--to", outsider, "--data", swaksMsg)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "550 5.7.1") {
		t.Errorf("swaks with a spoofed envelope: %v\n%s", err, out)
	}

	if _, err := exec.LookPath("msmtp"); err != nil {
		t.Fatalf("msmtp is not installed (scripts/test installs it): %v", err)
	}
	for i, tlsMode := range []string{"starttls", "implicit"} {
		port := port587
		starttls := "on"
		if tlsMode == "implicit" {
			port, starttls = port465, "off"
		}
		rc := filepath.Join(dir, "msmtprc")
		os.WriteFile(rc, []byte(fmt.Sprintf("account default\nhost localhost\nport %s\nauth on\nuser %s\npassword %s\nfrom %s\ntls on\ntls_starttls %s\ntls_trust_file %s\n",
			port, alice, alicePw, alice, starttls, cafile)), 0o600)
		mid := fmt.Sprintf("msmtp%d@x", i)
		cmd := exec.Command("msmtp", "-C", rc, outsider)
		cmd.Stdin = strings.NewReader(msg(alice, outsider, mid, ""))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("msmtp %s: %v\n%s", tlsMode, err, out)
		}
	}

	sent := srv.Bodies(t, alice, store.Sent)
	for _, mid := range []string{"py-plain@x", "py-login@x", "py-465@x", "swaks1@x", "msmtp0@x", "msmtp1@x"} {
		if _, ok := sent[mid]; !ok {
			t.Errorf("no Sent copy of %s", mid)
		}
	}
}

const pyScript = `
import imaplib, smtplib, ssl, sys
host, p587, p465, pimap, cafile, user, pw = sys.argv[1:]
ctx = ssl.create_default_context(cafile=cafile)
def msg(mid):
    return ("From: %s\r\nTo: carol@far.test\r\nSubject: py %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n" % (user, mid, mid)).encode()

s = smtplib.SMTP(host, int(p587), timeout=60)
s.starttls(context=ctx)
s.ehlo()
code, text = s.mail(user)
print("refused", code, text)
code, text = s.rcpt("carol@far.test")
print("rcpt without auth", code, text)
s.rset()
s.login(user, pw)   # smtplib prefers PLAIN... after CRAM-MD5
s.sendmail(user, ["carol@far.test"], msg("py-plain@x"))
try:
    s.sendmail("bob@example.test", ["carol@far.test"], msg("py-spoof@x"))
except smtplib.SMTPSenderRefused as e:
    print("refused", e.smtp_code)
s.quit()

s = smtplib.SMTP(host, int(p587), timeout=60)
s.starttls(context=ctx)
s.ehlo()
s.user, s.password = user, pw
s.auth("LOGIN", s.auth_login)
s.sendmail(user, ["carol@far.test"], msg("py-login@x"))
s.quit()

s = smtplib.SMTP_SSL(host, int(p465), context=ctx, timeout=60)
s.login(user, pw)
s.sendmail(user, ["carol@far.test"], msg("py-465@x"))
s.quit()

m = imaplib.IMAP4_SSL(host, int(pimap), ssl_context=ctx)
m.login(user, pw)
typ, _ = m.select("Sent")
assert typ == "OK", typ
typ, data = m.search(None, 'HEADER', 'Message-ID', 'py-465@x')
assert typ == "OK" and data[0].split(), data
typ, data = m.fetch(data[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
assert b"py-465@x" in data[0][1], data
print("imap sees the Sent copy")
m.logout()
`
