package webmail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserConversationMergeLive: with the inbox open by conversation,
// a reply that references two conversations (Alpha's and Beta's) joins
// them, and the open list shows them as one row, with the count of both
// and the reply as its newest, without a reload and without reading its
// rows again: Beta's messages, re-keyed by the merge, come with the
// folder's changes (a new modseq), and Beta's row goes or, when another
// message with Beta's subject stays in Beta's conversation, shows that
// one (issue 14: a merge re-keyed rows without a new modseq and the open
// list kept Beta's row until reload).
func TestBrowserConversationMergeLive(t *testing.T) {
	for _, tc := range []struct {
		name          string
		other         bool // a message of its own with Beta's subject
		sent          bool // the reply is stored in Sent, not INBOX
		before, after string
	}{
		{"two-become-one", false, false, `["Erin:","Dave:2","Alice:"]`, `["Gina:4","Erin:"]`},
		{"subject-stays", true, false, `["Erin:","Dave:3","Alice:"]`, `["Gina:4","Erin:","Frank:"]`},
		// Bob's own reply, in Sent: INBOX's merged row shows Beta's
		// newest, the message Beta's row showed, and Beta's row shows
		// Frank's.
		{"reply-in-sent", true, true, `["Erin:","Dave:3","Alice:"]`, `["Erin:","Dave:3","Frank:"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const to = "bob@example.test"
			var msgs []string
			if tc.other {
				msgs = append(msgs, "From: Frank <frank@example.org>\nTo: bob@example.test\nSubject: Beta\nMessage-ID: <f1@example.org>\n"+
					"Date: Tue, 01 Dec 2026 09:00:00 +0000\n\nAnother beta.\n")
			}
			srv, bob, tab := inboxWith(t, append(msgs,
				"From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: Alpha\nMessage-ID: <a1@example.org>\n"+
					"Date: Tue, 01 Dec 2026 10:00:00 +0000\n\nAlpha starts.\n",
				"From: Carol <carol@example.org>\nTo: bob@example.test\nSubject: Beta\nMessage-ID: <b1@example.org>\n"+
					"Date: Tue, 01 Dec 2026 11:00:00 +0000\n\nBeta starts.\n",
				"From: Dave <dave@example.org>\nTo: bob@example.test\nSubject: Re: Beta\nMessage-ID: <b2@example.org>\n"+
					"In-Reply-To: <b1@example.org>\nReferences: <b1@example.org>\nDate: Tue, 01 Dec 2026 12:00:00 +0000\n\nBeta goes on.\n",
				"From: Erin <erin@example.org>\nTo: bob@example.test\nSubject: Lunch?\nMessage-ID: <l1@example.org>\n"+
					"Date: Tue, 01 Dec 2026 12:30:00 +0000\n\nNoon?\n")...)
			rows := `JSON.stringify(` + convRows + `)`
			tab.WaitFor(rows + ` === '` + tc.before + `'`)
			tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
			webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
			before := len(tab.Requests())

			reply := "From: Gina <gina@example.org>\nTo: bob@example.test\nSubject: Re: Alpha\nMessage-ID: <m1@example.org>\n" +
				"In-Reply-To: <b2@example.org>\nReferences: <a1@example.org> <b2@example.org>\nDate: Tue, 01 Dec 2026 13:00:00 +0000\n\nBoth, then.\n"
			if tc.sent {
				ctx := context.Background()
				d := store.NewDelivery([]byte(strings.ReplaceAll(reply, "\n", "\r\n")), time.Now())
				d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
				if _, err := srv.Store.Deliver(ctx, d); err != nil {
					t.Fatal(err)
				}
			} else {
				capture(t, srv, to, reply)
			}
			tab.WaitFor(rows + ` === '` + tc.after + `'`)

			if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
				t.Error("the page reloaded instead of updating")
			}
			changes := 0
			for _, r := range tab.Requests()[before:] {
				if strings.Contains(r.URL, "/rows") {
					t.Errorf("the list read its rows again (%s): the merge did not come row by row", r.URL)
				}
				if strings.Contains(r.URL, "/changes?since=") {
					changes++
				}
			}
			if changes == 0 {
				t.Error("no /changes request: the rows did not come from the folder's changes")
			}
			tab.EachLook(func(int, bool) { tab.Screenshot("merged") })
		})
	}
}
