package composebrowser_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/disktest"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// warnsOnLeave asks the page's beforeunload listeners whether they would
// hold the user back: a real navigation's prompt would block the tab.
const warnsOnLeave = `(() => {
	const e = new Event("beforeunload", {cancelable: true});
	window.dispatchEvent(e);
	return e.defaultPrevented;
})()`

// saveLine is the draft state's line that says how the last save went.
const saveLine = `document.querySelector("#draft-state .draft-saved")`

// setTo sets the To field without events (no save of its own).
func setTo(tab *webtest.Tab, to string) {
	webtest.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { document.getElementById("to").value = %q; return true })()`, to)))
}

// unsavedCase is how a save without files fails, and how the test lets
// the next one through.
type unsavedCase struct {
	typed string // the text typed, whose autosave fails
	line  string // the save line after the failure
	alert string // the draft state's alert after it ("": none)
	// heal makes the next save get through; then the test types more
	// (again: "") or waits for the page's own retry (again: "retry").
	heal  func()
	again string
}

// unsavedShown types text into compose, whose autosave fails (as the
// caller arranged), and checks that the save line near the buttons says
// so, with the reason, as a status; that the text is still in the page;
// that leaving the page would warn. Screenshots of that at 390 and 1280
// px, light and dark. Then it heals the failure and checks that the next
// save (text typed, or the page's retry) stores the text, that the line
// says the draft is saved, and that leaving no longer warns.
func unsavedShown(t *testing.T, srv *testserver.Server, px *savesProxy, tab *webtest.Tab, tc unsavedCase) {
	t.Helper()
	typeText(tab, tc.typed)
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)
	if got := tab.Text("#draft-state .draft-saved"); got != tc.line {
		t.Errorf("after the failed save the save line says %q, want %q", got, tc.line)
	}
	if ok := webtest.Run(tab, chromedp.Evaluate[bool](saveLine+`.getAttribute("role") === "status" && `+saveLine+`.classList.contains("save-failed")`)); !ok {
		t.Errorf("the save line is not a status marked as a failure")
	}
	if tc.alert != "" {
		if got := tab.Text("#draft-state .alert-error"); !strings.Contains(got, tc.alert) {
			t.Errorf("the refused save's draft state says %q, want %q in it", got, tc.alert)
		}
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string](`document.getElementById("text").value`)); strings.TrimSpace(got) != tc.typed {
		t.Errorf("after the failed save the message field holds %q, want the text typed", got)
	}
	if ok := webtest.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector("#draft-state input[name=draft]")`)); !ok {
		t.Errorf("after the failed save the draft state is gone from the page")
	}
	if !webtest.Run(tab, chromedp.Evaluate[bool](warnsOnLeave)) {
		t.Errorf("leaving the page after the failed save does not warn")
	}
	tab.EachLook(func(int, bool) {
		tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
		// Seen whole, not clipped: the line is inside the page's width
		// and has room for its text.
		tab.WaitFor(`(l => { const r = l.getBoundingClientRect(); return r.width > 0 && r.right <= window.innerWidth && l.scrollWidth <= l.clientWidth && l.scrollHeight <= l.clientHeight + 1 })(` + saveLine + `)`)
		tab.Screenshot("compose-not-saved")
	})

	tc.heal()
	final := tc.typed
	if tc.again == "" {
		typeText(tab, " See you Monday.")
		final += " See you Monday."
	}
	waitFor(t, "a save of the text to get through", func() bool {
		return slices.ContainsFunc(px.Saves(), func(s save) bool { return s.done && s.fail == "" && s.text == final })
	})
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	if tc.again == "retry" {
		if n := webtest.Run(tab, chromedp.Evaluate[int](`window.saves.textTriggered`)); n != 1 {
			t.Errorf("%d autosaves of text typed, want the one that failed: the text went with one of them, not the retry", n)
		}
	}
	if webtest.Run(tab, chromedp.Evaluate[bool](saveLine+`.classList.contains("save-failed")`)) {
		t.Errorf("after the save that stored the draft the save line is still marked as a failure")
	}
	if webtest.Run(tab, chromedp.Evaluate[bool](warnsOnLeave)) {
		t.Errorf("leaving the page after the draft was saved still warns")
	}
	if _, text := draftFiles(t, srv, bob); !strings.Contains(text, final) {
		t.Errorf("the stored draft's text is %q, want %q", text, final)
	}
}

