// Package webtest drives Debian's Chromium (/usr/bin/chromium, headless)
// for the web layer's browser tests: one browser per test binary, shared
// by its tests, each test in tabs of its own browser context (own
// cookies), at a phone's or a laptop's width, light or dark, with
// screenshots and a log of every network request.
//
//	srv := testserver.Start(t, testserver.Options{Users: users, Configure: webtest.ServerTLS(t)})
//	tab := webtest.NewTab(t, webtest.Phone, webtest.Dark)
//	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
//	tab.Do(chromedp.WaitVisible(chromedp.CSS("main h1")))
//	tab.Screenshot("inbox")                       // screenshots/TestX-inbox-390-dark.png
//	if r := tab.RemoteRequests(srv.Web); len(r) > 0 { t.Errorf("left the host: %v", r) }
//
// ServerTLS makes the test server use the certificate that the browser
// accepts: the browser trusts that one certificate (by its public key)
// and no other self-signed one. Screenshots go to $XTRAMAIL_SCREENSHOTS,
// or to screenshots/ at the repository's root (not committed). A missing
// Chromium fails the test with what to install: never a skip.
package webtest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds each Do: generous, since eight builds may share the
// machine's two cores.
const Timeout = 90 * time.Second

// browser is the test binary's one Chromium. It is package state on
// purpose: starting Chromium costs a second or more, and every test of a
// binary shares it (the browser contexts keep tests apart). It is made
// once, never changed, and killed with the test process (chromedp's
// allocator sets Pdeathsig) or by Main.
type browser struct {
	ctx      context.Context // the browser's chromedp context
	cancel   context.CancelFunc
	certFile string
	keyFile  string
	dir      string
	err      error
}

var shared struct {
	once sync.Once
	b    *browser
}

// Main runs the tests of a binary and then closes the browser and removes
// its files. Optional: without it the browser dies with the test process
// and leaves its temporary directory behind.
//
//	func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if b := shared.b; b != nil && b.cancel != nil {
		b.cancel()
		os.RemoveAll(b.dir)
	}
	return code
}

func get(t testing.TB) *browser {
	t.Helper()
	shared.once.Do(func() { shared.b = start() })
	if shared.b.err != nil {
		t.Fatalf("webtest: %v", shared.b.err)
	}
	return shared.b
}

func start() *browser {
	b := &browser{}
	if _, err := os.Stat(ChromiumPath); err != nil {
		b.err = fmt.Errorf("no Chromium at %s (%v): install it with `apt-get install chromium` (scripts/test does)", ChromiumPath, err)
		return b
	}
	dir, err := os.MkdirTemp("", "xtramail-webtest-")
	if err != nil {
		b.err = err
		return b
	}
	b.dir = dir
	// The one certificate the browser accepts: the test servers of this
	// binary serve it (ServerTLS).
	srvTLS, _, err := tlsutil.NewTestPair()
	if err != nil {
		b.err = err
		return b
	}
	cert := srvTLS.Certificates[0]
	b.certFile, b.keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		b.err = err
		return b
	}
	if err := os.WriteFile(b.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		b.err = err
		return b
	}
	if err := os.WriteFile(b.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		b.err = err
		return b
	}
	spki := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("font-render-hinting", "none"),
		// Only the test certificate's errors are ignored, by its public
		// key (needs the user-data-dir above).
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
		chromedp.WindowSize(1280, 900),
	}
	// On a loaded machine Chromium now and then exits before it
	// listens (seen in CI); that says nothing of the pages under test,
	// so a failed start is tried again, with a fresh profile.
	for attempt := 1; ; attempt++ {
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		// The first Do starts the browser and ties it to the context
		// it is given: bctx itself, never one with a timeout.
		err := chromedp.Do(bctx)
		if err == nil {
			b.ctx = bctx
			b.cancel = func() { bcancel(); acancel() }
			return b
		}
		bcancel()
		acancel()
		os.RemoveAll(filepath.Join(dir, "profile"))
		if attempt == 3 {
			b.err = fmt.Errorf("start %s (%d attempts): %w", ChromiumPath, attempt, err)
			return b
		}
		time.Sleep(time.Duration(attempt) * time.Second)
	}
}

