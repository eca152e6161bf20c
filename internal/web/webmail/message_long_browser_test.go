package webmail_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserLongWordsFit: a message whose subject, sender's name,
// recipient list, text and file name are long runs without spaces (a
// tracking URL, a base64 blob pasted into the text, a generated file
// name) is shown within the page's width at 390 and 1280 px, light and
// dark: the page never scrolls sideways (a phone would show the toolbar
// and the text cut off), and the list shows it in one row too. The
// thirty recipients are folded after the first three ("28 more", which
// opens in place): the To line takes a fraction of a phone's screen; it
// took two screens.
func TestBrowserLongWordsFit(t *testing.T) {
	srv := start(t)
	word := strings.Repeat("Quarterly_Report_", 15)
	var to []string
	for i := range 30 {
		to = append(to, fmt.Sprintf("Recipient Number %d <recipient.number.%d@department.example.org>", i, i))
	}
	raw := "From: " + strings.Repeat("VeryLongSenderName", 8) + " <" + strings.Repeat("x", 60) + "@example.org>\n" +
		"To: bob@example.test, " + strings.Join(to, ", ") + "\nSubject: " + word + "\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nSee https://tracker.example.org/click?u=" +
		strings.Repeat("aHR0cHM6Ly9leGFtcGxlLm9yZy8", 20) + " and " + strings.Repeat("0123456789", 40) + "\n> " + strings.Repeat("quoted", 80) + "\n" +
		"--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"" + strings.Repeat("Scan_2026-12-06_", 12) + ".pdf\"\n" +
		"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--m--\n"
	capture(t, srv, "bob@example.test", raw)
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	href := webtest.Run(tab, chromedp.Evaluate[string](`document.querySelector('#rows .mail-row a.list-main').getAttribute('href')`))
	wide := `(() => { const w = document.scrollingElement.scrollWidth; return w > innerWidth ? w : 0 })()`
	tab.EachLook(func(w int, _ bool) {
		tab.Navigate(srv.Web + "/")
		tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
		if sw := webtest.Run(tab, chromedp.Evaluate[int](wide)); sw > 0 {
			t.Errorf("inbox, %d px: the page is %d px wide", w, sw)
		}
		tab.Screenshot("long-words-inbox")
		tab.Navigate(srv.Web + href)
		tab.Do(chromedp.WaitVisible(chromedp.CSS(".plain")))
		if sw := webtest.Run(tab, chromedp.Evaluate[int](wide)); sw > 0 {
			t.Errorf("message, %d px: the page is %d px wide", w, sw)
		}
		toHeight := `[...document.querySelectorAll('.msg-headers dt')].find(e => e.textContent === 'To').nextElementSibling.getBoundingClientRect().height / innerHeight`
		if h := webtest.Run(tab, chromedp.Evaluate[float64](toHeight)); h > 0.25 {
			t.Errorf("message, %d px: the To line takes %.1f screens", w, h)
		}
		if got := tab.Text(".msg-more summary"); got != "28 more" {
			t.Errorf("message, %d px: the folded recipients say %q", w, got)
		}
		tab.Screenshot("long-words-message")
		tab.Do(chromedp.Click(chromedp.CSS(".msg-more summary")))
		if !webtest.Run(tab, chromedp.Evaluate[bool](`(() => { const r = [...document.querySelectorAll('.msg-more')].pop().getBoundingClientRect();
			return document.querySelector('.msg-more').open && r.height > 0 &&
				document.querySelector('.msg-headers').textContent.includes('recipient.number.29@department.example.org') })()`)) {
			t.Errorf("message, %d px: opening the folded recipients does not show them", w)
		}
		if sw := webtest.Run(tab, chromedp.Evaluate[int](wide)); sw > 0 {
			t.Errorf("message with every recipient, %d px: the page is %d px wide", w, sw)
		}
		tab.Screenshot("long-words-recipients")
	})
}
