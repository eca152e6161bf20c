package webmail_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// rowIDs are the message ids of the list's rows, top to bottom.
const rowIDs = `[...document.querySelectorAll('#rows .mail-row')].map(r => r.dataset.id)`

// selectedRow is the id of the row j/k moved to ("" if none).
const selectedRow = `(() => { const r = document.querySelector('#rows .mail-row.is-selected'); return r ? r.dataset.id : ""; })()`

// TestBrowserShortcuts presses every key of the shortcut help in a real
// Chromium and checks what each does: ? opens the help listing them all;
// j/k move down and up the list; o and Enter open the row moved to; u
// goes back to the folder; r, a and f open reply, reply-all and forward
// of the message shown; e archives (the message shown, and the row moved
// to in the list); # deletes (with Undo); / goes to the search box; c
// composes. Typed into an input or a text area, the same keys are only
// text: the page stays, nothing is archived or deleted.
func TestBrowserShortcuts(t *testing.T) {
	srv := start(t)
	subjects := []string{"Alpha plan", "Bravo budget", "Charlie chart", "Delta dates", "Echo events"}
	for i, s := range subjects {
		capture(t, srv, "bob@example.test", fmt.Sprintf("From: Ann %d <ann%d@example.org>\nTo: bob@example.test\nSubject: %s\nMessage-ID: <k%d@example.org>\n\nAbout %s.\n", i, i, s, i, s))
	}
	ctx := context.Background()
	acct, err := srv.Store.Account(ctx, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := srv.Store.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	// live is the INBOX's messages as the webmail lists them, by subject.
	live := func() map[string]store.Message {
		ms, err := srv.Store.MessagePage(ctx, acct.ID, inbox.ID, store.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Message{}
		for _, m := range ms {
			out[m.Subject] = m
		}
		return out
	}
	tab := webtest.NewTab(t, webtest.Laptop)
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Navigate(srv.Web + "/")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 5 && document.readyState === 'complete'`)
	key := func(k string) { t.Helper(); tab.Do(chromedp.KeyEvent(k)) }
	// loaded waits for a page's path and for its scripts (deferred: a
	// key pressed before they run would do nothing).
	loaded := func(pathPrefix string) {
		t.Helper()
		tab.WaitFor(`(location.pathname + location.search).startsWith(` + strconv.Quote(pathPrefix) + `) && document.readyState === 'complete'`)
	}
	rows := func() []string { t.Helper(); return webtest.Run(tab, chromedp.Evaluate[[]string](rowIDs)) }
	path := func() string {
		t.Helper()
		u, err := url.Parse(tab.Location())
		if err != nil {
			t.Fatal(err)
		}
		return u.RequestURI()
	}

	// ?: the help, with every key.
	key("?")
	tab.WaitFor(`document.querySelector('dialog.shortcut-help[open]')`)
	help := tab.Text("dialog.shortcut-help")
	for _, k := range []string{"j / k", "o or Enter", "u", "r", "a", "f", "c", "e", "#", "/", "?"} {
		if !strings.Contains(help, k) {
			t.Errorf("the help lacks %q:\n%s", k, help)
		}
	}
	tab.EachLook(func(int, bool) { tab.Screenshot("help") })
	key(kb.Escape)
	tab.WaitFor(`!document.querySelector('dialog.shortcut-help[open]')`)

	// j/k: down, down, up.
	ids := rows()
	for _, step := range []struct {
		key  string
		want int
	}{{"j", 0}, {"j", 1}, {"j", 2}, {"k", 1}} {
		key(step.key)
		if got := webtest.Run(tab, chromedp.Evaluate[string](selectedRow)); got != ids[step.want] {
			t.Fatalf("after %s the row moved to is %q, want row %d (%s)", step.key, got, step.want, ids[step.want])
		}
	}
	// o: opens the row moved to.
	key("o")
	loaded("/msg/" + ids[1])
	if got := tab.Text("#msg-subject"); !strings.Contains(got, subjects[3]) {
		t.Errorf("o opened %q, want %q", got, subjects[3])
	}
	// r, a, f: the compose page for this message.
	msgPath := path()
	for _, k := range []struct{ key, want string }{{"r", "/compose?reply="}, {"a", "/compose?replyall="}, {"f", "/compose?forward="}} {
		key(k.key)
		loaded(k.want + ids[1])
		tab.Navigate(srv.Web + msgPath)
		loaded(msgPath)
	}
	// u: back to the folder.
	key("u")
	loaded("/mail/")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 5`)
	// Enter: opens the row moved to.
	key("j")
	key("j")
	key(kb.Enter)
	loaded("/msg/" + ids[1])
	// e on the message: archived, back to the folder without it.
	key("e")
	loaded("/mail/")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 4`)
	if _, ok := live()[subjects[3]]; ok {
		t.Errorf("e on the message page left %q in INBOX", subjects[3])
	}
	if got := tab.Text(".folders"); !strings.Contains(got, "Archive") {
		t.Errorf("no Archive folder listed after e: %q", got)
	}
	// e in the list: archives the row moved to, and only it.
	ids = rows()
	key("j")
	key("e")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 3 && document.readyState === 'complete'`)
	if strings.Join(rows(), ",") != strings.Join(ids[1:], ",") {
		t.Errorf("e in the list left %v of %v, want the first gone", rows(), ids)
	}
	arch, err := srv.Store.Mailbox(ctx, acct.ID, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if arch.Messages != 2 || arch.SpecialUse != `\Archive` {
		t.Errorf("Archive after two e: %d messages, special use %q", arch.Messages, arch.SpecialUse)
	}
	// #: deletes the row moved to, with Undo offered.
	ids = rows()
	key("j")
	key("j")
	key("#")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 2 && document.querySelector('form.undo') && document.readyState === 'complete'`)
	if got := rows(); strings.Join(got, ",") != ids[0]+","+ids[2] {
		t.Errorf("# left %v of %v, want the second gone", got, ids)
	}
	tab.EachLook(func(int, bool) { tab.Screenshot("after-delete") })

	// Typing: the keys are text in a field, and do nothing else.
	typed := "jko#e/urafc?"
	// /: to the search box (from a folder, the search page's).
	key("/")
	loaded("/search")
	tab.WaitFor(`document.activeElement && document.activeElement.id === 'q'`)
	tab.Do(chromedp.SendKeys(chromedp.ID("q"), typed))
	if got := webtest.Run(tab, chromedp.Evaluate[string](`document.getElementById('q').value`)); got != typed {
		t.Errorf("the search box holds %q, want %q", got, typed)
	}
	if p := path(); !strings.HasPrefix(p, "/search") {
		t.Errorf("typing in the search box left the page for %s", p)
	}
	if webtest.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector('dialog.shortcut-help[open]')`)) {
		t.Errorf("typing ? in the search box opened the help")
	}
	// c: compose; its fields take the keys as text.
	tab.Navigate(srv.Web + "/")
	tab.WaitFor(`document.querySelectorAll('#rows .mail-row').length === 2 && document.readyState === 'complete'`)
	before := len(live())
	key("c")
	tab.WaitFor(`location.pathname === '/compose' && document.getElementById('subject')`)
	for _, field := range []string{"subject", "text"} {
		tab.Do(chromedp.Focus(chromedp.ID(field)), chromedp.SendKeys(chromedp.ID(field), typed))
		if got := webtest.Run(tab, chromedp.Evaluate[string](`document.getElementById(`+strconv.Quote(field)+`).value`)); !strings.Contains(got, typed) {
			t.Errorf("the %s field holds %q, want %q typed in", field, got, typed)
		}
	}
	if p := path(); !strings.HasPrefix(p, "/compose") {
		t.Errorf("typing in compose left the page for %s", p)
	}
	if webtest.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector('dialog.shortcut-help[open]')`)) {
		t.Errorf("typing ? in compose opened the help")
	}
	if n := len(live()); n != before {
		t.Errorf("typing in compose changed the INBOX from %d to %d messages", before, n)
	}
}
