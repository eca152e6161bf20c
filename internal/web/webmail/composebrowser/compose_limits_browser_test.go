package composebrowser_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// randomFile writes n random bytes to a file named name in dir.
func randomFile(t *testing.T, dir, name string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// networkConditions are the parameters of Network.emulateNetworkConditions
// (deprecated in the protocol for emulateNetworkConditionsByRule, which
// Debian's Chromium refuses without a URL pattern; this one still
// works and is what DevTools' throttling uses).
type networkConditions struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

var emulateNetworkConditions = cdp.Command[networkConditions, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

// throttleUpload limits the tab's upload speed (bytes/s; -1: none), so
// that an upload is seen in progress.
func throttleUpload(tab *webtest.Tab, bps float64) {
	tab.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulateNetworkConditions, networkConditions{DownloadThroughput: -1, UploadThroughput: bps})
		return err
	}))
}

// TestBrowserComposeThreeUploadsAndLimit: three files chosen at once
// upload with a progress bar, then are listed in the draft; a fourth
// that takes the draft past the limit is refused with 413, the limit
// named, and the three stay listed, with script and without (the
// whole-page answer of a plain form post). Screenshots of each at 390
// and 1280 px, light and dark.
func TestBrowserComposeThreeUploadsAndLimit(t *testing.T) {
	tlsCfg := webtest.ServerTLS(t)
	srv := testserver.Start(t, testserver.Options{
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			tlsCfg(c)
			// Attachments up to 2.9 MB (3/4 of 4 MiB, less room for the text).
			c.Submission.MaxMessageBytes = 4 << 20
		},
	})
	dir := t.TempDir()
	files := []string{
		randomFile(t, dir, "quarterly-report.pdf", 700<<10),
		randomFile(t, dir, "site photo 1.jpg", 600<<10),
		randomFile(t, dir, "budget-2027.xlsx", 500<<10),
	}
	big := randomFile(t, dir, "archive.zip", 1200<<10)

	tab := webtest.NewTab(t)
	tab.SignIn(srv.Web, bob, bobPw)
	tab.Navigate(srv.Web + "/compose")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#to"), "carol@far.test"),
		chromedp.SendKeys(chromedp.CSS("#subject"), "Site visit"))
	waitText(t, tab, "#draft-state", "Draft saved")
	if got := tab.Text("#files-hint"); !strings.Contains(got, "2.9 MB") {
		t.Errorf("the limit shown is %q, want 2.9 MB", got)
	}
	// 1.8 MB at 150 KB/s: about 12 s of progress to see.
	throttleUpload(tab, 150<<10)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	tab.WaitFor(`!document.getElementById('upload-progress').hidden && document.getElementById('upload-progress').value > 0`)
	if got := tab.Text("#upload-status"); !strings.Contains(got, "Uploading quarterly-report.pdf, site photo 1.jpg, budget-2027.xlsx") {
		t.Errorf("during the upload the status says %q, want the three names", got)
	}
	tab.Screenshot("compose-uploading-3")
	tab.SetWidth(webtest.PhoneWidth)
	tab.SetDark(true)
	tab.Screenshot("compose-uploading-3")
	waitText(t, tab, "#draft-state", "budget-2027.xlsx")
	throttleUpload(tab, -1)
	for _, name := range []string{"quarterly-report.pdf", "site photo 1.jpg"} {
		if !strings.Contains(tab.Text("#draft-state"), name) {
			t.Errorf("the draft does not list %s: %q", name, tab.Text("#draft-state"))
		}
	}
	if !webtest.Run(tab, chromedp.Evaluate[bool](`document.getElementById('upload-progress').hidden`)) {
		t.Error("the progress bar stays after the upload")
	}
	shots := func(name string) {
		for _, w := range []int{webtest.LaptopWidth, webtest.PhoneWidth} {
			for _, dark := range []bool{false, true} {
				tab.SetWidth(w)
				tab.SetDark(dark)
				tab.WaitFor("document.documentElement.scrollWidth <= window.innerWidth")
				tab.Screenshot(name)
			}
		}
	}
	shots("compose-3-attachments")

	// A fourth file within the limit alone, over it with the three: the
	// page's own check lets it go, the server refuses it.
	tab.WaitFor(`!document.getElementById('compose-form').classList.contains('htmx-request')`)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big}))
	waitText(t, tab, "#draft-state", "at most 2.9 MB")
	state := tab.Text("#draft-state")
	if strings.Contains(state, "archive.zip") || !strings.Contains(state, "quarterly-report.pdf") || !strings.Contains(state, "budget-2027.xlsx") {
		t.Errorf("after the refused upload the draft state is %q, want the three files and not the fourth", state)
	}
	shots("compose-413")

	// Without script the form posts whole pages: the refusal is a 413
	// page of its own, the draft's files still listed.
	tab.SetWidth(webtest.LaptopWidth)
	tab.SetDark(false)
	id := value(tab, `input[name="draft"]`)
	tab.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	tab.Navigate(srv.Web + "/compose?draft=" + id)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big}),
		chromedp.Click(chromedp.CSS(`button[formaction="/compose/save"]:not([name])`)))
	tab.WaitFor(`document.querySelector('#draft-state .alert-error') !== null`)
	if got := tab.Text("#draft-state"); !strings.Contains(got, "at most 2.9 MB") || !strings.Contains(got, "site photo 1.jpg") {
		t.Errorf("the 413 page says %q, want the limit and the draft's files", got)
	}
	shots("compose-413-page")
}
