package webmail_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// inboxBadge is what the page shows as INBOX's unread count: the tab
// title's "(n) ", the top bar's badge and the folder list's, as
// "title/top/folder" ("-" for none).
const inboxBadge = `(() => {
	const m = document.title.match(/^\((\d+)\) /);
	const top = document.querySelector('.topnav a[href="/"] .badge');
	const folder = document.querySelector('.folders li:first-child .badge');
	const n = e => e ? e.firstChild.textContent.trim() : '-';
	return (m ? m[1] : '-') + '/' + n(top) + '/' + n(folder);
})()`

// TestBrowserUnreadCountFollowsList: the unread count the webmail shows
// (tab title, top bar, folder list) counts what the list shows. A
// message deleted here, waiting for its undo window, no longer counts,
// at once; Undo brings it back. A message an IMAP client marks \Deleted
// (without EXPUNGE) leaves the list and the count live, while IMAP's
// STATUS UNSEEN still counts it (it is still in the mailbox, RFC 9051
// 6.3.11); it is in Deleted, and Restore there clears the mark under the
// same UID, as IMAP sees it.
func TestBrowserUnreadCountFollowsList(t *testing.T) {
	// A test clock that does not move: the delete stays pending through
	// the test, however long it takes.
	srv := testserver.Start(t, testserver.Options{Users: users, Clock: clocktest.New(time.Now()), Configure: func(c *config.Config) {
		webtest.ServerTLS(t)(c)
		c.Webmail.UndoDelete = config.Duration{Duration: 10 * time.Second}
	}})
	for _, s := range []string{"Agenda", "Budget", "Canteen"} {
		capture(t, srv, "bob@example.test", fmt.Sprintf("From: Ann <ann@example.org>\nTo: bob@example.test\nSubject: %s\nMessage-ID: <%s@example.org>\n\nAbout %s.\n", s, strings.ToLower(s), s))
	}
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Navigate(srv.Web + "/")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	rows := func() int {
		return webtest.Run(tab, chromedp.Evaluate[int]("document.querySelectorAll('#rows .mail-row').length"))
	}
	badge := func() string { return webtest.Run(tab, chromedp.Evaluate[string](inboxBadge)) }
	if got := badge(); got != "3/3/3" {
		t.Fatalf("before: unread shown %s, want 3/3/3", got)
	}

	// Delete the newest (Canteen) in the webmail: pending, undoable.
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row:first-child input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`button[name=action][value=delete]`)))
	tab.WaitFor(`document.querySelector('.undo') !== null`)
	if n, got := rows(), badge(); n != 2 || got != "2/2/2" {
		t.Errorf("after delete: %d rows, unread shown %s, want 2 rows and 2/2/2", n, got)
	}
	tab.Screenshot("unread-after-delete")
	tab.Do(chromedp.Click(chromedp.CSS(`.undo button[type=submit]`)))
	tab.WaitFor(`document.querySelector('.flash') !== null && document.querySelectorAll('#rows .mail-row').length === 3`)
	if got := badge(); got != "3/3/3" {
		t.Errorf("after undo: unread shown %s, want 3/3/3", got)
	}

	// An IMAP client marks Budget \Deleted and does not expunge.
	c := imapLogin(t, srv, "bob@example.test", "bob-password")
	uids := imapMessageIDs(t, c, "INBOX")
	budget := uids["budget@example.org"]
	if budget == 0 {
		t.Fatalf("IMAP finds %v", uids)
	}
	tab.WaitFor(`document.documentElement.getAttribute('data-live') === 'open'`)
	if err := c.Store(imap.UIDSetNum(budget), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatalf("STORE +FLAGS \\Deleted: %v", err)
	}
	// The open page follows without a reload: the row goes, the count
	// drops (title and top bar are updated live).
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 2 && document.title.startsWith('(2) ')`)
	if got := tab.Text("#rows"); strings.Contains(got, "Budget") {
		t.Errorf("the inbox still lists the marked message: %q", got)
	}
	tab.Navigate(srv.Web + "/")
	if got := badge(); got != "2/2/2" {
		t.Errorf("with Budget marked over IMAP: unread shown %s, want 2/2/2", got)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumUnseen: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumUnseen == nil || *st.NumUnseen != 3 {
		t.Errorf("IMAP STATUS UNSEEN %v, want 3: the marked message is still in INBOX", st.NumUnseen)
	}

	// Deleted lists it, marked as from Inbox; Restore brings it back.
	tab.Navigate(srv.Web + "/deleted")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
	if got := tab.Text("#rows"); !strings.Contains(got, "Budget") || strings.Contains(got, "Agenda") {
		t.Fatalf("Deleted lists %q, want Budget only", got)
	}
	tab.EachLook(func(int, bool) {
		tab.Navigate(srv.Web + "/deleted")
		tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")))
		tab.Screenshot("deleted-marked-over-imap")
	})
	// Opened from Deleted, it is a deleted message: Restore, back to
	// Deleted.
	tab.Do(chromedp.Click(chromedp.CSS(`#rows .mail-row a.list-main`)))
	tab.WaitFor(`document.querySelector('#msg-subject') !== null`)
	if got := tab.Text("#msg-subject"); !strings.Contains(got, "Budget") {
		t.Fatalf("opened %q", got)
	}
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('form[action="/deleted/restore"] button').length`)); n != 1 {
		t.Errorf("the marked message's page has %d Restore buttons, want 1", n)
	}
	tab.Navigate(srv.Web + "/deleted")
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#rows .mail-row")),
		chromedp.Click(chromedp.CSS(`#rows .mail-row input[type=checkbox]`)),
		webtest.Loads(chromedp.Click(chromedp.CSS(`.mail-toolbar button[type=submit]`))))
	tab.WaitFor(`(document.querySelector('.flash') || {}).textContent?.includes('Restored 1 message')`)
	tab.Navigate(srv.Web + "/")
	if n, got := rows(), badge(); n != 3 || got != "3/3/3" {
		t.Errorf("after restore: %d rows, unread shown %s, want 3 and 3/3/3", n, got)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(budget), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH UID %d after restore: %v %v", budget, msgs, err)
	}
	if slices.Contains(msgs[0].Flags, imap.FlagDeleted) {
		t.Errorf("after restore IMAP sees UID %d with %v, want no \\Deleted (same UID)", budget, msgs[0].Flags)
	}
	// The client's EXPUNGE now keeps it.
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if got := imapMessageIDs(t, c, "INBOX"); got["budget@example.org"] != budget {
		t.Errorf("after EXPUNGE IMAP finds %v, want budget at UID %d", got, budget)
	}
}
