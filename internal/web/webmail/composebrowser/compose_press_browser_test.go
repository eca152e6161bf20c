package composebrowser_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// pressAcrossSave presses the button sel with the mouse, as a user does,
// and holds it down until the autosave the press itself started (the
// field left for the button fires "change") has been answered and its
// answer applied to the page; then it lets go. The button must still
// take the press: a click needs its mousedown and mouseup on one node.
// A press that started no save (nothing typed since the field was last
// left) is let go at once; mustSave makes that an error.
func pressAcrossSave(sel string, mustSave bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		pt, err := chromedp.Evaluate[[]float64](fmt.Sprintf(`(b => {
			b.scrollIntoView({block: "center"});
			const form = b.form; // b's own goes if b is swapped out
			window.pressSaves = 0;
			form.addEventListener("htmx:afterRequest", e => { if (e.detail.elt === form) window.pressSaves++ });
			const r = b.getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2];
		})(document.querySelector(%q))`, sel))(ctx, tg)
		if err != nil {
			return fmt.Errorf("find %s: %w", sel, err)
		}
		if _, err := chromedp.MouseEvent(chromedp.MousePressed, pt[0], pt[1], chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, tg); err != nil {
			return err
		}
		const form = `document.getElementById("compose-form")`
		started, err := chromedp.Evaluate[bool](`window.pressSaves > 0 || `+form+`.classList.contains("htmx-request")`)(ctx, tg)
		if err != nil {
			return err
		}
		if !started && mustSave {
			return fmt.Errorf("pressing %s started no save: the press does not meet a save's answer", sel)
		}
		for started {
			done, err := chromedp.Evaluate[bool](`window.pressSaves > 0 && !`+form+`.classList.contains("htmx-request")`)(ctx, tg)
			if err != nil {
				return err
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for the save the press started: %w", ctx.Err())
			case <-time.After(25 * time.Millisecond):
			}
		}
		_, err = chromedp.MouseEvent(chromedp.MouseReleased, pt[0], pt[1], chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, tg)
		return err
	})
}

// TestBrowserComposePressAcrossSave: a save's answer replaced the whole
// draft state, buttons included, and leaving the message field for one
// of them starts a save (the field's "change") at the button's
// mousedown: when its answer came before the mouseup (a fast server, a
// press of a tenth of a second), the mouseup met a new button, no click
// followed, and the press was lost (seen as a flaky
// TestBrowserComposeSentElsewhere: "page was not replaced"). Text is
// typed, then the Remove of a file (chosen at random, the seed logged)
// is pressed and held until that save's answer is in the page: the
// press must remove that file, by the form's post, and keep the text.
func TestBrowserComposePressAcrossSave(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	srv, tab, names := composeWithFiles(t)

	typeText(tab, "The plan, as promised.")
	i := rnd.IntN(len(names))
	tab.Do(webtest.Loads(pressAcrossSave(removeButton(i), true)))
	waitText(t, tab, "main", "Draft saved.")
	files, text := draftFiles(t, srv, bob)
	if got, want := keys(files), slices.Delete(slices.Clone(names), i, i+1); !slices.Equal(got, want) {
		t.Errorf("after pressing Remove of %s the draft has files %v, want %v", names[i], got, want)
	}
	if !strings.Contains(text, "The plan, as promised.") {
		t.Errorf("the draft's text is %q", text)
	}
}