// TestBrowserComposeUnsavedShown: a save without files that does not
// store the draft showed nothing (a proxy's 5xx, a dropped connection),
// or a reason beside a line still saying "Draft saved." (an address the
// server cannot read, answered 200), so the user kept typing believing
// the draft safe. The save line must say it was not saved and why, keep
// the text, warn on leaving, and the next save (the page's retry, or an
// autosave of text typed) must store the text and clear the line.
func TestBrowserComposeUnsavedShown(t *testing.T) {
	const typed = "Dear Carol, the keys are at reception."
	for _, tc := range []struct {
		name  string
		fail  failure // how the proxy fails every save until healed
		to    string  // the To field for the failing save
		line  string
		alert string
		again string
	}{
		{"proxy-502", failBadGateway, "carol@far.test",
			"Not saved: the server could not be reached. Your text is still here; trying again…", "", "retry"},
		{"proxy-503", failBusy, "carol@far.test",
			"Not saved: the server could not be reached. Your text is still here; trying again…", "", ""},
		{"dropped", failDrop, "carol@far.test",
			"Not saved: the connection failed. Your text is still here; trying again…", "", ""},
		{"address-refused", "", "carol@",
			"Not saved: see the message above. Your text is still here.", "carol@", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, px, tab := openCompose(t, "")
			setTo(tab, tc.to)
			px.FailAll(tc.fail)
			unsavedShown(t, srv, px, tab, unsavedCase{typed: typed, line: tc.line, alert: tc.alert, again: tc.again,
				heal: func() {
					px.FailAll("")
					setTo(tab, "carol@far.test")
				}})
		})
	}
}

// TestBrowserComposeUnsavedDiskFull: the server's own answer to a save
// on a full disk (503, a line of its own, not the draft state) showed
// nothing. The store lives on a real small tmpfs, filled up before the
// text is typed: the save line must say the server is out of space;
// once space is free again, the next autosave stores the text.
func TestBrowserComposeUnsavedDiskFull(t *testing.T) {
	dir, ok := disktest.Mount(t, "16m")
	if !ok {
		return
	}
	srv, px, tab := openComposeIn(t, dir, "")

	// Fill the disk. The text is larger than any slack the store's
	// files may have left in their last pages.
	free := disktest.Fill(t, dir)
	typed := "Dear Carol, the keys are at reception." + strings.Repeat(" The plan follows.", 4000)
	unsavedShown(t, srv, px, tab, unsavedCase{typed: typed,
		line: "Not saved: the server is out of space. Your text is still here; trying again…",
		heal: free})
}

// TestBrowserComposeFilesChosenAgainDuringTheirFailingSave: files chosen
// while the save carrying the files chosen before is in flight replace
// them in the file input; when that save failed, the earlier files were
// lost without a word. The proxy holds their save, then fails it (502);
// the save queued behind it must carry both selections, earlier first,
// and the draft must store each file once.
func TestBrowserComposeFilesChosenAgainDuringTheirFailingSave(t *testing.T) {
	srv, px, tab := openCompose(t, "The plan and photos, as promised.")
	first, firstPaths, again, againPaths, want := twoSelections(t)
	px.Hold(true)
	px.Fail(failBadGateway)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), firstPaths))
	if held := px.WaitHeld(t); !slices.Equal(held.files, first) || held.fail != failBadGateway {
		t.Fatalf("the held save carries %v (failing: %q), want %v, failing", held.files, held.fail, first)
	}
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), againPaths))
	tab.WaitFor(`window.saves.filesTriggered === 2`)
	px.Fail("") // the queued save gets through
	px.Release()
	tab.WaitFor(`window.saves.ended === 2`)
	waitFor(t, "the proxy to see both saves answered", func() bool {
		s := px.Saves()
		return len(s) == 2 && s[1].done
	})
	saves := px.Saves()
	if saves[0].fail != failBadGateway {
		t.Fatalf("the first save was %+v, want it failed", saves[0])
	}
	if all := slices.Concat(first, again); !slices.Equal(saves[1].files, all) || saves[1].fail != "" {
		t.Errorf("the save after the failed one sent %v (failed: %q), want %v, through", saves[1].files, saves[1].fail, all)
	}
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	if n := webtest.Run(tab, chromedp.Evaluate[int](`document.getElementById("files").files.length`)); n != 0 {
		t.Errorf("the file input still holds %d files after the save that stored them", n)
	}
	if got := tab.Text("#files-hint"); strings.Contains(got, "Not attached") {
		t.Errorf("after the save that stored them the line beside the files still says %q", got)
	}
	files, _ := draftFiles(t, srv, bob)
	if !slices.Equal(keys(files), keys(want)) {
		t.Errorf("the stored draft has %v, want %v", keys(files), keys(want))
	}
	for name, b := range want {
		if got := files[name]; string(got) != string(b) {
			t.Errorf("the stored draft's %s differs from the file chosen (%d bytes, want %d)", name, len(got), len(b))
		}
	}
	listedOnce(t, tab, "after the save that stored them", keys(want))
	tab.SetWidth(webtest.PhoneWidth)
	tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
	tab.Screenshot("compose-files-chosen-again-after-failure")
}

