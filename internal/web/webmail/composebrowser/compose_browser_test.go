package composebrowser_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// sink is the relay the queue delivers to: a go-smtp server on loopback
// that keeps what it accepted.
type sink struct {
	mu   sync.Mutex
	msgs []sunk
	port int
}

type sunk struct {
	from  string
	rcpts []string
	data  []byte
}

func (s *sink) got() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

type sinkSession struct {
	s     *sink
	from  string
	rcpts []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.rcpts = "", nil }
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.rcpts = append(ss.rcpts, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunk{ss.from, ss.rcpts, b})
	ss.s.mu.Unlock()
	return nil
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// browserServer is the whole service with the browser's certificate and
// its queue relaying to a sink, on a test clock: a held message goes
// when the test moves the clock past its hold (passHold), however slow
// the steps before.
func browserServer(t *testing.T, undo time.Duration) (*testserver.Server, *sink, *clocktest.Clock) {
	t.Helper()
	sk := startSink(t)
	tlsCfg := webtest.ServerTLS(t)
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := testserver.Start(t, testserver.Options{
		Clock: clk,
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			tlsCfg(c)
			c.Webmail.UndoSend = config.Duration{Duration: undo}
			c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayPort, c.Queue.RelayTLS = "relay", "127.0.0.1", sk.port, "none"
		},
	})
	return srv, sk, clk
}

// passHold moves clk through the hold of the message sent (held) at
// sentAt on the clock: once the outbox waits for the hold's end, nothing
// may have reached the relay or Sent 1 ms before it; then the clock
// reaches it, and the relay gets subject.
func passHold(t *testing.T, srv *testserver.Server, sk *sink, clk *clocktest.Clock, sentAt time.Time, hold time.Duration, subject string) sunk {
	t.Helper()
	end := sentAt.Add(hold)
	waitFor(t, "the outbox to wait for the hold's end", func() bool { return slices.ContainsFunc(clk.Waiting(), end.Equal) })
	clk.Set(end.Add(-time.Millisecond))
	if n := len(sk.got()); n != 0 {
		t.Fatalf("the relay got %d messages 1 ms before the hold's end", n)
	}
	if n := len(srv.Messages(t, bob, store.Sent)); n != 0 {
		t.Fatalf("%d Sent copies 1 ms before the hold's end", n)
	}
	clk.Set(end)
	return waitSunk(t, sk, subject)
}

// deliverTo puts a message into an account's INBOX and returns its id.
func deliverTo(t *testing.T, srv *testserver.Server, addr, raw string) int64 {
	t.Helper()
	d := store.NewDelivery([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), time.Now())
	d.Copies = []store.Copy{{AccountID: srv.Account(t, addr).ID, Mailbox: store.Inbox}}
	dl, err := srv.Store.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return dl[0].MessageID
}