// ServerTLS returns a testserver Configure func that makes the server
// serve the certificate the browser accepts (and trusts no other).
func ServerTLS(t testing.TB) func(*config.Config) {
	b := get(t)
	return func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = b.certFile, b.keyFile
	}
}

// Cert returns the certificate the browser accepts, for servers started
// without testserver.
func Cert(t testing.TB) tls.Certificate {
	b := get(t)
	c, err := tls.LoadX509KeyPair(b.certFile, b.keyFile)
	if err != nil {
		t.Fatalf("webtest: %v", err)
	}
	return c
}

// Option sets up a tab.
type Option func(*Tab)

// Widths of the tests' two devices.
const (
	PhoneWidth  = 390
	LaptopWidth = 1280
)

var (
	// Phone is 390 px wide (a current phone), with touch and mobile
	// emulation.
	Phone Option = func(tb *Tab) { tb.width, tb.height, tb.mobile = PhoneWidth, 844, true }
	// Laptop is 1280 px wide (the default).
	Laptop Option = func(tb *Tab) { tb.width, tb.height, tb.mobile = LaptopWidth, 800, false }
	// Dark emulates prefers-color-scheme: dark.
	Dark Option = func(tb *Tab) { tb.dark = true }
)

// Listen gives fn every protocol event of the tab (network, tracing...),
// on chromedp's goroutine: fn must not block or call the tab.
func Listen(fn func(ev any)) Option {
	return func(tb *Tab) { tb.listeners = append(tb.listeners, fn) }
}

// Tab is one browser tab in a browser context of its own (its own
// cookies and storage).
type Tab struct {
	t      testing.TB
	Ctx    context.Context // for chromedp calls of your own
	width  int
	height int
	mobile bool
	dark   bool

	listeners []func(ev any)

	mu       sync.Mutex
	requests []Request
	byID     map[network.RequestID]int
}

// Request is one network request the tab made.
type Request struct {
	URL  string
	Type network.ResourceType
	// Blocked says why the browser did not send it (csp,
	// mixed-content...), empty when it was sent.
	Blocked network.BlockedReason
	// Failed is the error of a request that failed.
	Failed string
}

// NewTab opens a tab (closed when the test ends).
func NewTab(t testing.TB, opts ...Option) *Tab {
	t.Helper()
	b := get(t)
	tb := &Tab{t: t, width: LaptopWidth, height: 800, byID: map[network.RequestID]int{}}
	for _, o := range opts {
		o(tb)
	}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	t.Cleanup(cancel)
	tb.Ctx = ctx
	// The first Do opens the tab and ties it to the context it gets:
	// the tab's own, not one with Do's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("webtest: open a tab: %v", err)
	}
	tb.Do(tb.emulation())
	return tb
}

func (tb *Tab) listen(ev any) {
	for _, fn := range tb.listeners {
		fn(ev)
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.byID[ev.RequestID] = len(tb.requests)
		tb.requests = append(tb.requests, Request{URL: ev.Request.URL, Type: ev.Type})
	case *network.EventLoadingFailed:
		if i, ok := tb.byID[ev.RequestID]; ok {
			tb.requests[i].Blocked = ev.BlockedReason
			tb.requests[i].Failed = ev.ErrorText
		}
	}
}

