package webmail_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// topBar reads the top bar's geometry: its height, whether the brand and
// the visible controls sit on one row, and whether the page scrolls
// sideways.
const topBar = `(() => {
	const bar = document.querySelector('.topbar').getBoundingClientRect();
	const shown = [...document.querySelectorAll('.topbar > *')].filter(e => e.getClientRects().length > 0);
	// Rows: items sorted by top; a new row starts where an item begins
	// below the bottom of every item before it (no vertical overlap).
	const boxes = shown.map(e => e.getBoundingClientRect()).sort((a, b) => a.top - b.top);
	let rows = 0, bottom = -1;
	for (const b of boxes) { if (b.top >= bottom) { rows++; } bottom = Math.max(bottom, b.bottom); }
	return {height: bar.height, rows: rows, items: shown.map(e => e.className).join(' | '),
		sideways: document.documentElement.scrollWidth > window.innerWidth};
})()`

type barGeometry struct {
	Height   float64 `json:"height"`
	Rows     int     `json:"rows"`
	Items    string  `json:"items"`
	Sideways bool    `json:"sideways"`
}

// TestBrowserTopBarOneRow: the shared top bar is one row at phone widths
// (360 and 390 px) and at 640 px (a 1280 px window at 200 % zoom), light
// and dark, with its links behind a Menu button that opens and leads to
// them; at 1280 px the links show without the button. Screenshots at 390
// and 1280 px, light and dark, menu closed and open.
func TestBrowserTopBarOneRow(t *testing.T) {
	srv := start(t)
	capture(t, srv, "bob@example.test", "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: Hello\n\nhi\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	for _, width := range []int{360, webtest.PhoneWidth, 640, webtest.LaptopWidth} {
		for _, dark := range []bool{false, true} {
			name := fmt.Sprintf("%d-dark=%v", width, dark)
			tab.SetWidth(width)
			tab.SetDark(dark)
			tab.Navigate(srv.Web + "/")
			tab.WaitFor(`document.querySelector('#rows .mail-row') !== null`)
			g := webtest.Run(tab, chromedp.Evaluate[barGeometry](topBar))
			if g.Rows != 1 || g.Height > 64 {
				t.Errorf("%s: top bar %.0f px high in %d rows (%s), want one row", name, g.Height, g.Rows, g.Items)
			}
			if g.Sideways {
				t.Errorf("%s: the page scrolls sideways", name)
			}
			menu := webtest.Run(tab, chromedp.Evaluate[bool](`document.querySelector('.topmenu').getClientRects().length > 0`))
			if menu != (width <= 640) {
				t.Errorf("%s: Menu button shown %v", name, menu)
			}
			if width == 360 || width == 640 {
				continue
			}
			tab.Screenshot("topbar")
			if !menu {
				continue
			}
			tab.Do(chromedp.Click(chromedp.CSS(".topmenu summary")))
			tab.WaitFor(`document.querySelector('.topmenu-panel a[href="/settings"]').getClientRects().length > 0`)
			tab.Screenshot("topbar-menu")
		}
	}
	// The menu leads where the links lead, and signs out.
	tab.SetWidth(webtest.PhoneWidth)
	tab.SetDark(false)
	tab.Navigate(srv.Web + "/")
	tab.Do(chromedp.Click(chromedp.CSS(".topmenu summary")), chromedp.Click(chromedp.CSS(`.topmenu-panel a[href="/settings"]`)))
	tab.WaitPath("/settings")
	tab.WaitFor(`document.readyState === 'complete' && document.querySelector('.topmenu summary') !== null`)
	tab.Do(chromedp.Click(chromedp.CSS(".topmenu summary")))
	tab.WaitFor(`document.querySelector('.topmenu-panel form[action="/logout"] button').getClientRects().length > 0`)
	tab.Do(chromedp.Click(chromedp.CSS(`.topmenu-panel form[action="/logout"] button`)))
	tab.WaitPath("/login")
}

// focused describes the focused element: its tag, its accessible name as
// far as a test can tell (aria-label, a label, its text, its value), and
// whether its focus is visible (an outline of 2 px or more).
const focused = `(() => {
	const e = document.activeElement;
	if (!e || e === document.body) { return {tag: 'body'}; }
	let name = e.getAttribute('aria-label') || '';
	if (!name && e.id) { const l = document.querySelector('label[for="' + e.id + '"]'); if (l) { name = l.textContent; } }
	if (!name) { name = (e.innerText || e.value || e.getAttribute('title') || '').trim(); }
	const s = getComputedStyle(e);
	return {tag: e.tagName.toLowerCase(), name: name.replace(/\s+/g, ' ').trim(),
		outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
		top: e.getBoundingClientRect().top, left: e.getBoundingClientRect().left};
})()`

type focusInfo struct {
	Tag     string  `json:"tag"`
	Name    string  `json:"name"`
	Outline bool    `json:"outline"`
	Top     float64 `json:"top"`
	Left    float64 `json:"left"`
}

// TestBrowserInboxKeyboard tabs through the inbox with the keyboard at
// 1280 px: focus starts at the skip link, goes through the top bar, the
// folders, the list's toolbar and its rows in reading order, every stop
// has a name and a visible focus outline, and the list's live region is
// there (aria-live polite).
func TestBrowserInboxKeyboard(t *testing.T) {
	srv := start(t)
	capture(t, srv, "bob@example.test", "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: First\n\nhi\n")
	capture(t, srv, "bob@example.test", "From: Dave <dave@example.org>\nTo: bob@example.test\nSubject: Second\n\nhi\n")
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Navigate(srv.Web + "/")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 2`)
	var stops []focusInfo
	for range 40 {
		tab.Do(chromedp.KeyEvent(kb.Tab))
		f := webtest.Run(tab, chromedp.Evaluate[focusInfo](focused))
		stops = append(stops, f)
		if f.Tag == "a" && strings.Contains(f.Name, "Second") {
			break
		}
	}
	var names []string
	for _, f := range stops {
		names = append(names, f.Tag+":"+f.Name)
		if f.Tag == "body" {
			t.Fatalf("focus left the page after %v", names)
		}
		if f.Name == "" {
			t.Errorf("a %s without a name in the tab order (after %v)", f.Tag, names)
		}
		if !f.Outline {
			t.Errorf("%s %q: no visible focus outline", f.Tag, f.Name)
		}
	}
	t.Logf("tab order: %s", strings.Join(names, " → "))
	want := []string{"Skip to content", "xtramail", "Mail", "Search", "Deleted", "Compose", "Settings", "Sign out", "Inbox",
		"Conversations", "Mark read", "Mark unread", "Flag", "Unflag", "Delete", "Move to folder", "Move", "Select: Dave", "Dave"}
	i := 0
	for _, f := range stops {
		if i < len(want) && strings.Contains(f.Name, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("tab order %v\nmissed %q (wanted in order %v)", names, want[i], want)
	}
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#rows-status[aria-live="polite"]').length`)); n != 1 {
		t.Errorf("no polite live region for the list's updates")
	}
}