// waitSunk waits for the sink to have a message with subject.
func waitSunk(t *testing.T, sk *sink, subject string) sunk {
	t.Helper()
	var found sunk
	waitFor(t, "the relay to receive "+subject, func() bool {
		for _, m := range sk.got() {
			if message.Parse(m.data).Subject == subject {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, tab *webtest.Tab, css, want string) {
	t.Helper()
	tab.WaitFor("(document.querySelector(" + strconv.Quote(css) + ") || {textContent: ''}).textContent.includes(" + strconv.Quote(want) + ")")
}

// value is a form field's value, read in one evaluation: chromedp.Value
// finds the node and then asks for its value, and an htmx swap between
// the two (the autosave's) left it asking for a node that was gone.
func value(tab *webtest.Tab, css string) string {
	return webtest.Run(tab, chromedp.Evaluate[string]("(document.querySelector("+strconv.Quote(css)+") || {value: ''}).value"))
}

const plansMsg = `From: Alice <alice@example.org>
To: bob@example.test
Subject: Plans
Message-ID: <plans@example.org>
Date: Fri, 04 Dec 2026 09:15:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Shall we meet on Monday?
--b1
Content-Type: application/pdf
Content-Disposition: attachment; filename="agenda.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKYWdlbmRh
--b1--
`

// TestBrowserReplyWithAttachment: reply in Chromium, attach a file,
// send; after the undo window the relay gets the reply, threaded, with
// the file. Screenshots of compose at both widths, light and dark.
func TestBrowserReplyWithAttachment(t *testing.T) {
	// A hold long enough that the undo page is still counting when its
	// screenshot is taken on a loaded machine (race detector, 2 cores).
	const hold = 10 * time.Second
	srv, sk, clk := browserServer(t, hold)
	id := deliverTo(t, srv, bob, plansMsg)
	file := filepath.Join(t.TempDir(), "minutes.txt")
	os.WriteFile(file, []byte("minutes of the meeting\n"), 0o600)

	tab := webtest.NewTab(t)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose?reply=" + strconv.FormatInt(id, 10))
	var to, subject string
	to, subject = value(tab, "#to"), value(tab, "#subject")
	if to != "Alice <alice@example.org>" || subject != "Re: Plans" {
		t.Fatalf("reply prefilled To %q Subject %q", to, subject)
	}
	tab.Do(chromedp.SendKeys(chromedp.CSS("#text"), "Monday works."))
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{file}))
	waitText(t, tab, "#draft-state", "minutes.txt")
	tab.EachLook(func(int, bool) { tab.Screenshot("compose-reply") })
	sentAt := clk.Now()
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	tab.Screenshot("outbox-undo")

	m := passHold(t, srv, sk, clk, sentAt, hold, "Re: Plans")
	info := message.Parse(m.data)
	if info.Envelope.InReplyTo != "<plans@example.org>" || len(m.rcpts) != 1 || m.rcpts[0] != "alice@example.org" {
		t.Fatalf("relayed reply: In-Reply-To %q rcpts %v", info.Envelope.InReplyTo, m.rcpts)
	}
	if !bytes.Contains(m.data, []byte("minutes.txt")) || !bytes.Contains(m.data, []byte("Monday works.")) {
		t.Fatalf("relayed reply lacks the attachment or text:\n%s", m.data)
	}
	if len(tab.RemoteRequests(srv.Web)) != 0 {
		t.Errorf("compose made remote requests: %v", tab.RemoteRequests(srv.Web))
	}
}

// TestBrowserForward: forward with its attachment; the relay gets it.
func TestBrowserForward(t *testing.T) {
	const hold = time.Second
	srv, sk, clk := browserServer(t, hold)
	id := deliverTo(t, srv, bob, plansMsg)
	tab := webtest.NewTab(t, webtest.Phone)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose?forward=" + strconv.FormatInt(id, 10))
	waitText(t, tab, "#draft-state", "agenda.pdf")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"))
	tab.Screenshot("compose-forward")
	sentAt := clk.Now()
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	m := passHold(t, srv, sk, clk, sentAt, hold, "Fwd: Plans")
	if !bytes.Contains(m.data, []byte("agenda.pdf")) || !bytes.Contains(m.data, []byte("Shall we meet on Monday?")) {
		t.Fatalf("forward lacks the original's attachment or text:\n%s", m.data)
	}
}

// TestBrowserDraftSurvivesReload: what is typed is saved while typing
// and is there again after a reload.
func TestBrowserDraftSurvivesReload(t *testing.T) {
	srv, _, _ := browserServer(t, 10*time.Second)
	tab := webtest.NewTab(t)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose")
	tab.Do(
		chromedp.SendKeys(chromedp.CSS("#to"), "dave@far.test"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "Half written"),
		chromedp.SendKeys(chromedp.CSS("#text"), "To be continued"),
	)
	waitText(t, tab, "#draft-state", "Draft saved")
	var id string
	waitFor(t, "the saved draft to have the text", func() bool {
		id, _ = chromedp.Run(tab.Ctx, chromedp.Value(chromedp.CSS(`input[name="draft"]`)))
		ds := srv.Messages(t, bob, store.Drafts)
		return id != "0" && len(ds) == 1 && ds[0].Subject == "Half written" && strings.Contains(ds[0].Preview, "To be continued") &&
			strconv.FormatInt(ds[0].ID, 10) == id
	})
	tab.Navigate(srv.Web + "/compose?draft=" + id)
	to, subject, text := value(tab, "#to"), value(tab, "#subject"), value(tab, "#text")
	if to != "dave@far.test" || subject != "Half written" || !strings.Contains(text, "To be continued") {
		t.Fatalf("after reload: %q %q %q", to, subject, text)
	}
	// 360 px wide, and 1280 px at 200 % zoom (640 CSS px): nothing
	// wider than the screen, every field labelled.
	for _, w := range []int{360, 640} {
		tab.SetWidth(w)
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.Screenshot("compose-draft")
	}
	unlabelled := webtest.Run(tab, chromedp.Evaluate[int](`[...document.querySelectorAll("#compose-form input:not([type=hidden]), #compose-form textarea")]
		.filter(e => !e.labels || e.labels.length === 0).length`))
	if unlabelled != 0 {
		t.Errorf("%d compose fields without a label", unlabelled)
	}
}

// TestBrowserUndoSend: Undo takes the message back to compose, and the
// relay never gets it: past its hold nothing is held any more; sent
// again from compose, it goes once its new hold ends, and only once.
// The service runs on a test clock, so the click on Undo always comes
// within the hold, however loaded the machine.
func TestBrowserUndoSend(t *testing.T) {
	const hold = 10 * time.Second
	srv, sk, clk := browserServer(t, hold)
	tab := webtest.NewTab(t, webtest.Dark)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose")
	sentAt := clk.Now()
	tab.Do(
		chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "Oops"),
		chromedp.SendKeys(chromedp.CSS("#text"), "Not meant to go"),
		chromedp.Click(chromedp.CSS("#send-button")),
	)
	waitText(t, tab, "main", "Sending")
	held, err := strconv.ParseInt(strings.TrimPrefix(tab.Location(), srv.Web+"/outbox/"), 10, 64)
	if err != nil {
		t.Fatalf("the undo page is %s, not a held message's", tab.Location())
	}
	tab.Do(chromedp.Click(chromedp.CSS("#undo-button")))
	waitText(t, tab, "main", "Draft")
	subject := value(tab, "#subject")
	if subject != "Oops" {
		t.Fatalf("after undo the subject is %q", subject)
	}
	// Past the first hold: nothing is held, nothing went.
	clk.Set(sentAt.Add(hold + time.Second))
	if e, err := srv.Store.OutboxEntry(context.Background(), srv.Account(t, bob).ID, held); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the undone message is still in the outbox past its hold: %+v (%v)", e, err)
	}
	if n := len(sk.got()); n != 0 {
		t.Fatalf("the relay got %d messages after undo", n)
	}

	// Sent again: it goes when its own hold ends, once.
	sentAt = clk.Now()
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	passHold(t, srv, sk, clk, sentAt, hold, "Oops")
	waitFor(t, "the Sent copy", func() bool { return len(srv.Messages(t, bob, store.Sent)) == 1 })
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	if n := len(sk.got()); n != 1 {
		t.Fatalf("the relay got %d messages, want the second send's only", n)
	}
	if n := len(srv.Messages(t, bob, store.Sent)); n != 1 {
		t.Fatalf("%d messages in Sent, want the second send's only", n)
	}
}

