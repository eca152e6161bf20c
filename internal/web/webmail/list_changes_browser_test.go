package webmail_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserLiveChangesRowByRow: with the inbox open, by conversation
// and flat, a message captured over SMTP, flags set over IMAP and a
// message expunged over IMAP change the rows in place, without a reload,
// from the folder's changes alone: the page asks for /changes, never for
// its rows again (the flat list not even for the expunge; the list by
// conversation reads its rows again for a message that left, whose
// conversation it cannot tell from a UID). The selection stays ticked.
func TestBrowserLiveChangesRowByRow(t *testing.T) {
	for _, view := range []string{"conversations", "flat"} {
		t.Run(view, func(t *testing.T) {
			srv, _, tab := liveInbox(t, 60)
			if view == "flat" {
				tab.Do(chromedp.Click(chromedp.CSS(`form[action="/prefs/conversations"] button`)))
				tab.WaitFor(`document.querySelector('form[action="/prefs/conversations"] button').textContent.includes('off')`)
			}
			tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 50`)
			tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
			webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
			row := func(subject string) string {
				return `[...document.querySelectorAll('#rows .mail-row')].find(r => r.querySelector('.mail-subject').textContent === '` + subject + `')`
			}
			// Ticked before the changes: stays ticked.
			tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:nth-child(3) input[type=checkbox]`)))
			ticked := tab.Text(`#rows .mail-row:nth-child(3) .mail-subject`)
			before := len(tab.Requests())

			capture(t, srv, "bob@example.test", "From: Erin <erin@example.org>\nTo: bob@example.test\nSubject: Arrived live\n\nhello\n")
			tab.WaitFor(`document.querySelector('#rows .mail-row .mail-subject').textContent === 'Arrived live'`)
			tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 51`)
			if got := tab.Text("#rows-status"); !strings.Contains(got, "1 new message") {
				t.Errorf("live region says %q", got)
			}

			c := imapLogin(t, srv, "bob@example.test", "bob-password")
			uids := imapMessageIDs(t, c, "INBOX")
			seen, flagged, gone := uids["old-50@example.org"], uids["old-45@example.org"], uids["old-40@example.org"]
			if seen == 0 || flagged == 0 || gone == 0 {
				t.Fatalf("IMAP does not list the test messages: %v", uids)
			}
			if _, err := c.Store(imap.UIDSetNum(seen), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err != nil {
				t.Fatal(err)
			}
			tab.WaitFor(row("Old 50") + ` && !` + row("Old 50") + `.classList.contains('is-unread')`)
			if _, err := c.Store(imap.UIDSetNum(flagged), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect(); err != nil {
				t.Fatal(err)
			}
			tab.WaitFor(row("Old 45") + `?.querySelector('.mail-flag') != null`)
			if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#rows .mail-row').length`)); n != 51 {
				t.Errorf("after the flags the list shows %d rows, want 51", n)
			}
			refetched := func() []string {
				var out []string
				for _, r := range tab.Requests()[before:] {
					if strings.Contains(r.URL, "/rows") {
						out = append(out, r.URL)
					}
				}
				return out
			}
			if r := refetched(); len(r) > 0 {
				t.Errorf("new mail and flags read the rows again: %v", r)
			}

			if _, err := c.Store(imap.UIDSetNum(gone), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
				t.Fatal(err)
			}
			// \Deleted alone hides it (on its way out) ...
			tab.WaitFor(row("Old 40") + ` === undefined`)
			modseq := webtest.Run(tab, chromedp.Evaluate[string](`document.getElementById('rows').dataset.modseq`))
			if err := c.Expunge().Close(); err != nil {
				t.Fatal(err)
			}
			// ... and the expunge keeps it gone.
			tab.WaitFor(`document.getElementById('rows').dataset.modseq !== '` + modseq + `'`)
			tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 50`)
			if r := refetched(); view == "flat" && len(r) > 0 {
				t.Errorf("the flat list read its rows again: %v", r)
			}
			var changes int
			for _, r := range tab.Requests()[before:] {
				if strings.Contains(r.URL, "/changes?since=") {
					changes++
				}
			}
			if changes == 0 {
				t.Error("no /changes request: the rows did not come from the changes")
			}
			if got := webtest.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('#rows .mail-row input:checked')].map(c => c.closest('.mail-row').querySelector('.mail-subject').textContent).join(',')`)); got != ticked {
				t.Errorf("ticked rows %q, want %q", got, ticked)
			}
			if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
				t.Error("the page reloaded instead of updating")
			}
			tab.Screenshot("after-changes-" + view)
		})
	}
}
