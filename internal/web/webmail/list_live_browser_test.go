package webmail_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// liveInbox starts the service with n messages in bob's INBOX ("Old 00"
// from s0@example.org onwards, each with Message-ID <old-N@example.org>)
// and a laptop tab signed in as bob (inboxWith).
func liveInbox(t *testing.T, n int) (*testserver.Server, store.Account, *webtest.Tab) {
	t.Helper()
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("From: Sender %d <s%d@example.org>\nTo: bob@example.test\nSubject: Old %02d\nMessage-ID: <old-%d@example.org>\n\nbody\n", i, i, i, i)
	}
	return inboxWith(t, msgs...)
}

// inboxWith starts the service with msgs (LF line ends) in bob's INBOX,
// in their order of arrival, one a minute from two hours ago, and a
// laptop tab signed in as bob.
func inboxWith(t *testing.T, msgs ...string) (*testserver.Server, store.Account, *webtest.Tab) {
	t.Helper()
	srv := start(t)
	ctx := context.Background()
	bob, err := srv.Store.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-2 * time.Hour)
	for i, raw := range msgs {
		d := store.NewDelivery([]byte(strings.ReplaceAll(raw, "\n", "\r\n")), base.Add(time.Duration(i)*time.Minute))
		d.Copies = []store.Copy{{AccountID: bob.ID, Mailbox: store.Inbox}}
		if _, err := srv.Store.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	return srv, bob, tab
}

// TestBrowserLiveUpdatesOnPage2: with the inbox scrolled to its second
// page (rows 51-70 loaded by "More"), new mail captured over SMTP, a
// message on the second page marked read, and another on it deleted are
// all shown without a reload, the second page's rows still listed, the
// tab title following the unread count, and the live region saying so.
func TestBrowserLiveUpdatesOnPage2(t *testing.T) {
	srv, bob, tab := liveInbox(t, 70)
	ctx := context.Background()
	in, err := srv.Store.Mailbox(ctx, bob.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length >= 50`)
	// Page 2: scroll to the end (the "More" row loads when revealed).
	webtest.Run(tab, chromedp.Evaluate[bool](`(() => { document.querySelector('#rows .more').scrollIntoView(); return true; })()`))
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 70`)
	webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere = 1"))
	subjects := func() string {
		return webtest.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('#rows .mail-subject')].map(e => e.textContent).join(',')`))
	}
	tab.WaitFor(`document.documentElement.dataset.live === 'open'`)
	capture(t, srv, "bob@example.test", "From: Erin <erin@example.org>\nTo: bob@example.test\nSubject: Arrived live\n\nhello\n")
	tab.WaitFor(`document.querySelector('#rows .mail-row .mail-subject').textContent === 'Arrived live'`)
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 71`)
	if got := webtest.Run(tab, chromedp.Evaluate[string]("document.title")); !strings.HasPrefix(got, "(71) ") {
		t.Errorf("title %q, want (71) first", got)
	}
	if got := tab.Text("#rows-status"); !strings.Contains(got, "1 new message") {
		t.Errorf("live region says %q", got)
	}
	// On the second page (the 60th row): Old 10 read, Old 05 deleted,
	// as a mail app over IMAP would.
	var uid10, id05 uint32
	var id05msg int64
	ms, err := srv.Store.Messages(ctx, bob.ID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		switch m.Subject {
		case "Old 10":
			uid10 = m.UID
		case "Old 05":
			id05, id05msg = m.UID, m.ID
		}
	}
	if uid10 == 0 || id05 == 0 {
		t.Fatal("test messages not found")
	}
	if _, _, err := srv.Store.StoreFlags(ctx, bob.ID, in.ID, []uint32{uid10}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
		t.Fatal(err)
	}
	tab.WaitFor(`(() => { const r = [...document.querySelectorAll('#rows .mail-row')].find(r => r.querySelector('.mail-subject').textContent === 'Old 10'); return r && !r.classList.contains('is-unread'); })()`)
	if err := srv.Store.Expunge(ctx, bob.ID, in.ID, []int64{id05msg}); err != nil {
		t.Fatal(err)
	}
	tab.WaitFor(`![...document.querySelectorAll('#rows .mail-subject')].some(e => e.textContent === 'Old 05')`)
	if n := webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length")); n != 70 {
		t.Errorf("after the delete the list shows %d rows, want 70 (the second page kept): %s", n, subjects())
	}
	if !strings.Contains(subjects(), "Old 00") {
		t.Errorf("the oldest row (second page) is gone: %s", subjects())
	}
	tab.WaitFor(`document.title.startsWith('(69) ')`)
	if v := webtest.Run(tab, chromedp.Evaluate[int]("window.__stillHere || 0")); v != 1 {
		t.Error("the page reloaded instead of updating")
	}
}