// TestBrowserComposeSendDuringFailingSave: Send pressed while a save is
// in flight waits for its end, to send with the draft's new version. It
// waited for the answer to be settled, which a failed save never is, so
// Send did nothing at all. The proxy holds an autosave, then drops it;
// the send must go, with the text, and the page must leave for the
// outbox without asking (the form takes the unsaved text along).
func TestBrowserComposeSendDuringFailingSave(t *testing.T) {
	srv, px, tab := openCompose(t, "")
	px.Hold(false)
	px.FailAll(failDrop)
	typeText(tab, "Dear Carol, the keys are at reception.")
	px.WaitHeld(t)
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	px.Release()
	tab.WaitFor(`location.pathname.startsWith("/outbox/")`)
	// (Leaving the message field for the button queued a save of its
	// "change" behind the held one.)
	if saves := px.Saves(); len(saves) == 0 || !saves[0].held || saves[0].fail != failDrop {
		t.Errorf("the saves were %+v, want the first held, then dropped", saves)
	}
	// Held for the undo window, the message is the draft sent.
	if _, text := draftFiles(t, srv, bob); !strings.Contains(text, "Dear Carol, the keys are at reception.") {
		t.Errorf("the message sent has the text %q, want the text typed", text)
	}
}

// TestBrowserComposeLeavingUnsavedAsks: after a save failed, following
// the Close link makes Chromium ask first (beforeunload); staying keeps
// the page and the text. Once a save stored the draft, Close leaves at
// once.
func TestBrowserComposeLeavingUnsavedAsks(t *testing.T) {
	_, px, tab := openCompose(t, "")
	px.FailAll(failDrop)
	typeText(tab, "Dear Carol, the keys are at reception.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)

	// The dialog holds the click that opened it until it is answered:
	// answered here, from the listener, on a goroutine of its own.
	dialogs := make(chan page.DialogType, 4)
	stay := func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		return err
	}
	if err := chromedp.Listen(tab.Ctx, func(ev any) {
		if ev, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs <- ev.Type
			go chromedp.Do(tab.Ctx, chromedp.Func(stay))
		}
	}); err != nil {
		t.Fatal(err)
	}
	tab.Do(chromedp.Click(chromedp.CSS(".compose-actions a[href='/']")))
	waitFor(t, "a dialog or the next page", func() bool {
		return len(dialogs) > 0 || !strings.HasSuffix(tab.Location(), "/compose")
	})
	if len(dialogs) == 0 {
		t.Fatalf("Close after the failed save left without asking (now on %s)", tab.Location())
	}
	if typ := <-dialogs; typ != page.DialogTypeBeforeunload {
		t.Errorf("Close after the failed save opened a %s dialog, want beforeunload", typ)
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string](`location.pathname + " " + document.getElementById("text").value`)); got != "/compose Dear Carol, the keys are at reception." {
		t.Errorf("after staying, the page and text are %q", got)
	}

	px.FailAll("")
	typeText(tab, " See you Monday.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	tab.Do(chromedp.Click(chromedp.CSS(".compose-actions a[href='/']")))
	tab.WaitFor(`location.pathname === "/"`)
	if len(dialogs) != 0 {
		t.Errorf("Close after the draft was saved asked first")
	}
}