// TestBrowserChangePassword: the settings page changes the password;
// the old one then fails over IMAP.
func TestBrowserChangePassword(t *testing.T) {
	srv, _, _ := browserServer(t, 10*time.Second)
	tab := webtest.NewTab(t)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/settings")
	tab.EachLook(func(int, bool) { tab.Screenshot("settings") })
	tab.Do(
		chromedp.SendKeys(chromedp.CSS("#current"), bobPw),
		chromedp.SendKeys(chromedp.CSS("#new"), "brand-new-pass-9"),
		chromedp.SendKeys(chromedp.CSS("#confirm"), "brand-new-pass-9"),
		chromedp.Submit(chromedp.CSS("#confirm")),
	)
	waitText(t, tab, ".flash", "Password changed")
	// The server serves the browser's certificate: trust that one.
	cert := webtest.Cert(t)
	pinned := &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || !bytes.Equal(raw[0], cert.Certificate[0]) {
			return errors.New("not the test certificate")
		}
		return nil
	}}
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: pinned})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(bob, bobPw).Wait(); err == nil {
		t.Fatal("the old password still works over IMAP")
	}
	c2, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: pinned})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login(bob, "brand-new-pass-9").Wait(); err != nil {
		t.Fatalf("the new password fails over IMAP: %v", err)
	}
}
