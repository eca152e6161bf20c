package webmail_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserManyAttachmentsHTML: an HTML message with a dozen files,
// at 390 and 1280 px, light and dark. Its files sat in the header box,
// which a phone caps at 35% of the screen: a long list scrolled in a
// box of two rows. Now the header box shows whole (it does not scroll),
// every file's Download button can be brought into view and is then
// the element at its place (not hidden under another box), and the
// message's frame keeps half the screen (on a phone, scrolled down, all
// of its column). Screenshots of the message and of a search whose
// results ignore accents, its button's word on one line.
func TestBrowserManyAttachmentsHTML(t *testing.T) {
	srv := start(t)
	var b strings.Builder
	b.WriteString("From: Müller Büro <office@mueller.example>\nTo: bob@example.test\nSubject: Résumé and the documents for the new office\n" +
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/html; charset=utf-8\n\n" +
		"<h1 style=\"color:#1a4d8f\">New office</h1>")
	for i := range 30 {
		fmt.Fprintf(&b, "<p>Paragraph %d: the documents for the move are attached, with my résumé.</p>\n", i+1)
	}
	names := []string{"floor-plan.pdf", "résumé.pdf", "contract-2026-signed-by-both-parties-final-version.pdf", "photo-1.jpg",
		"photo-2.jpg", "budget.xlsx", "keys.txt", "parking.pdf", "insurance.pdf", "inventory.csv", "movers-quote.pdf", "wifi.txt"}
	for _, n := range names {
		fmt.Fprintf(&b, "--m\nContent-Type: application/octet-stream; name=%q\nContent-Disposition: attachment; filename=%q\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n", n, n)
	}
	b.WriteString("--m--\n")
	capture(t, srv, "bob@example.test", b.String())
	capture(t, srv, "bob@example.test", "From: Carol <carol@example.org>\nTo: bob@example.test\nSubject: My resume\n\nHere is my resume, plain.\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row a.list-main').length === 2`)
	href := webtest.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('#rows .mail-row')].find(r => r.textContent.includes('documents')).querySelector('a.list-main').getAttribute('href')`))
	tab.EachLook(func(w int, _ bool) {
		tab.Navigate(srv.Web + href)
		tab.Do(chromedp.WaitVisible(chromedp.CSS("iframe.msg-frame")))
		tab.WaitFor(`(() => { const f = document.querySelector('iframe.msg-frame'); return !!f && performance.getEntriesByName(f.src).length > 0 })()`)
		var g struct {
			Inner, Frame, TopScroll, TopClient float64
			Files, Reached                     int
			Missed                             []string
		}
		raw := webtest.Run(tab, chromedp.Evaluate[string](`(() => {
			const top = document.querySelector('.msg-top');
			const links = [...document.querySelectorAll('.msg-attachments a[download]')];
			const missed = [];
			for (const a of links) {
				a.scrollIntoView({block: 'nearest', inline: 'nearest'});
				const r = a.getBoundingClientRect();
				const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
				if (!(at === a || a.contains(at))) missed.push(a.closest('.list-row').querySelector('.list-title').textContent);
			}
			document.querySelectorAll('.msg-attachments .list, .msg-top').forEach(e => { e.scrollLeft = 0; e.scrollTop = 0 });
			return JSON.stringify({Inner: innerHeight, Frame: document.querySelector('iframe.msg-frame').getBoundingClientRect().height,
				TopScroll: top.scrollHeight, TopClient: top.clientHeight, Files: links.length, Reached: links.length - missed.length, Missed: missed});
		})()`))
		if err := json.Unmarshal([]byte(raw), &g); err != nil {
			t.Fatal(err)
		}
		if g.Files != len(names) || g.Reached != g.Files {
			t.Errorf("%d px: %d of %d files' Download buttons reached; missed %q", w, g.Reached, g.Files, g.Missed)
		}
		if w == webtest.PhoneWidth && g.TopScroll > g.TopClient+1 {
			t.Errorf("%d px: the header box scrolls (%.0f px of content in %.0f px)", w, g.TopScroll, g.TopClient)
		}
		if g.Frame < 0.45*g.Inner {
			t.Errorf("%d px: the message's frame is %.0f px high in a %.0f px screen", w, g.Frame, g.Inner)
		}
		tab.Do(chromedp.Sleep(300 * time.Millisecond)) // the frame paints
		tab.Screenshot("message")
		if w == webtest.PhoneWidth {
			// The column scrolled to its end: the frame fills it,
			// whole, and the page itself does not scroll.
			var s struct{ Page, Inner, ColTop, ColBottom, Top, Bottom float64 }
			raw := webtest.Run(tab, chromedp.Evaluate[string](`(() => { const col = document.querySelector('.msg-fill');
				col.scrollTop = col.scrollHeight; const c = col.getBoundingClientRect(), f = document.querySelector('iframe.msg-frame').getBoundingClientRect();
				return JSON.stringify({Page: document.scrollingElement.scrollHeight, Inner: innerHeight, ColTop: c.top, ColBottom: c.bottom, Top: f.top, Bottom: f.bottom}) })()`))
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				t.Fatal(err)
			}
			if s.Page > s.Inner+1 || s.Top < s.ColTop-1 || s.Bottom > s.ColBottom+1 || s.Bottom-s.Top < 0.6*s.Inner {
				t.Errorf("%d px, scrolled down: page %.0f of %.0f px, column %.0f-%.0f, frame %.0f-%.0f; want the frame to fill the column",
					w, s.Page, s.Inner, s.ColTop, s.ColBottom, s.Top, s.Bottom)
			}
			tab.Do(chromedp.Sleep(100 * time.Millisecond))
			tab.Screenshot("message-scrolled")
		}
		tab.Navigate(srv.Web + "/search?q=resume")
		tab.WaitFor(`document.querySelector('.search-form button') !== null`)
		if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#rows .mail-row, .mail .list-row').length`)); n != 2 {
			t.Errorf("%d px: search for resume lists %d messages, want 2 (résumé too)", w, n)
		}
		// The Search button's word on one line (it broke, "Sear" over
		// "ch", at 390 px).
		if h := webtest.Run(tab, chromedp.Evaluate[float64](`document.querySelector('.search-form button').getBoundingClientRect().height`)); h > 48 {
			t.Errorf("%d px: the Search button is %.0f px high", w, h)
		}
		tab.Screenshot("search")
	})
}
