package console_test

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// tab is one browser tab on the test server, with a deadline for the
// whole test (generous: the machine is shared).
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *testserver.Server
}

// newTab opens a tab in the binary's shared Chromium (webtest); srv must
// serve webtest's certificate (browserServer). The deadline covers the
// whole test: a hang guard only, above every wait a test bounds itself
// (the bulk import's is 10 minutes under -race on a loaded machine).
func newTab(t *testing.T, srv *testserver.Server) *tab {
	t.Helper()
	wt := webtest.NewTab(t)
	tctx, cancel := context.WithTimeout(wt.Ctx, 15*time.Minute)
	t.Cleanup(cancel)
	return &tab{t: t, ctx: tctx, srv: srv}
}

// browserServer starts the whole service with the certificate that the
// browser accepts.
func browserServer(t *testing.T) *testserver.Server {
	return testserver.Start(t, testserver.Options{Data: freshData(t), Configure: webtest.ServerTLS(t)})
}

// do runs steps, each after the page's scripts have run (they run after
// the first paint, web/static/boot.js): a click before htmx is loaded
// would post a plain form instead.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, webtest.AfterScripts(steps...)...); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, html)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// waitFlash waits until the page's flash says want: after a click that
// posts a form, the old page (with its own flash) may still be shown for
// a moment.
func (b *tab) waitFlash(want string) {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector(".flash") || {}).textContent || ""`))
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page's flash says %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shotDir is where screenshots go: $XTRAMAIL_SCREENSHOTS, else
// screenshots/ at the repository's root (not committed).
func shotDir(t *testing.T) string {
	dir := os.Getenv("XTRAMAIL_SCREENSHOTS")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "..", "..", "..", "screenshots")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// midWordHeaders lists the words of table headers that the layout broke
// across lines, by the line boxes of a range over each word.
// misplacedChecks names each checkbox beside its label (.xc-check) that
// is not at its full 1.1rem size or not level with the first line of its
// label: a long label that wraps used to squeeze its checkbox and centre
// it on the whole label.
const misplacedChecks = `(() => {
	const out = [];
	const want = 1.1 * parseFloat(getComputedStyle(document.documentElement).fontSize);
	for (const box of document.querySelectorAll(".xc-check input[type=checkbox]")) {
		const label = document.querySelector("label[for='" + box.id + "']");
		const b = box.getBoundingClientRect();
		if (Math.abs(b.width - want) > 0.5 || Math.abs(b.height - want) > 0.5) {
			out.push(box.id + " is " + b.width.toFixed(1) + "x" + b.height.toFixed(1) + " px, not " + want.toFixed(1));
			continue;
		}
		if (!label) continue;
		const r = document.createRange();
		r.selectNodeContents(label);
		const line = r.getClientRects()[0];
		if (line && Math.abs((b.top + b.bottom) / 2 - (line.top + line.bottom) / 2) > 3) {
			out.push(box.id + " is not level with its label's first line");
		}
	}
	return out.join("; ");
})()`

const midWordHeaders = `(() => {
	const out = [];
	for (const th of document.querySelectorAll("thead th")) {
		const walk = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			const re = /\S+/g;
			let m;
			while ((m = re.exec(n.data))) {
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
				if (tops.size > 1) out.push(m[0]);
			}
		}
	}
	return out.join(", ");
})()`

// shoot saves the page at path in the four looks: 390 and 1280 px wide,
// light and dark.
func (b *tab) shoot(name, path, ready string) {
	b.t.Helper()
	dir := shotDir(b.t)
	for _, width := range []int64{390, 1280} {
		for _, scheme := range []string{"light", "dark"} {
			b.do("emulate "+scheme,
				chromedp.EmulateViewport(width, 900),
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
					return err
				}),
				chromedp.Navigate(b.srv.Web+path),
				chromedp.WaitVisible(chromedp.CSS(ready)),
			)
			// Nothing may stick out sideways at phone width.
			if over := b.eval("String(document.documentElement.scrollWidth - window.innerWidth)"); width == 390 && over != "0" {
				b.t.Errorf("%s at 390 px: the page is %s px wider than the screen", name, over)
			}
			// A table header breaks between words only: a word whose
			// text has more than one line box was split inside.
			if split := b.eval(midWordHeaders); width == 390 && split != "" {
				b.t.Errorf("%s at 390 px: table headers broken inside a word: %s", name, split)
			}
			if off := b.eval(misplacedChecks); off != "" {
				b.t.Errorf("%s at %d px: %s", name, width, off)
			}
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				b.t.Fatalf("screenshot %s: %v", name, err)
			}
			file := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.png", name, width, scheme))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	b.do("reset look", chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		return err
	}))
}

// signIn signs in, through the page, an administrator whom the service
// asks no second factor of (a customer's: the role needs none), and
// waits for the dashboard.
func (b *tab) signIn(email, password string) {
	b.t.Helper()
	b.do("sign in as "+email,
		chromedp.Navigate(b.srv.Web+"/console/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		webtest.Loads(chromedp.Click(chromedp.CSS("form button[type=submit]"))),
	)
	if loc, err := chromedp.Run(b.ctx, chromedp.Location()); err != nil || strings.Contains(loc, "/login") {
		b.t.Fatalf("signing in as %s ended at %s (%v):\n%s", email, loc, err, b.text("main"))
	}
}

// signInTOTP signs the provider administrator in through the pages:
// password, then the enrolment's QR code page (the secret is read from
// the page, as a person would type it), then a code made from it.
func (b *tab) signInTOTP(email, password string) string {
	b.t.Helper()
	b.do("sign-in page",
		chromedp.Navigate(b.srv.Web+"/console/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("svg.xc-qrcode")),
	)
	secret := strings.TrimSpace(b.text("code.xc-secret"))
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	b.do("TOTP code",
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)
	return secret
}

// TestBrowserConsole drives the console in Chromium through what an
// administrator does on a bad day: sign in with TOTP; turn continuity on
// for an address and set its password, which then signs in over IMAP;
// find a message captured over SMTP in the log and open its timeline;
// restore it after the user deleted it, and see it over IMAP again.
func TestBrowserConsole(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	c, err := ops.AddCustomer(ctx, cli, 0, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"acme.test", "branch.acme.test"} {
		if _, err := ops.AddDomain(ctx, cli, c.ID, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	const user = "alice@acme.test"
	if _, err := ops.AddAddress(ctx, cli, user, "", false); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := ops.AddAddress(ctx, cli, fmt.Sprintf("staff%d@branch.acme.test", i), "", true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)

	// Continuity on, then a password.
	const userPassword = "spring-rain-42"
	b.do("address page",
		chromedp.Navigate(srv.Web+"/console/addresses/"+user),
		chromedp.WaitVisible(chromedp.CSS("form[action$='/enabled'] button")),
		chromedp.Click(chromedp.CSS("form[action$='/enabled'] button")),
	)
	b.waitFlash("Continuity is on")
	b.do("set password",
		chromedp.SendKeys(chromedp.ID("pw"), userPassword),
		chromedp.Click(chromedp.CSS("button[value=set]")),
	)
	b.waitFlash("Password set")
	if got := b.text("main p"); !strings.Contains(got, "Continuity is on") {
		t.Errorf("address page says %q, want continuity on", got)
	}
	imapc := imapLogin(t, srv, user, userPassword)

	// A message captured over SMTP, found in the log, its timeline.
	const mid = "browser-test-1@sender.example"
	sendCapture(t, srv, "bob@sender.example", user, mid, "Invoice 4711 for December")
	// And her reply of yesterday, which an administrator deleted from the queue: its
	// record shows among hers, coloured as not delivered.
	acct, err := srv.Store.Account(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.AppendLog(ctx, store.LogEvent{Time: time.Now().Add(-24 * time.Hour), Status: msglog.Cancelled, MessageID: "reply-1@acme.test",
		Subject: "Re: Invoice 4711 for December", MailFrom: user, Rcpt: "bob@sender.example", DomainID: acct.DomainID,
		Detail: "deleted from the queue by a provider administrator in the console or API after 2 attempts: not delivered, no notice to the sender"}); err != nil {
		t.Fatal(err)
	}
	b.do("log search",
		chromedp.Navigate(srv.Web+"/console/log"),
		chromedp.WaitVisible(chromedp.ID("faddr")),
		chromedp.SendKeys(chromedp.ID("faddr"), user),
		webtest.Loads(chromedp.Click(chromedp.CSS(".xc-filters button[type=submit]"))),
		chromedp.WaitVisible(chromedp.CSS("table.xc-log")),
	)
	if rows := b.text("table.xc-log tbody"); !strings.Contains(rows, "Invoice 4711") || !strings.Contains(rows, "stored") {
		t.Fatalf("log search shows %q, want the captured message stored", rows)
	}
	if n := b.eval(`String(document.querySelectorAll("table.xc-log tbody span.xc-st-cancelled").length)`); n != "1" {
		t.Errorf("log search shows %s cancelled records, want the deleted reply's", n)
	}
	b.shoot("log-search", "/console/log?address="+user, "table.xc-log")
	b.do("open timeline",
		chromedp.Navigate(srv.Web+"/console/log?address="+user),
		chromedp.Click(chromedp.CSS("table.xc-log tbody a")),
		chromedp.WaitVisible(chromedp.CSS("ol.xc-timeline")),
	)
	if tl := b.text("ol.xc-timeline"); !strings.Contains(tl, "stored") || !strings.Contains(tl, "bob@sender.example") {
		t.Errorf("timeline shows %q", tl)
	}
	if !strings.Contains(b.text("main"), mid) {
		t.Error("timeline does not name the Message-ID")
	}

	// The user deletes it over IMAP; the administrator restores it.
	if _, err := imapc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := imapc.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := imapc.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	b.shoot("timeline", "/console/log/timeline?message_id="+mid, "ol.xc-timeline")
	b.do("restore",
		chromedp.Navigate(srv.Web+"/console/log/timeline?message_id="+mid),
		chromedp.WaitVisible(chromedp.CSS("form[action='/console/messages/restore'] button")),
		chromedp.Click(chromedp.CSS("form[action='/console/messages/restore'] button")),
	)
	b.waitFlash("restored")
	found, err := imapc.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: mid}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(found.AllUIDs()) != 1 {
		t.Fatalf("restored message over IMAP: %d found, want 1", len(found.AllUIDs()))
	}
	imapc.Logout().Wait()

	b.shoot("dashboard", "/console/", ".xc-figures")
	b.shoot("addresses", "/console/addresses", "#bulk")
	b.shoot("domain", "/console/domains/acme.test", "#retention")
}

// imapLogin signs in over IMAP on implicit TLS, as a mail client does.
func imapLogin(t *testing.T, srv *testserver.Server, user, password string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatalf("IMAP dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN %s with the password set in the console: %v", user, err)
	}
	return c
}

// sendCapture hands a copy to the capture listener over SMTP, as an
// upstream filter does.
func sendCapture(t *testing.T, srv *testserver.Server, from, to, mid, subject string) {
	t.Helper()
	c, err := smtp.Dial(srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: %s\r\n\r\nPlease find the invoice attached.\r\n",
		from, to, subject, mid, time.Now().Format(time.RFC1123Z))
	if err := c.Hello("filter.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatalf("RCPT %s: %v", to, err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
	c.Quit()
}

// TestBrowserBulkImport uploads a CSV of 10,000 addresses (the issue's
// bulk case) with bad lines among them: the page shows the import's progress while it runs (htmx
// polling), then every bad line by its number, and every good line is in.
func TestBrowserBulkImport(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	c, err := ops.AddCustomer(ctx, cli, 0, "Bulk Ltd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddDomain(ctx, cli, c.ID, "bulk.test", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAddress(ctx, cli, "taken@bulk.test", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	const rows = 10000     // the bulk case
	bad := map[int]string{ // file line number → the bad address
		7:    "not an address",
		5000: "someone@not-protected.test",
		9999: "taken@bulk.test",
	}
	var csv strings.Builder
	csv.WriteString("address,enabled\n")
	for line := 2; line <= rows+1; line++ {
		if addr, ok := bad[line]; ok {
			fmt.Fprintf(&csv, "%s,yes\n", addr)
			continue
		}
		fmt.Fprintf(&csv, "user%05d@bulk.test,yes\n", line)
	}
	file := filepath.Join(t.TempDir(), "addresses.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)
	b.do("upload",
		chromedp.Navigate(srv.Web+"/console/import"),
		chromedp.WaitVisible(chromedp.ID("csv")),
		chromedp.SetUploadFiles(chromedp.ID("csv"), []string{file}),
		chromedp.Click(chromedp.CSS("form[action='/console/import'] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#progress progress")),
	)
	// Watch the counter move without reloading the page (htmx swaps
	// the section each second) until the import is done.
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Minute) // a hang guard: 10,000 lines under -race on a loaded machine
	for {
		processed := b.eval(`(document.getElementById("processed") || {}).textContent || ""`)
		seen[processed] = true
		if b.eval(`document.getElementById("done") ? "yes" : "no"`) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("import not done after 10 minutes; counter values seen: %v", seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// At least the first value and the last, swapped in without a
	// reload; how many lie between depends on the machine's speed (a
	// quiet machine imports thousands of lines between two polls), so no more
	// is asked.
	if len(seen) < 2 {
		t.Errorf("the progress counter showed %d values (%v), want it to change while the page stayed", len(seen), seen)
	}
	if got := b.text("#processed"); got != fmt.Sprint(rows) {
		t.Errorf("processed %s lines, want %d", got, rows)
	}
	if got := b.text("#imported"); got != fmt.Sprint(rows-len(bad)) {
		t.Errorf("imported %s, want %d", got, rows-len(bad))
	}
	errs := b.text("#errors tbody")
	for line, addr := range bad {
		if !strings.Contains(errs, fmt.Sprintf("%d\t%s", line, addr)) && !strings.Contains(errs, fmt.Sprintf("%d %s", line, addr)) {
			t.Errorf("error report lacks line %d (%s):\n%s", line, addr, errs)
		}
	}
	if n := strings.Count(strings.TrimSpace(errs), "\n") + 1; n != len(bad) {
		t.Errorf("error report has %d lines, want %d:\n%s", n, len(bad), errs)
	}
	accts, err := ops.Addresses(ctx, cli, store.AccountQuery{Domain: "bulk.test", Limit: 2 * rows})
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != rows-len(bad)+1 { // + taken@
		t.Errorf("%d addresses of bulk.test, want %d", len(accts), rows-len(bad)+1)
	}
	b.shoot("import", b.eval("location.pathname"), "#done")
}
