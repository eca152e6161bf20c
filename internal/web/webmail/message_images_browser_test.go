package webmail_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserHTTPImagesShown: a newsletter whose images have http URLs
// (in <img> and in its stylesheet) shows them once the user allows
// images, asked for over https; before that nothing is fetched. They
// never showed: the frame's policy loads https images only.
func TestBrowserHTTPImagesShown(t *testing.T) {
	srv := start(t)
	h, host := remoteHost(t)
	capture(t, srv, "bob@example.test", "From: Old Newsletter <news@example.org>\nSubject: Photos\nContent-Type: text/html\n\n"+
		"<style>.banner{background:url(http://"+host+"/banner.gif);height:40px}</style><div class=\"banner\"></div>"+
		"<p>This week<img src=\"http://"+host+"/photo.gif\" alt=\"photo\"></p>\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row a.list-main`)), chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	tab.WaitFor(`(() => { const f = document.querySelector('iframe.msg-frame'); return !!f && performance.getEntriesByName(f.src).length > 0 })()`)
	if got := h.get(); len(got) > 0 {
		t.Fatalf("fetched before images were allowed: %v", got)
	}
	tab.Do(chromedp.Click(chromedp.CSS(".msg-images a")), chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
	deadline := time.Now().Add(webtest.Timeout)
	for (h.get()["/photo.gif"] == 0 || h.get()["/banner.gif"] == 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := h.get(); got["/photo.gif"] == 0 || got["/banner.gif"] == 0 {
		t.Errorf("allowed http images not shown (fetched: %v)", got)
	}
	tab.Screenshot("http-images")
}
