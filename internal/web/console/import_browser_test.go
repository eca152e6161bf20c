package console_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserImportGeneratesPasswords: an import with "generate a
// password for each address without one" ends with every address
// enabled and a password, the generated ones downloadable once as CSV
// from the job's page; one of them signs in over IMAP; a second download
// is refused (410) and the page says they were handed out.
func TestBrowserImportGeneratesPasswords(t *testing.T) {
	const rows = 120
	var file strings.Builder
	file.WriteString("address,password\n")
	for i := range rows {
		fmt.Fprintf(&file, "user%03d@gen.test,\n", i)
	}
	file.WriteString("own@gen.test,own-password-77\n")
	srv, b := startImport(t, "Gen Ltd", "gen.test", file.String(), true)
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for b.eval(`document.getElementById("done") ? "yes" : "no"`) != "yes" {
		if time.Now().After(deadline) {
			t.Fatalf("import not done after 3 minutes: %s", b.text("#progress"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := b.text("#imported"); got != fmt.Sprint(rows+1) {
		t.Errorf("imported %s, want %d", got, rows+1)
	}
	if got := b.text("#generated"); got != fmt.Sprint(rows) {
		t.Errorf("generated %s, want %d", got, rows)
	}
	b.do("download button", chromedp.WaitVisible(chromedp.CSS("#passwords button")))
	jobPath := b.eval("location.pathname")
	b.shootHere("import-generated")

	// The page's own form, posted as the button would (a fetch keeps the
	// body readable here instead of going to the downloads folder). The
	// form is kept from the first call: once the passwords are handed
	// out, the page's next poll (it polls while the file's own password
	// is hashed) replaces the section with one without the form, and the
	// second call posts it again.
	const download = `(async () => {
		const f = window.passwordsForm ||= document.getElementById("passwords");
		const r = await fetch(f.action, {method: "POST", body: new FormData(f)});
		return r.status + "\n" + await r.text();
	})()`
	status, body, _ := strings.Cut(b.evalAsync(download), "\n")
	if status != "200" {
		t.Fatalf("download: %s %s", status, body)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != rows+1 || recs[0][0] != "address" || recs[0][1] != "password" {
		t.Fatalf("passwords CSV: %d records, %v\n%s", len(recs), err, body)
	}
	pws := map[string]string{}
	for _, r := range recs[1:] {
		pws[r[0]] = r[1]
	}
	if _, ok := pws["own@gen.test"]; ok || len(pws) != rows {
		t.Errorf("%d passwords in the file (own@ included: %t)", len(pws), ok)
	}
	for _, addr := range []string{"user000@gen.test", fmt.Sprintf("user%03d@gen.test", rows-1)} {
		a, err := srv.Store.Account(ctx, addr)
		if err != nil || !a.Enabled || a.PasswordHash == "" {
			t.Errorf("%s: enabled %t, password set %t, %v", addr, a.Enabled, a.PasswordHash != "", err)
		}
	}
	imapLogin(t, srv, "user007@gen.test", pws["user007@gen.test"]).Logout()

	// Handed out once.
	if status, _, _ := strings.Cut(b.evalAsync(download), "\n"); status != "410" {
		t.Errorf("second download: %s, want 410", status)
	}
	b.do("job page again", chromedp.Navigate(srv.Web+jobPath), chromedp.WaitVisible(chromedp.ID("handed-out")))
	if n := b.eval(`String(document.querySelectorAll("#passwords").length)`); n != "0" {
		t.Error("the download form is still offered after the download")
	}
}
