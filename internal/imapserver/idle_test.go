package imapserver_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/capture"
)

// startCapture runs the real capture listener on the env's store.
func (e *env) startCapture() string {
	e.t.Helper()
	srv := capture.New(capture.Config{}, e.st, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Serve(ln)
	e.t.Cleanup(func() { srv.Shutdown(e.t.Context()) })
	return ln.Addr().String()
}

// An imapclient in IDLE sees a message captured over SMTP within a
// second.
func TestIdleSeesCapture(t *testing.T) {
	e := newEnv(t)
	smtpAddr := e.startCapture()
	exists := make(chan uint32, 10)
	c, err := imapclient.DialTLS(e.addr, &imapclient.Options{
		TLSConfig: &tls.Config{RootCAs: e.roots, ServerName: "localhost"},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 0 {
		t.Fatalf("INBOX has %d messages", sel.NumMessages)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	body := msg("during idle", "hello")
	if err := smtp.SendMail(smtpAddr, nil, "bob@example.net", []string{testUser}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d", n)
		}
		// The push latency is a figure of the load tool's idle mode, not
		// an assertion here: a loaded machine would make it flaky.
		t.Logf("EXISTS %v after the capture began", time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("no EXISTS during IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Envelope: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Envelope.Subject != "during idle" {
		t.Fatalf("fetched %+v", msgs)
	}
	for _, b := range msgs[0].BodySection {
		if !strings.Contains(string(b.Bytes), "hello") {
			t.Errorf("body %q", b.Bytes)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

// IDLE pushes flag changes and expunges from another session at once.
func TestIdlePushesChanges(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("a", "x"), 0)
	e.deliver("INBOX", msg("b", "y"), 0)
	watcher := e.login()
	watcher.ok("SELECT INBOX")
	other := e.login()
	other.ok("SELECT INBOX")

	watcher.send("i IDLE")
	if l := watcher.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	other.ok(`STORE 2 +FLAGS (\Flagged \Deleted)`)
	if l := watcher.line(); l != `* 2 FETCH (FLAGS (\Flagged \Deleted))` {
		t.Errorf("flag push: %q", l)
	}
	other.ok("EXPUNGE")
	if l := watcher.line(); l != "* 2 EXPUNGE" {
		t.Errorf("expunge push: %q", l)
	}
	e.deliverNew("INBOX", msg("c", "z"), 0)
	if l := watcher.line(); l != "* 2 EXISTS" {
		t.Errorf("exists push: %q", l)
	}
	if l := watcher.line(); l != "* 1 RECENT" {
		t.Errorf("recent push: %q", l)
	}
	watcher.send("DONE")
	if _, st := watcher.until("i"); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	// \Recent went to the watcher (first to see it), not to the other.
	has(t, watcher.ok("FETCH 2 FLAGS"), `\Recent`)
	lines := other.ok("FETCH 1:* FLAGS")
	hasNot(t, lines, `\Recent`)
}
