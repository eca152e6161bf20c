package service

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store/storetest"
	"github.com/xtramail/xtramail/internal/submission"
)

// TestContinuityColleagueBounceSaysDelivered: a message to a protected
// colleague is in their continuity INBOX from the submission's own
// transaction; when the relay refuses the copy for their primary mailbox
// (550), the sender's notice says in its text that the message was
// delivered to the colleague's continuity mailbox and that only the copy
// for the primary mailbox failed, so that nobody sends it again. An
// outsider refused alike is told as before; the machine-readable part
// says failed for both (RFC 3464: that relay attempt did fail).
func TestContinuityColleagueBounceSaysDelivered(t *testing.T) {
	sink := &relaySink{refuse: func(rcpt string) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}}
	srv := smtp.NewServer(sink)
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	cfg := quietConfig(t)
	cfg.Queue.Mode, cfg.Queue.RelayHost, cfg.Queue.RelayTLS = "relay", "127.0.0.1", "none"
	cfg.Queue.RelayPort = ln.Addr().(*net.TCPAddr).Port
	svc := startService(t, cfg)
	ctx := context.Background()
	if _, err := svc.Store.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	alice, err := svc.Store.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store.CreateAccount(ctx, "bob@example.org", ""); err != nil {
		t.Fatal(err)
	}

	notice := func(to, id string) []byte {
		body := "From: alice@example.org\r\nTo: " + to + "\r\nSubject: report\r\nMessage-ID: <" + id + ">\r\n" +
			"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nthe report\r\n"
		if _, err := svc.Submitter.Submit(ctx, submission.Message{Account: alice, MailFrom: alice.Address, Rcpts: []string{to}, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			for _, m := range storetest.Inbox(t, svc.Store, alice) {
				if bytes.Contains(m, []byte("In-Reply-To: <"+id+">")) {
					return m
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no notice about %s", id)
			}
		}
	}

	n := notice("bob@example.org", "colleague@example.org")
	text := queuetest.NoticeText(t, n)
	for _, want := range []string{
		"delivered to the continuity mailbox of the recipients below",
		"can read it there now",
		"Only the copy for their primary mailbox failed",
		"<bob@example.org> (continuity mailbox: delivered; primary mailbox: failed): ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the colleague's notice lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "could not be delivered to the recipients") || !bytes.Contains(n, []byte("Subject: Copy for Primary Mailbox Undelivered")) {
		t.Errorf("the colleague's notice says the message was not delivered:\n%s", n)
	}
	if !bytes.Contains(n, []byte("Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.1.1")) {
		t.Errorf("the machine-readable part:\n%s", n)
	}

	n = notice("carol@remote.test", "outsider@example.org")
	text = queuetest.NoticeText(t, n)
	if strings.Contains(text, "continuity") || !strings.Contains(text, "<carol@remote.test> (failed): ") ||
		!bytes.Contains(n, []byte("Subject: Undelivered Mail Returned to Sender")) {
		t.Errorf("the outsider's notice:\n%s", n)
	}
}
