package webmail_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webmail"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserAttachedMessage: a message forwarded as an attachment opens
// from the outer message's Open button as a page of its own, its HTML in
// the sandboxed frame, with the outer message a click away; nothing
// leaves the host. Screenshots at 390 and 1280 px, light and dark.
func TestBrowserAttachedMessage(t *testing.T) {
	srv := start(t)
	capture(t, srv, "bob@example.test", webmail.ForwardedAsAttachment)
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row a.list-main`)), chromedp.WaitVisible(chromedp.CSS(".msg-attachments")))
	outer := tab.Location()
	tab.Do(webtest.Loads(chromedp.Click(chromedp.CSS(`.msg-attachments a[href*="/attached/"]`))))
	tab.Do(chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	if got := tab.Text("#msg-subject"); !strings.Contains(got, "Invoice 2026-117 <script>x</script>") {
		t.Errorf("attached message's subject %q", got)
	}
	tab.WaitFor(`(() => { const f = document.querySelector('iframe.msg-frame'); return !!f && performance.getEntriesByName(f.src).length > 0 })()`)
	attached := tab.Location()
	tab.EachLook(func(int, bool) {
		tab.Navigate(outer)
		tab.Do(chromedp.WaitVisible(chromedp.CSS(".msg-attachments")))
		tab.Screenshot("attached-outer")
		tab.Navigate(attached)
		tab.Do(chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
		tab.WaitFor(`(() => { const f = document.querySelector('iframe.msg-frame'); return !!f && performance.getEntriesByName(f.src).length > 0 })()`)
		tab.Screenshot("attached-message")
	})
	tab.Do(webtest.Loads(chromedp.Click(chromedp.CSS(`.msg-headers a`))))
	if got := tab.Location(); got != outer {
		t.Errorf("'Attached to' went to %s, want the outer message %s", got, outer)
	}
	if r := tab.RemoteRequests(srv.Web); len(r) > 0 {
		t.Errorf("requests left the host: %v", r)
	}
}
