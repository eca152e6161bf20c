package composebrowser_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// pageDraft is the draft id the page names in its saves.
const pageDraft = `document.querySelector("#draft-state input[name=draft]").value`

// composeAt signs bob in at base and opens compose with To and Subject
// filled without events (no save of their own).
func composeAt(t *testing.T, base string) *webtest.Tab {
	t.Helper()
	tab := webtest.NewTab(t)
	tab.SignIn(base, bob, bobPw)
	tab.Navigate(base + "/compose")
	webtest.Run(tab, chromedp.Evaluate[bool](`(() => {
		document.getElementById("to").value = "carol@far.test";
		document.getElementById("subject").value = "Floor plan";
		return true;
	})()`))
	return tab
}

// lostSave waits until the proxy has seen a save whose answer it
// dropped after the server stored it, and returns it.
func lostSave(t *testing.T, px *savesProxy) save {
	t.Helper()
	var lost save
	waitFor(t, "a save stored and its answer lost", func() bool {
		i := slices.IndexFunc(px.Saves(), func(s save) bool { return s.lost && s.done })
		if i >= 0 {
			lost = px.Saves()[i]
		}
		return i >= 0
	})
	return lost
}

// onlyDraftID is the id of the account's one draft.
func onlyDraftID(t *testing.T, srv *testserver.Server) string {
	t.Helper()
	ds := srv.Messages(t, bob, store.Drafts)
	if len(ds) != 1 {
		t.Fatalf("%d drafts in Drafts, want 1", len(ds))
	}
	return fmt.Sprint(ds[0].ID)
}

