package composebrowser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserComposeFirstSaveLost: the first save of a new message was
// stored but its answer never reached the page, which so never learnt
// the draft's id: its next save named no draft again, and Drafts got a
// second copy. The proxy drops the first autosave's answer; the next
// autosave (still naming no draft, with the page's key) must land on
// the draft stored, and the page take its id; then Send: Drafts holds
// one draft at every point, and one message goes.
func TestBrowserComposeFirstSaveLost(t *testing.T) {
	const hold = 10 * time.Second
	srv, sk, clk := browserServer(t, hold)
	px := newSavesProxy(t, srv)
	tab := composeAt(t, px.URL)
	webtest.Run(tab, chromedp.Evaluate[bool](watchSaves))

	px.LoseNext(false)
	typeText(tab, "The plan, as promised.")
	if lost := lostSave(t, px); lost.draft != "0" {
		t.Fatalf("the first save named draft %q, want 0", lost.draft)
	}
	tab.WaitFor(saveLine + `.textContent.startsWith("Not saved")`)
	first := onlyDraftID(t, srv)
	if got := webtest.Run(tab, chromedp.Evaluate[string](pageDraft)); got != "0" {
		t.Fatalf("the page names draft %s after the lost answer, want still 0", got)
	}

	typeText(tab, " The key is at reception.")
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	saves := px.Saves()
	if s := saves[len(saves)-1]; s.draft != "0" || s.lost {
		t.Errorf("the save after the lost one was %+v, want it naming no draft", s)
	}
	cur := onlyDraftID(t, srv)
	if cur == first {
		t.Errorf("the save after the lost one left draft %s as it was", first)
	}
	if got := webtest.Run(tab, chromedp.Evaluate[string](pageDraft)); got != cur {
		t.Errorf("the page names draft %s, want %s", got, cur)
	}
	if _, text := draftFiles(t, srv, bob); !strings.Contains(text, "The plan, as promised. The key is at reception.") {
		t.Errorf("the draft's text is %q", text)
	}

	sentAt := clk.Now()
	tab.Do(chromedp.Click(chromedp.CSS("#send-button")))
	waitText(t, tab, "main", "Sending")
	onlyDraftID(t, srv) // the send saved a version in place of cur: one draft
	got := sentOnce(t, srv, sk, clk, sentAt, hold, "Floor plan")
	if _, text := partsOf(t, got.data); !strings.Contains(text, "The plan, as promised. The key is at reception.") {
		t.Errorf("the message sent has the text %q", text)
	}
}
