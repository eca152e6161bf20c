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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

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
// its queue relaying to a sink.
func browserServer(t *testing.T, undo time.Duration) (*testserver.Server, *sink) {
	t.Helper()
	sk := startSink(t)
	tlsCfg := webtest.ServerTLS(t)
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			tlsCfg(c)
			c.Webmail.UndoSend = config.Duration{Duration: undo}
			c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayPort, c.Queue.RelayTLS = "relay", "127.0.0.1", sk.port, "none"
		},
	})
	return srv, sk
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

// value is a form field's value.
func value(tab *webtest.Tab, css string) string {
	return webtest.Run(tab, chromedp.Value(chromedp.CSS(css)))
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
	srv, sk := browserServer(t, 10*time.Second)
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
	for _, dark := range []bool{false, true} {
		for _, w := range []int{webtest.LaptopWidth, webtest.PhoneWidth} {
			tab.SetDark(dark)
			tab.SetWidth(w)
			tab.Screenshot("compose-reply")
		}
	}
	tab.SetDark(false)
	tab.SetWidth(webtest.LaptopWidth)
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	tab.Screenshot("outbox-undo")

	m := waitSunk(t, sk, "Re: Plans")
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
	srv, sk := browserServer(t, time.Second)
	id := deliverTo(t, srv, bob, plansMsg)
	tab := webtest.NewTab(t, webtest.Phone)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose?forward=" + strconv.FormatInt(id, 10))
	waitText(t, tab, "#draft-state", "agenda.pdf")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"))
	tab.Screenshot("compose-forward")
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	m := waitSunk(t, sk, "Fwd: Plans")
	if !bytes.Contains(m.data, []byte("agenda.pdf")) || !bytes.Contains(m.data, []byte("Shall we meet on Monday?")) {
		t.Fatalf("forward lacks the original's attachment or text:\n%s", m.data)
	}
}

// TestBrowserDraftSurvivesReload: what is typed is saved while typing
// and is there again after a reload.
func TestBrowserDraftSurvivesReload(t *testing.T) {
	srv, _ := browserServer(t, 10*time.Second)
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
// relay never gets it.
func TestBrowserUndoSend(t *testing.T) {
	// The click on Undo must come within the hold: generous, for a
	// loaded machine under the race detector.
	const hold = 30 * time.Second
	srv, sk := browserServer(t, hold)
	tab := webtest.NewTab(t, webtest.Dark)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose")
	tab.Do(
		chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "Oops"),
		chromedp.SendKeys(chromedp.CSS("#text"), "Not meant to go"),
		chromedp.Click(chromedp.CSS("#send-button")),
	)
	waitText(t, tab, "main", "Sending")
	tab.Do(chromedp.Click(chromedp.CSS("#undo-button")))
	waitText(t, tab, "main", "Draft")
	subject := value(tab, "#subject")
	if subject != "Oops" {
		t.Fatalf("after undo the subject is %q", subject)
	}
	time.Sleep(hold + 2*time.Second) // past the hold
	for _, m := range sk.got() {
		if message.Parse(m.data).Subject == "Oops" {
			t.Fatal("the relay got an undone message")
		}
	}
	if n := len(srv.Messages(t, bob, store.Sent)); n != 0 {
		t.Fatalf("%d messages in Sent after undo", n)
	}
}

// TestBrowserChangePassword: the settings page changes the password;
// the old one then fails over IMAP.
func TestBrowserChangePassword(t *testing.T) {
	srv, _ := browserServer(t, 10*time.Second)
	tab := webtest.NewTab(t)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/settings")
	for _, dark := range []bool{false, true} {
		for _, w := range []int{webtest.LaptopWidth, webtest.PhoneWidth} {
			tab.SetDark(dark)
			tab.SetWidth(w)
			tab.Screenshot("settings")
		}
	}
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
