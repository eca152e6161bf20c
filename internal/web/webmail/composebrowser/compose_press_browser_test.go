package composebrowser_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// composeWithFiles opens compose (openCompose: the page counts its
// saves) and chooses two files, whose save lists them with a Remove
// button each. It returns the files' names, in the page's order.
func composeWithFiles(t *testing.T) (*testserver.Server, *webtest.Tab, []string) {
	t.Helper()
	srv, _, tab := openCompose(t, "")
	names := []string{"floor-plan.pdf", "site photo 2.jpg"}
	paths, _ := chooseFiles(t, fileSizes, names...)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), paths))
	tab.WaitFor(`document.querySelectorAll("#draft-state button[name=remove]").length === 2 && window.saves.ended === 1`)
	files, _ := draftFiles(t, srv, bob)
	if got := keys(files); !slices.Equal(got, names) {
		t.Fatalf("the draft has files %v, want %v", got, names)
	}
	return srv, tab, names
}

// removeButton is the CSS selector of the Remove button of the i-th
// file listed.
func removeButton(i int) string {
	return fmt.Sprintf(`#draft-state li:nth-child(%d) button[name=remove]`, i+1)
}

// TestBrowserComposeAutosaveNotAPress: htmx adds the name and value of
// the form's button last focused or clicked to every request of the
// form (its tracking of submit buttons), so an autosave started while
// "Remove" had the focus (tabbed to it; the page's retry of a failed
// save or its save after signing in again starts one with no key
// pressed) removed that file, unasked. A Remove button (chosen at
// random, the seed logged) is focused with nothing pending, then the
// page's own autosave starts (the "change" its retry dispatches): the
// draft must keep both files, and the page must list both.
func TestBrowserComposeAutosaveNotAPress(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	srv, tab, names := composeWithFiles(t)

	i := rnd.IntN(len(names))
	tab.Do(chromedp.Focus(chromedp.CSS(removeButton(i))))
	tab.WaitFor(`document.activeElement && document.activeElement.name === "remove" && window.saves.ended === 1`)
	webtest.Run(tab, chromedp.Evaluate[bool](`document.getElementById("compose-form").dispatchEvent(new Event("change"))`))
	tab.WaitFor(`window.saves.ended === 2`)
	tab.WaitFor(saveLine + `.textContent.startsWith("Draft saved at")`)
	files, _ := draftFiles(t, srv, bob)
	if got := keys(files); !slices.Equal(got, names) {
		t.Errorf("after an autosave with Remove of %s focused the draft has files %v, want %v", names[i], got, names)
	}
	listedOnce(t, tab, "after an autosave with Remove focused", names)
}