func (tb *Tab) emulation() chromedp.Action[chromedp.Void] {
	vopts := []chromedp.EmulateViewportOption{}
	if tb.mobile {
		vopts = append(vopts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	viewport := chromedp.EmulateViewport(int64(tb.width), int64(tb.height), vopts...)
	scheme := "light"
	if tb.dark {
		scheme = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := viewport(ctx, t); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// EachLook runs f once in each look a page is checked in, the tab set
// to it: phone and laptop width, light and dark. Then it puts the tab's
// width and scheme back as they were.
func (tb *Tab) EachLook(f func(width int, dark bool)) {
	tb.t.Helper()
	width, dark := tb.width, tb.dark
	for _, w := range []int{PhoneWidth, LaptopWidth} {
		for _, d := range []bool{false, true} {
			tb.SetWidth(w)
			tb.SetDark(d)
			f(w, d)
		}
	}
	tb.SetWidth(width)
	tb.SetDark(dark)
}

// SetDark switches prefers-color-scheme for the next renders.
func (tb *Tab) SetDark(dark bool) {
	tb.dark = dark
	tb.Do(tb.emulation())
}

// SetWidth changes the viewport's width (PhoneWidth: mobile emulation).
func (tb *Tab) SetWidth(width int) {
	tb.width, tb.mobile = width, width < 600
	if tb.mobile {
		tb.height = 844
	} else {
		tb.height = 800
	}
	tb.Do(tb.emulation())
}

// Do runs actions, failing the test (with the page's URL) on an error or
// after Timeout. Before each action it waits for the page's scripts,
// which run after the first paint (web/static/boot.js): a key pressed or
// a button clicked before that would meet the page without them. A page
// works without them too, but a test that checks what they do must
// not race them.
func (tb *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, AfterScripts(actions...)...); err != nil {
		tb.t.Fatalf("webtest: %v (page %s)", err, tb.location())
	}
}

// AfterScripts puts a wait for the page's scripts (scriptsReady) before
// each action, as Do does, for tests that drive chromedp themselves (the
// console's).
func AfterScripts(actions ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
	waited := make([]chromedp.Action[chromedp.Void], 0, 2*len(actions))
	for _, a := range actions {
		waited = append(waited, scriptsReady, a)
	}
	return waited
}

// scriptsReady waits until the page's late scripts have run: <html
// data-scripts="loading"> (web/templates/layout.html) turns "starting"
// when boot.js runs, then "ready". A page without the attribute is ready;
// so is one complete while still "loading" (boot.js, async, runs before
// the load event: it never ran, scripts are off), and one that cannot be
// asked for a while (it is being replaced: the next action meets the
// new one).
var scriptsReady = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	const js = `(s => s === null || s === "ready" || (s === "loading" && document.readyState === "complete"))(document.documentElement.getAttribute("data-scripts"))`
	for fails := 0; ; {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Evaluate[bool](js)(ectx, t)
		cancel()
		switch {
		case err == nil && ok:
			return nil
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("wait for the page's scripts: %w", ctx.Err())
		case err != nil:
			if fails++; fails >= 20 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the page's scripts did not run: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
})

// Loads runs an action that makes the browser load a new page (a click on
// a link or on a plain form's submit button) and waits until the new page
// has replaced the old one: a wait for an element that both pages have
// (a results table) would otherwise read the old page.
func Loads(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Evaluate[bool](`window.webtestOldPage = true`)(ctx, t); err != nil {
			return fmt.Errorf("mark the page before it is replaced: %w", err)
		}
		if _, err := a(ctx, t); err != nil {
			return err
		}
		const js = `window.webtestOldPage === undefined && document.readyState !== "loading"`
		for {
			ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
			replaced, err := chromedp.Evaluate[bool](js)(ectx, t)
			cancel()
			if err == nil && replaced {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the page was not replaced: %w", ctx.Err())
			case <-time.After(25 * time.Millisecond):
			}
		}
	})
}

// Run runs one action that returns a value, failing the test on error.
func Run[T any](tb *Tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("webtest: %v (page %s)", err, tb.location())
	}
	return v
}

