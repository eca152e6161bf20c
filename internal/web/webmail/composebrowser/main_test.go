// Package composebrowser_test drives the webmail's compose side in
// Chromium (internal/web/webtest) against the whole service: reply with
// an attachment and forward, both received by a relay through the
// queue; a draft that survives a reload; undo send; a password change
// that the IMAP server honours. Screenshots of compose, the undo page
// and settings at 390 and 1280 px, light and dark.
package composebrowser_test

import (
	"os"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

func TestMain(m *testing.M) { os.Exit(webtest.Main(m)) }

const (
	bob   = "bob@example.test"
	bobPw = "bob-password-1"
	eve   = "eve@example.test"
	evePw = "eve-password-1"
)

// waitFor polls cond until it holds or two minutes pass (generous: the
// machine is shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
