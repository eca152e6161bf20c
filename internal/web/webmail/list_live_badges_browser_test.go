package webmail_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// folderBadge is the JavaScript for the text of a folder's unread badge
// in the folder list ("" without one).
func folderBadge(id int64) string {
	return `((document.querySelector('.folders a[data-folder="` + strconv.FormatInt(id, 10) + `"] .badge') || {}).textContent || "").replace(" unread", "")`
}

// deliverTo puts a message from Erin into an account's mailbox, as
// capture would, and returns its UID once it is stored.
func deliverTo(t *testing.T, st store.Store, acct int64, mailbox, subject string) uint32 {
	t.Helper()
	d := store.NewDelivery([]byte("From: Erin <erin@example.org>\r\nTo: bob@example.test\r\nSubject: "+subject+"\r\n\r\nhello\r\n"), time.Now())
	d.Copies = []store.Copy{{AccountID: acct, Mailbox: mailbox}}
	res, err := st.Deliver(context.Background(), d)
	if err != nil || len(res) != 1 {
		t.Fatalf("deliver %q to %s: %v %v", subject, mailbox, res, err)
	}
	return res[0].UID
}

// badgesSetUp starts the service with bob's folder Work and one message,
// "First", in his INBOX; it returns bob's account, Work and INBOX.
func badgesSetUp(t *testing.T) (srv *testserver.Server, bob store.Account, work, in store.Mailbox) {
	t.Helper()
	srv = start(t)
	ctx := context.Background()
	bob, err := srv.Store.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if work, err = srv.Store.CreateMailbox(ctx, bob.ID, "Work", ""); err != nil {
		t.Fatal(err)
	}
	if in, err = srv.Store.Mailbox(ctx, bob.ID, store.Inbox); err != nil {
		t.Fatal(err)
	}
	deliverTo(t, srv.Store, bob.ID, store.Inbox, "First")
	return srv, bob, work, in
}

// TestBrowserFolderBadgesFollowLiveUpdates: with the inbox open, mail
// captured into another folder shows that folder's unread badge in the
// folder list without a reload, reading it there takes the badge away,
// and new mail in INBOX raises INBOX's badge with the tab title (before,
// only the title and the top bar followed).
func TestBrowserFolderBadgesFollowLiveUpdates(t *testing.T) {
	srv, bob, work, in := badgesSetUp(t)
	ctx := context.Background()
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
	webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
	if got := webtest.Run(tab, chromedp.Evaluate[string](folderBadge(work.ID))); got != "" {
		t.Fatalf("Work shows a badge %q before any mail", got)
	}

	uid1 := deliverTo(t, srv.Store, bob.ID, "Work", "Work one")
	deliverTo(t, srv.Store, bob.ID, "Work", "Work two")
	tab.WaitFor(folderBadge(work.ID) + ` === "2"`)
	if _, _, err := srv.Store.StoreFlags(ctx, bob.ID, work.ID, []uint32{uid1}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
		t.Fatal(err)
	}
	tab.WaitFor(folderBadge(work.ID) + ` === "1"`)
	tab.Screenshot("work-badge")
	all, err := srv.Store.UIDs(ctx, bob.ID, work.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Store.StoreFlags(ctx, bob.ID, work.ID, all, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
		t.Fatal(err)
	}
	tab.WaitFor(folderBadge(work.ID) + ` === ""`)

	deliverTo(t, srv.Store, bob.ID, store.Inbox, "Second")
	tab.WaitFor(folderBadge(in.ID) + ` === "2"`)
	tab.WaitFor(`document.title.startsWith("(2) ")`)
	if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
		t.Error("the page reloaded instead of updating")
	}
}

// TestBrowserLiveStreamCatchesUpFromRender guards the render-to-stream
// race: the browser holds the page's live-update stream (the DevTools
// Fetch domain pauses /events) while mail arrives in INBOX and in Work,
// after the page was rendered and before the stream subscribed. Once
// the stream goes on, the list shows the new row, and the folder
// badges and the tab title count it, with no other change to prompt
// them: the stream starts from the modseqs the page was rendered at.
func TestBrowserLiveStreamCatchesUpFromRender(t *testing.T) {
	srv, bob, work, in := badgesSetUp(t)
	paused := make(chan fetch.RequestID, 16)
	tab := webtest.NewTab(t, webtest.Laptop, webtest.Listen(func(ev any) {
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- p.RequestID:
			default:
			}
		}
	}))
	tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/events*"}}})
		return err
	}))
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.WaitFor(`document.querySelector('#rows .mail-row .mail-subject').textContent === 'First'`)
	var held fetch.RequestID
	select {
	case held = <-paused:
	case <-time.After(webtest.Timeout):
		t.Fatal("the page opened no live-update stream")
	}
	// Rendered, stream not yet subscribed: the changes in between.
	deliverTo(t, srv.Store, bob.ID, store.Inbox, "Between")
	deliverTo(t, srv.Store, bob.ID, "Work", "Work between")
	tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: held}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, fetch.Disable, cdp.Empty{})
		return err
	}))
	tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
	tab.WaitFor(`document.querySelector('#rows .mail-row .mail-subject').textContent === 'Between'`)
	tab.WaitFor(folderBadge(in.ID) + ` === "2"`)
	tab.WaitFor(folderBadge(work.ID) + ` === "1"`)
	tab.WaitFor(`document.title.startsWith("(2) ")`)
	tab.Screenshot("caught-up")
}
