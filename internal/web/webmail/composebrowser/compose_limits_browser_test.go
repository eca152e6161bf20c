package composebrowser_test

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// randomFile writes n random bytes to a file named name in dir.
func randomFile(t *testing.T, dir, name string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// gate is a TCP proxy in front of the web listener whose hold stops
// forwarding what the browser sends once a connection has carried
// holdAllowance bytes since the hold began: an upload then stalls part
// way, with its progress shown for as long as the test looks, whatever
// the machine's speed, while a connection opened meanwhile still gets
// through its TLS handshake and headers. (Chromium's network emulation
// throttled uploads only some of the time: its conditions reach the
// network service after the command has answered.)
type gate struct {
	addr  string
	mu    sync.Mutex
	cond  *sync.Cond
	held  bool
	holds int // holds begun, so that each connection counts from the last
}

const holdAllowance = 64 << 10

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	g := &gate{addr: ln.Addr().String()}
	g.cond = sync.NewCond(&g.mu)
	t.Cleanup(g.open)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.serve(c, target)
		}
	}()
	return g
}

func (g *gate) serve(c net.Conn, target string) {
	defer c.Close()
	// A small receive buffer keeps what the kernel takes while held
	// well under the upload's size.
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(c, s)
		c.Close()
	}()
	buf := make([]byte, 16<<10)
	seen, passed := 0, 0
	for {
		g.mu.Lock()
		for g.held {
			if seen != g.holds {
				seen, passed = g.holds, 0
			}
			if passed < holdAllowance {
				break
			}
			g.cond.Wait()
		}
		g.mu.Unlock()
		n, err := c.Read(buf)
		passed += n
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			s.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

func (g *gate) hold() {
	g.mu.Lock()
	g.held = true
	g.holds++
	g.mu.Unlock()
}

func (g *gate) open() {
	g.mu.Lock()
	g.held = false
	g.mu.Unlock()
	g.cond.Broadcast()
}

// TestBrowserComposeThreeUploadsAndLimit: three files chosen at once
// upload with a progress bar, then are listed in the draft; a fourth
// that takes the draft past the limit is refused with 413, the limit
// named, and the three stay listed, with script and without (the
// whole-page answer of a plain form post). Screenshots of each at 390
// and 1280 px, light and dark.
func TestBrowserComposeThreeUploadsAndLimit(t *testing.T) {
	tlsCfg := webtest.ServerTLS(t)
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			tlsCfg(c)
			// Attachments up to 2.9 MB (57/78 of 4 MiB less room for the text: base64).
			c.Submission.MaxMessageBytes = 4 << 20
		},
	})
	dir := t.TempDir()
	files := []string{
		randomFile(t, dir, "quarterly-report.pdf", 700<<10),
		randomFile(t, dir, "site photo 1.jpg", 600<<10),
		randomFile(t, dir, "budget-2027.xlsx", 500<<10),
	}
	big := randomFile(t, dir, "archive.zip", 1200<<10)

	// The whole test goes through the gate: one origin.
	g := newGate(t, strings.TrimPrefix(srv.Web, "https://"))
	web := "https://" + g.addr
	tab := webtest.NewTab(t)
	tab.SignIn(web, bob, bobPw)
	tab.Navigate(web + "/compose")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "Site visit"))
	waitText(t, tab, "#draft-state", "Draft saved")
	if got := tab.Text("#files-hint"); !strings.Contains(got, "2.9 MB") {
		t.Errorf("the limit shown is %q, want 2.9 MB", got)
	}
	// The 1.8 MB stall part way until the gate opens.
	g.hold()
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	tab.WaitFor(`!document.getElementById('upload-progress').hidden && document.getElementById('upload-progress').value > 0`)
	if got := tab.Text("#upload-status"); !strings.Contains(got, "Uploading quarterly-report.pdf, site photo 1.jpg, budget-2027.xlsx") {
		t.Errorf("during the upload the status says %q, want the three names", got)
	}
	tab.Screenshot("compose-uploading-3")
	tab.SetWidth(webtest.PhoneWidth)
	tab.SetDark(true)
	tab.Screenshot("compose-uploading-3")
	g.open()
	waitText(t, tab, "#draft-state", "budget-2027.xlsx")
	for _, name := range []string{"quarterly-report.pdf", "site photo 1.jpg"} {
		if !strings.Contains(tab.Text("#draft-state"), name) {
			t.Errorf("the draft does not list %s: %q", name, tab.Text("#draft-state"))
		}
	}
	if !webtest.Run(tab, chromedp.Evaluate[bool](`document.getElementById('upload-progress').hidden`)) {
		t.Error("the progress bar stays after the upload")
	}
	shots := func(name string) {
		tab.EachLook(func(int, bool) {
			tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
			tab.Screenshot(name)
		})
	}
	shots("compose-3-attachments")

	// A fourth file within the limit alone, over it with the three: the
	// page's own check lets it go, the server refuses it.
	tab.WaitFor(`!document.getElementById('compose-form').classList.contains('htmx-request')`)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big}))
	waitText(t, tab, "#draft-state", "at most 2.9 MB")
	state := tab.Text("#draft-state")
	if strings.Contains(state, "archive.zip") || !strings.Contains(state, "quarterly-report.pdf") || !strings.Contains(state, "budget-2027.xlsx") {
		t.Errorf("after the refused upload the draft state is %q, want the three files and not the fourth", state)
	}
	shots("compose-413")

	// Without script the form posts whole pages: the refusal is a 413
	// page of its own, the draft's files still listed.
	tab.SetWidth(webtest.LaptopWidth)
	tab.SetDark(false)
	id := value(tab, `input[name="draft"]`)
	tab.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	tab.Navigate(web + "/compose?draft=" + id)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big}),
		chromedp.Click(chromedp.CSS(`button[formaction="/compose/save"]:not([name])`)))
	tab.WaitFor(`document.querySelector('#draft-state .alert-error') !== null`)
	if got := tab.Text("#draft-state"); !strings.Contains(got, "at most 2.9 MB") || !strings.Contains(got, "site photo 1.jpg") {
		t.Errorf("the 413 page says %q, want the limit and the draft's files", got)
	}
	shots("compose-413-page")
}
