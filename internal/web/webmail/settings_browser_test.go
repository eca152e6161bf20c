package webmail_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserMailAppSetup: the settings page's "Set up your mail app"
// box shows the server's real settings and a profile download for
// iPhone, iPad and Mac, with a sentence for Outlook and Thunderbird, at
// a phone's and a laptop's width, light and dark; a click on the
// download saves the signed-in user's profile, which Python's plistlib
// reads.
func TestBrowserMailAppSetup(t *testing.T) {
	srv := start(t)
	var (
		mu        sync.Mutex
		suggested string
		done      = map[string]bool{} // download GUID → completed
	)
	tab := webtest.NewTab(t, webtest.Listen(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			suggested = ev.SuggestedFilename
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted {
				done[ev.GUID] = true
			}
		}
	}))
	tab.SignIn(srv.Web, "bob@example.test", "bob-password")
	tab.Navigate(srv.Web + "/settings")

	if h := tab.Text(".mail-setup h2"); h != "Set up your mail app" {
		t.Errorf("the box's heading is %q", h)
	}
	_, imapPort, _ := net.SplitHostPort(srv.IMAP)
	_, subPort, _ := net.SplitHostPort(srv.Submission)
	settings := tab.Text("#client-settings")
	for _, want := range []string{"bob@example.test", "localhost, port " + imapPort + ", SSL/TLS", "localhost, port " + subPort + ", STARTTLS"} {
		if !strings.Contains(settings, want) {
			t.Errorf("the settings lack %q:\n%s", want, settings)
		}
	}
	for _, id := range []string{"setup-apple", "setup-outlook", "setup-thunderbird"} {
		if txt := tab.Text("#" + id); len(txt) < 40 {
			t.Errorf("#%s says too little: %q", id, txt)
		}
	}
	tab.EachLook(func(width int, dark bool) {
		// The download button is on screen and nothing runs off the
		// page sideways.
		tab.WaitFor(`(() => { const r = document.querySelector('#profile-download').getBoundingClientRect();
			return r.width > 0 && r.right <= window.innerWidth && document.documentElement.scrollWidth <= window.innerWidth })()`)
		tab.Screenshot("settings")
	})

	dir := t.TempDir()
	events := true
	tab.Do(
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events,
				BrowserContextID: chromedp.FromContext(tab.Ctx).BrowserContextID,
			})
			return err
		}),
		chromedp.Click(chromedp.ID("profile-download")),
	)
	var guid string
	deadline := time.Now().Add(webtest.Timeout)
	for guid == "" {
		mu.Lock()
		for g := range done {
			guid = g
		}
		mu.Unlock()
		if guid == "" && time.Now().After(deadline) {
			t.Fatal("the profile download did not complete")
		}
		if guid == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	mu.Lock()
	name := suggested
	mu.Unlock()
	if name != "mail-bob@example.test.mobileconfig" {
		t.Errorf("the download is named %q", name)
	}
	doc, err := os.ReadFile(filepath.Join(dir, guid))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-c", `import plistlib, sys
p = plistlib.loads(sys.stdin.buffer.read())
m = p['PayloadContent'][0]
print(m['PayloadType'], m['EmailAddress'], m['IncomingMailServerPortNumber'], m['OutgoingMailServerPortNumber'])`)
	cmd.Stdin = strings.NewReader(string(doc))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s\n%s", err, out, doc)
	}
	if got, want := strings.TrimSpace(string(out)), "com.apple.mail.managed bob@example.test "+imapPort+" "+subPort; got != want {
		t.Errorf("the downloaded profile says %q, want %q", got, want)
	}
	if r := tab.RemoteRequests(srv.Web); len(r) > 0 {
		t.Errorf("the page left the host: %v", r)
	}
}
