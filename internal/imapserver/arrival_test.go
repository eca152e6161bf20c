package imapserver_test

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/retention"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// TestAppendedOldMailKeepsItsWindow: a message APPENDed with a date 90
// days old (a user dragging old mail in from the primary mailbox, a
// client that keeps the original date) keeps that date as INTERNALDATE
// and stays for its domain's whole window from when it arrived. The
// window counted from INTERNALDATE, so the next retention pass purged it
// minutes after the user put it there.
func TestAppendedOldMailKeepsItsWindow(t *testing.T) {
	const day = 24 * time.Hour
	// On the wall clock's time: APPEND takes a date in the future as now
	// by the wall clock.
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := newEnvStore(t, openStoreWith(t, dir, sqlite.Options{Clock: clk}), dir)
	c := e.login()
	date := clk.Now().Add(-90 * day).UTC().Truncate(time.Second).Format("_2-Jan-2006 15:04:05 -0700")
	m := "From: carol@example.net\r\nSubject: from the primary\r\n\r\nold mail\r\n"
	c.send(fmt.Sprintf(`a1 APPEND INBOX "%s" {%d+}`, date, len(m)) + "\r\n" + m)
	if _, st := c.until("a1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND: %s", st)
	}
	c.ok("SELECT INBOX")
	has(t, c.ok("FETCH 1 INTERNALDATE"), `INTERNALDATE "`+date+`"`)

	appended := clk.Now()
	w := &retention.Worker{Store: e.st, Log: slog.New(slog.DiscardHandler), Batch: 100, LogDays: 90, Now: clk.Now}
	pass := func(want int) {
		t.Helper()
		r, err := w.RunOnce(t.Context())
		if err != nil || r.Messages != want {
			t.Fatalf("retention pass at %v after the APPEND: purged %d (%v), want %d", clk.Now().Sub(appended), r.Messages, err, want)
		}
	}
	pass(0)
	has(t, c.ok("FETCH 1 (INTERNALDATE BODY.PEEK[TEXT])"), `INTERNALDATE "`+date+`"`, "old mail")
	clk.Advance(store.DefaultRetentionDays*day - time.Minute)
	pass(0)
	hasNot(t, c.ok("NOOP"), "EXPUNGE")
	clk.Advance(2 * time.Minute)
	pass(1)
	has(t, c.ok("NOOP"), "* 1 EXPUNGE")
}