func (tb *Tab) location() string {
	ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// Location returns the page's URL.
func (tb *Tab) Location() string {
	tb.t.Helper()
	return Run(tb, chromedp.Location())
}

// Navigate loads url and waits for it.
func (tb *Tab) Navigate(url string) {
	tb.t.Helper()
	tb.Do(chromedp.Navigate(url))
}

// Text returns the text (innerText) of the first element matching a CSS
// selector, waiting up to Timeout for one to exist and be rendered. It reads through
// JavaScript, so a page replaced meanwhile (a navigation, an htmx swap)
// is read again instead of failing on a stale node.
func (tb *Tab) Text(css string) string {
	tb.t.Helper()
	sel, _ := json.Marshal(css)
	// A row under content-visibility: auto that the browser has not yet
	// found relevant (just navigated to, or just swapped in) is skipped
	// by layout, and its innerText is empty: bring it into view and read
	// it again once it is rendered.
	js := `(() => {
		const e = document.querySelector(` + string(sel) + `);
		if (!e) return [false, ""];
		if (e.checkVisibility() && !e.checkVisibility({contentVisibilityAuto: true})) {
			e.scrollIntoView({block: "nearest"});
			return [false, ""];
		}
		return [true, e.innerText];
	})()`
	deadline := time.Now().Add(Timeout)
	for {
		ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](js))
		cancel()
		if err == nil && len(v) == 2 && v[0] == true {
			text, _ := v[1].(string)
			return text
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("webtest: no %s on %s (last error %v)", css, tb.location(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitPath waits until the page's path (and query) is path, up to
// Timeout, and fails the test with the page's text otherwise.
func (tb *Tab) WaitPath(path string) {
	tb.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		if u, err := url.Parse(tb.location()); err == nil && u.RequestURI() == path {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(tb.Ctx, chromedp.Text(chromedp.CSS("body")))
			tb.t.Fatalf("webtest: waited for %s, page is %s:\n%s", path, tb.location(), body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitFor polls a JavaScript expression until it is true, up to Timeout,
// and fails the test with the page's text otherwise. It survives
// navigations (a query made while a page is replaced is tried again),
// which chromedp's node waits do not: after a form's submit, wait with
// WaitFor(`document.querySelector("#result") !== null`).
func (tb *Tab) WaitFor(js string) {
	tb.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		ctx, cancel := context.WithTimeout(tb.Ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(tb.Ctx, chromedp.Text(chromedp.CSS("body")))
			tb.t.Fatalf("webtest: waited for %s (last error %v) on %s:\n%s", js, err, tb.location(), body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SignIn signs in through the webmail's sign-in page at base (srv.Web)
// and waits for the page it leads to.
func (tb *Tab) SignIn(base, address, password string) {
	tb.t.Helper()
	tb.Do(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("address")),
		chromedp.SendKeys(chromedp.ID("address"), address),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
	deadline := time.Now().Add(Timeout)
	for {
		u, err := url.Parse(tb.location())
		if err == nil && u.Path != "/login" && u.Path != "" {
			break
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(tb.Ctx, chromedp.Text(chromedp.CSS("body")))
			tb.t.Fatalf("webtest: sign in as %s did not leave the sign-in page:\n%s", address, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Do(chromedp.WaitReady(chromedp.CSS("body")))
}

// Requests returns every request the tab made so far.
func (tb *Tab) Requests() []Request {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]Request(nil), tb.requests...)
}

// RemoteRequests returns the URLs the browser sent (not blocked) to any
// host other than base's (srv.Web): what left for the outside. data:,
// blob: and about: URLs never leave the browser and are not counted.
func (tb *Tab) RemoteRequests(base string) []string {
	bu, err := url.Parse(base)
	if err != nil {
		tb.t.Fatalf("webtest: base URL %q: %v", base, err)
	}
	var out []string
	for _, r := range tb.Requests() {
		u, err := url.Parse(r.URL)
		if err != nil {
			out = append(out, r.URL)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about":
			continue
		}
		if u.Host != bu.Host && r.Blocked == "" {
			out = append(out, r.URL)
		}
	}
	return out
}

// Screenshot saves a full-page PNG named after the test, name, width and
// scheme (TestInbox-list-390-dark.png) and returns its path.
func (tb *Tab) Screenshot(name string) string {
	tb.t.Helper()
	png := Run(tb, chromedp.FullScreenshot(100))
	dir, err := ScreenshotDir()
	if err != nil {
		tb.t.Fatalf("webtest: %v", err)
	}
	scheme := "light"
	if tb.dark {
		scheme = "dark"
	}
	file := fmt.Sprintf("%s-%s-%d-%s.png", safeName(tb.t.Name()), safeName(name), tb.width, scheme)
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatalf("webtest: save screenshot: %v", err)
	}
	tb.t.Logf("screenshot %s", path)
	return path
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_") }

// ScreenshotDir is $XTRAMAIL_SCREENSHOTS, or screenshots/ at the root of
// the repository (the directory holding go.mod), created if needed.
func ScreenshotDir() (string, error) {
	dir := os.Getenv("XTRAMAIL_SCREENSHOTS")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "screenshots")
				break
			}
			if filepath.Dir(d) == d {
				return "", errors.New("no go.mod above the working directory: set XTRAMAIL_SCREENSHOTS")
			}
		}
	}
	return dir, os.MkdirAll(dir, 0o755)
}