// TestBrowserComposeLostAnswer: a save the server stored whose answer
// never reached the page (the connection dropped after the commit, a
// proxy's timeout) left the page naming the replaced version: every
// later save and Send got 404, and the page could only say "Not saved".
// The proxy drops the answer of the save that carries two files, after
// the server stored it; the next save (text typed, carrying the files
// again, naming the old id) must store the text on the draft's current
// version with each file once, and the page must take its id. Then the
// answer of a text autosave is lost and Send pressed at once: the
// message must go, once, with the last text and both files.
func TestBrowserComposeLostAnswer(t *testing.T) {
	const hold = 10 * time.Second
	srv, sk, clk := browserServer(t, hold)
	px := newSavesProxy(t, srv)
	tab := composeAt(t, px.URL)
	webtest.Run(tab, chromedp.Evaluate[bool](watchSaves))
	typeText(tab, "The plan and a photo, as promised.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	first := webtest.Run(tab, chromedp.Evaluate[string](pageDraft))

	// The files' save is stored; its answer is lost.
	names := []string{"floor-plan.pdf", "site photo 2.jpg"}
	paths, want := chooseFiles(t, fileSizes, names...)
	px.LoseNext(true)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
	if lost := lostSave(t, px); !slices.Equal(lost.files, names) || lost.draft != first {
		t.Fatalf("the lost save carried %v naming draft %s, want %v naming %s", lost.files, lost.draft, names, first)
	}
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)
	if files, _ := draftFiles(t, srv, bob); len(files) != 2 || onlyDraftID(t, srv) == first {
		t.Fatalf("the lost save stored %v as draft %s; want both files, in a new version", keys(files), onlyDraftID(t, srv))
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string](pageDraft)); got != first {
		t.Fatalf("the page names draft %s after the lost answer, want still %s", got, first)
	}

	// The next save names the old version and carries the files again.
	typeText(tab, " The key is at reception.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	saves := px.Saves()
	if s := saves[len(saves)-1]; s.draft != first || !slices.Equal(s.files, names) || s.lost {
		t.Errorf("the save after the lost one was %+v, want it naming %s with the files again", s, first)
	}
	cur := onlyDraftID(t, srv)
	if got := webtest.Run(tab, chromedp.Evaluate[string](pageDraft)); got != cur {
		t.Errorf("the page names draft %s, want the current version %s", got, cur)
	}
	files, text := draftFiles(t, srv, bob)
	sameFiles(t, "the draft", files, want)
	if !strings.Contains(text, "The plan and a photo, as promised. The key is at reception.") {
		t.Errorf("the draft's text is %q", text)
	}
	listedOnce(t, tab, "after the save naming the old version", names)
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.getElementById("files").files.length`)); n != 0 {
		t.Errorf("the file input still holds %d files after the save that stored them", n)
	}
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.Screenshot("compose-after-lost-answer")
	})

	// A text save's answer lost, then Send at once, naming the old id.
	before := webtest.Run(tab, chromedp.Evaluate[string](pageDraft))
	px.LoseNext(false)
	typeText(tab, " See you Monday.")
	lostSave(t, px)
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)
	if onlyDraftID(t, srv) == before {
		t.Fatal("the lost text save stored no new version")
	}
	sentAt := clk.Now()
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	got := sentOnce(t, srv, sk, clk, sentAt, hold, "Floor plan")
	sentFiles, sentText := partsOf(t, got.data)
	sameFiles(t, "the message sent", sentFiles, want)
	if !strings.Contains(sentText, "The key is at reception. See you Monday.") {
		t.Errorf("the message sent has the text %q", sentText)
	}
}

// sentOnce passes the hold of bob's message sent at sentAt and checks
// that it went once: the draft gone, one message relayed, one in Sent.
func sentOnce(t *testing.T, srv *testserver.Server, sk *sink, clk *clocktest.Clock, sentAt time.Time, hold time.Duration, subject string) sunk {
	t.Helper()
	got := passHold(t, srv, sk, clk, sentAt, hold, subject)
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	if n := len(sk.got()); n != 1 {
		t.Errorf("the relay got %d messages, want 1", n)
	}
	if n := len(srv.Messages(t, bob, store.Sent)); n != 1 {
		t.Errorf("%d messages in Sent, want 1", n)
	}
	return got
}

// listedOnce checks that the draft state lists each file of names once.
func listedOnce(t *testing.T, tab *webtest.Tab, when string, names []string) {
	t.Helper()
	state := tab.Text("#draft-state")
	for _, name := range names {
		if strings.Count(state, name) != 1 {
			t.Errorf("%s the page lists %q, want %s once", when, state, name)
		}
	}
}

// sameFiles checks that files (what) holds each file of want once, byte
// for byte, and no other.
func sameFiles(t *testing.T, what string, files, want map[string][]byte) {
	t.Helper()
	if !slices.Equal(keys(files), keys(want)) {
		t.Errorf("%s has files %v, want %v each once", what, keys(files), keys(want))
	}
	for name, b := range want {
		if !bytes.Equal(files[name], b) {
			t.Errorf("%s: %s differs from the file chosen", what, name)
		}
	}
}

// TestBrowserComposeSignedOut: when the session ended (expired, signed
// out elsewhere), the next autosave's answer (401 with HX-Redirect) took
// the page to the sign-in page, and the text typed since the last save
// went with it. The session is deleted on the server, text typed: the
// page must stay, with the text, say the user was signed out with a
// link to sign in in a new tab, and warn on leaving; Send must not post
// into the sign-in wall. Once the user signed in again in another tab
// (the same cookies), the page must save the text by itself with the
// new session's token, and later saves and Send must go. Screenshots of
// the notice at 390 and 1280 px, light and dark.
func TestBrowserComposeSignedOut(t *testing.T) {
	srv, px, tab := openCompose(t, "")
	typeText(tab, "Dear Carol, the keys are at reception.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)

	if _, err := srv.Store.DeleteSessions(context.Background(), store.PrincipalUser, srv.Account(t, bob).ID, nil); err != nil {
		t.Fatal(err)
	}
	typeText(tab, " The plan follows.")
	const typed = "Dear Carol, the keys are at reception. The plan follows."
	tab.WaitFor(saveLine + `.classList.contains("signed-out")`)
	if loc := tab.Location(); !strings.HasSuffix(loc, "/compose") {
		t.Fatalf("after the session ended the page is %s, want still compose", loc)
	}
	if got := tab.Text("#draft-state .draft-saved"); !strings.Contains(got, "You were signed out.") || !strings.Contains(got, "Your text stays here") {
		t.Errorf("the save line says %q", got)
	}
	if ok := webtest.Run(tab, chromedp.Evaluate[bool](`(a => !!a && a.target === "_blank" && new URL(a.href).pathname === "/login")(document.querySelector("#draft-state .draft-saved a"))`)); !ok {
		t.Errorf("the save line has no link to sign in in a new tab")
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string](`document.getElementById("text").value`)); strings.TrimSpace(got) != typed {
		t.Errorf("the message field holds %q, want the text typed", got)
	}
	if !webtest.Run(tab, chromedp.Evaluate[bool](warnsOnLeave)) {
		t.Errorf("leaving the page while signed out does not warn")
	}
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.WaitFor(`(l => { const r = l.getBoundingClientRect(); return r.width > 0 && r.right <= window.innerWidth })(` + saveLine + `)`)
		tab.Screenshot("compose-signed-out")
	})
	// Send now would post into the sign-in wall: it stays.
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	if loc := tab.Location(); !strings.HasSuffix(loc, "/compose") {
		t.Fatalf("Send while signed out left for %s", loc)
	}
	if _, text := draftFiles(t, srv, bob); strings.Contains(text, "The plan follows.") {
		t.Fatalf("a save went through without a session: %q", text)
	}

	// Signed in again in another tab of the same browser.
	other, cancel := chromedp.NewContext(tab.Ctx)
	defer cancel()
	err := chromedp.Do(other,
		chromedp.Navigate(px.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("address")),
		chromedp.SendKeys(chromedp.ID("address"), bob),
		chromedp.SendKeys(chromedp.ID("password"), bobPw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("nav")),
	)
	if err != nil {
		t.Fatalf("sign in again in another tab: %v", err)
	}
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	if _, text := draftFiles(t, srv, bob); !strings.Contains(text, typed) {
		t.Errorf("after signing in again the draft's text is %q, want %q", text, typed)
	}
	if webtest.Run(tab, chromedp.Evaluate[bool](warnsOnLeave)) {
		t.Errorf("leaving the page once the draft was saved still warns")
	}
	typeText(tab, " See you Monday.")
	waitFor(t, "the next autosave to be stored", func() bool {
		_, text := draftFiles(t, srv, bob)
		return strings.Contains(text, typed+" See you Monday.")
	})
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	tab.WaitFor(`location.pathname.startsWith("/outbox/")`)
}

// TestBrowserComposeSentElsewhere: the draft open in one tab is sent from
// another. While it is held, an autosave of the first tab must not
// replace it (what is held is what goes) and must say it is being sent;
// once it was sent, an autosave must say the draft is no longer in
// Drafts, not show a 404 page, and "Save as a new draft" must keep the
// text typed. The message goes once. Screenshots of both notices at 390
// and 1280 px, light and dark.
func TestBrowserComposeSentElsewhere(t *testing.T) {
	const hold = 10 * time.Second
	srv, sk, clk := browserServer(t, hold)
	tab := composeAt(t, srv.Web)
	typeText(tab, "The plan, as promised.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	id := webtest.Run(tab, chromedp.Evaluate[string](pageDraft))

	// Sent from another tab of the same browser.
	other, cancel := chromedp.NewContext(tab.Ctx)
	defer cancel()
	sentAt := clk.Now()
	if err := chromedp.Do(other,
		chromedp.Navigate(srv.Web+"/compose?draft="+id),
		chromedp.WaitVisible(chromedp.ID("send-button")),
		chromedp.Click(chromedp.ID("send-button")),
	); err != nil {
		t.Fatalf("send from another tab: %v", err)
	}
	var held string // the version the send saved, and holds
	waitFor(t, "the message to be held", func() bool {
		list, err := srv.Store.Outbox(context.Background(), srv.Account(t, bob).ID)
		if err == nil && len(list) == 1 {
			held = fmt.Sprint(list[0].DraftID)
		}
		return held != ""
	})

	typeText(tab, " The key is at reception.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)
	if got := tab.Text("#draft-state .alert-error"); !strings.Contains(got, "already being sent") {
		t.Errorf("an autosave of the held draft says %q", got)
	}
	if ok := webtest.Run(tab, chromedp.Evaluate[bool](`(a => !!a && new URL(a.href).pathname.startsWith("/outbox/"))(document.querySelector("#draft-state a"))`)); !ok {
		t.Errorf("the held draft's notice has no link to its undo page")
	}
	if got := onlyDraftID(t, srv); got != held {
		t.Errorf("the held draft %s was replaced by %s", held, got)
	}
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.Screenshot("compose-draft-held")
	})

	got := passHold(t, srv, sk, clk, sentAt, hold, "Floor plan")
	if _, text := partsOf(t, got.data); !strings.Contains(text, "The plan, as promised.") || strings.Contains(text, "reception") {
		t.Errorf("the message sent has the text %q, want the one held", text)
	}
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })

	typeText(tab, " See you Monday.")
	tab.WaitFor(`(document.querySelector("#draft-state .alert-error") || {textContent: ""}).textContent.includes("no longer in Drafts")`)
	if loc := tab.Location(); !strings.HasSuffix(loc, "/compose") {
		t.Fatalf("after the draft was sent the page is %s", loc)
	}
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		tab.Screenshot("compose-draft-gone")
	})
	// Leaving the message field for the button saves (its "change"),
	// and that save's answer may come before the button is let go: the
	// press is held across it, so that it always does (a CI run lost
	// the press once, when the answer came first). The field may have
	// been left already (the screenshots' resizing).
	tab.Do(webtest.Loads(pressAcrossSave(`#draft-state button[name=asnew]`, false)))
	waitText(t, tab, "main", "Draft saved.")
	if _, text := draftFiles(t, srv, bob); !strings.Contains(text, "The plan, as promised. The key is at reception. See you Monday.") {
		t.Errorf("the new draft's text is %q", text)
	}
	if n := len(sk.got()); n != 1 {
		t.Errorf("the relay got %d messages, want 1", n)
	}
}
