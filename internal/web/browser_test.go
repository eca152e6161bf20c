package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserSignInSignOut signs in and out in Chromium at a phone's and a
// laptop's width, light and dark: the design system's CSS is applied
// (its background in each scheme), nothing overflows sideways, no request
// leaves for another host, and the screenshots are saved to be looked at.
func TestBrowserSignInSignOut(t *testing.T) {
	const addr, pwd = "bob@example.test", "bob password 1"
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{addr: pwd}, Configure: webtest.ServerTLS(t)})
	for _, width := range []int{webtest.PhoneWidth, webtest.LaptopWidth} {
		for _, dark := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-dark=%v", width, dark), func(t *testing.T) {
				opts := []webtest.Option{webtest.Laptop}
				if width == webtest.PhoneWidth {
					opts[0] = webtest.Phone
				}
				if dark {
					opts = append(opts, webtest.Dark)
				}
				tab := webtest.NewTab(t, opts...)
				tab.Navigate(srv.Web + "/")
				tab.WaitPath("/login?next=%2F")
				wantBg := "rgb(246, 247, 249)"
				if dark {
					wantBg = "rgb(15, 18, 23)"
				}
				if bg := webtest.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != wantBg {
					t.Errorf("body background %s, want %s (app.css not applied, or the wrong scheme)", bg, wantBg)
				}
				checkNoSidewaysScroll(t, tab)
				tab.Screenshot("signin")

				// A wrong password: the page says so.
				tab.Do(
					chromedp.SendKeys(chromedp.ID("address"), addr),
					chromedp.SendKeys(chromedp.ID("password"), "wrong"),
					chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
				)
				tab.WaitFor(`document.getElementById("signin-error") !== null`)
				if msg := tab.Text("#signin-error"); !strings.Contains(msg, "Wrong address or password") {
					t.Errorf("wrong password message %q", msg)
				}
				tab.Screenshot("signin-error")

				// What is at "/" is the webmail's; the layout's top bar
				// names who is signed in.
				tab.SignIn(srv.Web, addr, pwd)
				if got := tab.Text(".who-name"); got != addr {
					t.Errorf("top bar shows %q", got)
				}
				checkNoSidewaysScroll(t, tab)
				tab.Screenshot("signed-in")

				if width == webtest.PhoneWidth {
					// On a phone the top bar is one row: sign-out is
					// in its Menu.
					tab.Do(chromedp.Click(chromedp.CSS(`.topmenu summary`)), chromedp.Click(chromedp.CSS(`.topmenu-panel form[action="/logout"] button`)))
				} else {
					tab.Do(chromedp.Click(chromedp.CSS(`.topbar-wide form[action="/logout"] button`)))
				}
				tab.WaitPath("/login")
				if got := tab.Text(".flash"); got != "You are signed out." {
					t.Errorf("after sign-out the page says %q", got)
				}
				tab.Screenshot("signed-out")
				// Back to the signed-in page: the session is gone.
				tab.Navigate(srv.Web + "/")
				tab.WaitPath("/login?next=%2F")

				if r := tab.RemoteRequests(srv.Web); len(r) > 0 {
					t.Errorf("requests left for other hosts: %v", r)
				}
				var blocked []string
				for _, r := range tab.Requests() {
					if r.Blocked != "" {
						blocked = append(blocked, r.URL+" ("+string(r.Blocked)+")")
					}
				}
				if len(blocked) > 0 {
					t.Errorf("our own pages had requests blocked (CSP?): %v", blocked)
				}
			})
		}
	}
}

func checkNoSidewaysScroll(t *testing.T, tab *webtest.Tab) {
	t.Helper()
	w := webtest.Run(tab, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if len(w) == 2 && w[0] > w[1] {
		t.Errorf("page is %d px wide in a %d px viewport: it scrolls sideways", w[0], w[1])
	}
}
