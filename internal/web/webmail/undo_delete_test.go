package webmail_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/testserver"
)

// startUndoServer is the whole service on the clock clk with the
// webmail's delete undo window set to window.
func startUndoServer(t *testing.T, window time.Duration, clk *clocktest.Clock) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{
		Clock:     clk,
		Users:     map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) { c.Webmail.UndoDelete = config.Duration{Duration: window} },
	})
}

// watcher is an IMAP session that keeps INBOX selected and counts the
// EXPUNGE responses it is sent, as a mail client left open would.
type watcher struct {
	c        *imapclient.Client
	mu       sync.Mutex
	expunged int
}

func watchInbox(t *testing.T, srv *testserver.Server) *watcher {
	t.Helper()
	w := &watcher{}
	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Expunge: func(uint32) { w.mu.Lock(); w.expunged++; w.mu.Unlock() }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(bob, bobPw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	w.c = c
	return w
}

// flags fetches a UID's flags in the selected INBOX (nil: no such UID),
// after a NOOP that brings the session's pending responses.
func (w *watcher) flags(t *testing.T, uid imap.UID) []imap.Flag {
	t.Helper()
	if err := w.c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := w.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.UID == uid {
			if m.Flags == nil {
				return []imap.Flag{}
			}
			return m.Flags
		}
	}
	return nil
}

func (w *watcher) expunges() int { w.mu.Lock(); defer w.mu.Unlock(); return w.expunged }

// TestDeleteUndoKeepsIMAPUID: a message deleted in the webmail and taken
// back with Undo keeps its IMAP UID. During the window it is gone from
// the webmail's list but still in INBOX over IMAP, marked \Deleted; an
// IMAP session left open sees the mark come and go and no EXPUNGE. A
// delete left alone is expunged when the window ends: that session gets
// its EXPUNGE, a fresh one finds the UID gone, and it is in Deleted.
// The service runs on a test clock: the window ends when the test moves
// it, however slow the steps in between.
func TestDeleteUndoKeepsIMAPUID(t *testing.T) {
	const window = 10 * time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := startUndoServer(t, window, clk)
	m := deliver(t, srv, bob, "From: Ann <ann@example.org>\nTo: "+bob+"\nSubject: Keep me\nMessage-ID: <keep-me@example.org>\n\nText.\n")
	other := deliver(t, srv, bob, "From: Ann <ann@example.org>\nTo: "+bob+"\nSubject: Other\nMessage-ID: <other@example.org>\n\nText.\n")
	w := watchInbox(t, srv)
	uid := imap.UID(m.UID)
	if f := w.flags(t, uid); f == nil || slices.Contains(f, imap.FlagDeleted) {
		t.Fatalf("before: UID %d has flags %v", uid, f)
	}
	cl := signIn(t, srv, bob, bobPw)
	id := strconv.FormatInt(m.ID, 10)
	resp, _ := cl.form("/actions", url.Values{"id": {id}, "action": {"delete"}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "undo="+id) {
		t.Fatalf("delete: %s to %s", resp.Status, resp.Header.Get("Location"))
	}
	_, page := cl.get(resp.Header.Get("Location"))
	if strings.Contains(page, "Keep me") || !strings.Contains(page, "Other") {
		t.Errorf("the inbox during the window shows the deleted message, or not the other")
	}
	if !strings.Contains(page, `action="/deleted/restore"`) {
		t.Errorf("no Undo form after the delete")
	}
	if f := w.flags(t, uid); f == nil || !slices.Contains(f, imap.FlagDeleted) {
		t.Errorf("during the window, IMAP sees UID %d with %v, want it there with \\Deleted", uid, f)
	}
	resp, _ = cl.form("/deleted/restore", url.Values{"id": {id}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("undo: %s", resp.Status)
	}
	if f := w.flags(t, uid); f == nil || slices.Contains(f, imap.FlagDeleted) {
		t.Errorf("after Undo, IMAP sees UID %d with %v, want it there without \\Deleted", uid, f)
	}
	fresh := imapLogin(t, srv, bob, bobPw)
	if got := imapMessageIDs(t, fresh, "INBOX"); got["keep-me@example.org"] != uid {
		t.Errorf("after Undo a new session finds %v, want keep-me at UID %d", got, uid)
	}
	if _, page := cl.get("/"); !strings.Contains(page, "Keep me") {
		t.Errorf("after Undo the inbox does not list the message")
	}
	// The window passes: the undone delete stays (the count of EXPUNGEs
	// is checked again after the next delete's: exactly one).
	clk.Advance(window + window/2)
	if n := w.expunges(); n != 0 {
		t.Errorf("the open session got %d EXPUNGE after an undone delete", n)
	}
	if f := w.flags(t, uid); f == nil {
		t.Fatalf("an undone delete was expunged when its window ended")
	}

	// The store expunges a delete left alone when the window ends on
	// the service's clock, and not before: it waits for that moment.
	due := clk.Now().Add(window)
	resp, _ = cl.form("/actions", url.Values{"id": {id}, "action": {"delete"}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete again: %s", resp.Status)
	}
	waitFor(t, "the store to wait for the window's end", func() bool { return slices.ContainsFunc(clk.Waiting(), due.Equal) })
	clk.Advance(window - time.Millisecond)
	if f := w.flags(t, uid); f == nil {
		t.Fatalf("expunged before the %v window ended", window)
	}
	clk.Advance(time.Millisecond)
	waitFor(t, "the delete to be expunged once its window ended", func() bool { return w.flags(t, uid) == nil })
	if n := w.expunges(); n != 1 {
		t.Errorf("the open session got %d EXPUNGE, want 1", n)
	}
	if got := imapMessageIDs(t, fresh, "INBOX"); got["keep-me@example.org"] != 0 || got["other@example.org"] != imap.UID(other.UID) {
		t.Errorf("after the window a session finds %v, want only other", got)
	}
	_, page = cl.get("/deleted")
	if !strings.Contains(page, "Keep me") {
		t.Errorf("the expunged message is not in Deleted")
	}
	// Undo after the window still brings it back (under a new UID).
	resp, _ = cl.form("/deleted/restore", url.Values{"id": {id}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("late undo: %s", resp.Status)
	}
	if got := imapMessageIDs(t, fresh, "INBOX"); got["keep-me@example.org"] == 0 || got["keep-me@example.org"] == uid {
		t.Errorf("after a late undo a session finds %v, want keep-me under a new UID", got)
	}
}
