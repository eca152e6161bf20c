package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserImportHashesOwnPasswordsInBackground: a file whose lines
// bring their own passwords is imported without hashing them on the
// way; as soon as the page says Done, an address signs in over IMAP with
// its password, and the page keeps polling until it says every password
// is secured (hashed in the background), when no pending copy is left.
func TestBrowserImportHashesOwnPasswordsInBackground(t *testing.T) {
	const rows = 8
	var file strings.Builder
	file.WriteString("address,password\n")
	for i := range rows {
		fmt.Fprintf(&file, "user%03d@own.test,own-password-%03d\n", i, i)
	}
	srv, b := startImport(t, "Own Ltd", "own.test", file.String(), false)
	ctx := context.Background()
	b.do("import done", chromedp.WaitVisible(chromedp.ID("done")))
	// The last line is hashed last by the job: its first sign-in may
	// well hash its own row.
	imapLogin(t, srv, fmt.Sprintf("user%03d@own.test", rows-1), fmt.Sprintf("own-password-%03d", rows-1)).Logout()
	deadline := time.Now().Add(10 * time.Minute) // a hang guard: full-cost hashing under -race on a loaded machine
	for b.eval(`document.getElementById("hashed-done") ? "yes" : "no"`) != "yes" {
		if time.Now().After(deadline) {
			t.Fatalf("passwords not all secured after 10 minutes: %q", b.eval(`(document.getElementById("hashing") || {}).textContent || ""`))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := b.text("#hashed"); got != fmt.Sprint(rows) {
		t.Errorf("page says %s secured, want %d", got, rows)
	}
	for i := range rows {
		addr := fmt.Sprintf("user%03d@own.test", i)
		a, err := srv.Store.Account(ctx, addr)
		if err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
			t.Fatalf("%s after the page said all secured: %q %v", addr, a.PasswordHash, err)
		}
		if _, err := srv.Store.PendingPasswordOf(ctx, addr); err == nil {
			t.Fatalf("%s: pending copy still kept", addr)
		}
	}
	imapLogin(t, srv, "user000@own.test", "own-password-000").Logout()
	b.shoot("import-own-passwords", b.eval("location.pathname"), "#hashed-done")
}
