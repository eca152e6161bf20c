package sqlite_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }

// convRows is the open list's rows by conversation: sender and count.
const convRows = `JSON.stringify([...document.querySelectorAll('#rows .mail-row')].map(r =>
	r.querySelector('.mail-from').textContent + ':' + ((r.querySelector('.badge') || {}).textContent || '')))`

// TestBrowserRefillReachesOpenList: the webmail's inbox, open by
// conversation on a database upgraded from before the account-wide
// conversations (its rows carry the older keys: a reply by its first
// reference, a message without links alone), shows the conversations the
// background refill makes while it is open, without a reload of the page:
// Alpha's and Beta's messages, linked by Gina's reply, become one row of
// four, and the two "Lunch?" messages, joined by subject, one of two
// (issue 14: the refill changed keys without a new modseq, and the open
// list kept its old rows until reload).
func TestBrowserRefillReachesOpenList(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "bob-password"}, Configure: webtest.ServerTLS(t)})
	st, ok := srv.Store.(*sqlite.Store)
	if !ok {
		t.Fatalf("the test server's store is a %T, not the SQLite store", srv.Store)
	}
	ctx := context.Background()
	bob, err := st.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range []struct {
		at      time.Duration
		headers string
	}{
		{10 * time.Hour, "From: Alice <alice@example.org>\nSubject: Alpha\nMessage-ID: <a1@example.org>"},
		{11 * time.Hour, "From: Carol <carol@example.org>\nSubject: Beta\nMessage-ID: <b1@example.org>"},
		{12 * time.Hour, "From: Dave <dave@example.org>\nSubject: Re: Beta\nMessage-ID: <b2@example.org>\nIn-Reply-To: <b1@example.org>"},
		{12*time.Hour + 30*time.Minute, "From: Erin <erin@example.org>\nSubject: Lunch?\nMessage-ID: <l1@example.org>"},
		{12*time.Hour + 45*time.Minute, "From: Frank <frank@example.org>\nSubject: Lunch?\nMessage-ID: <l2@example.org>"},
		{13 * time.Hour, "From: Gina <gina@example.org>\nSubject: Re: Alpha\nMessage-ID: <m1@example.org>\nIn-Reply-To: <b2@example.org>\nReferences: <a1@example.org> <b2@example.org>"},
	} {
		at := day.Add(m.at)
		raw := m.headers + "\nTo: bob@example.test\nDate: " + at.Format(time.RFC1123Z) + "\n\nHello.\n"
		d := store.NewDelivery([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), at)
		d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
		if _, err := st.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	sqlite.OldKeysForTest(t, st)

	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.WaitFor(convRows + ` === '["Gina:2","Frank:","Erin:","Dave:2"]'`)
	tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
	webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
	before := len(tab.Requests())

	for {
		_, more, err := st.FillThreadsStepForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
	}
	tab.WaitFor(convRows + ` === '["Gina:4","Frank:2"]'`)
	if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
		t.Error("the page reloaded instead of updating")
	}
	changes, rows := 0, 0
	for _, r := range tab.Requests()[before:] {
		switch {
		case strings.Contains(r.URL, "/changes?since="):
			changes++
		case strings.Contains(r.URL, "/rows"):
			rows++
		}
	}
	if changes == 0 || rows == 0 {
		t.Errorf("%d /changes and %d /rows requests: want the folder's changes to tell the list to read its rows again", changes, rows)
	}
	tab.EachLook(func(int, bool) { tab.Screenshot("refilled") })
}
