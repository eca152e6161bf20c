package webmail_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
)

var pageKey = regexp.MustCompile(`name="key" value="([A-Za-z0-9_-]{22})"`)

// keyOf is the compose page key a page or draft state holds.
func keyOf(t *testing.T, body string) string {
	t.Helper()
	m := pageKey.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no page key in:\n%s", body)
	}
	return m[1]
}

// TestComposeFirstSaveAnswerLost: a page's first save stored, its answer
// lost, the page's next save names no draft but its key: it lands on
// that draft (the file it sends again listed once), and so does the
// send; Drafts never holds two. Another account's page with the same
// key makes its own draft. Once sent, a save with the key says so, and
// "Save as a new draft" saves one under a new key.
func TestComposeFirstSaveAnswerLost(t *testing.T) {
	const hold = 10 * time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := startServerOn(t, hold, clk)
	cl := signIn(t, srv, bob, bobPw)
	_, page := cl.get("/compose")
	key := keyOf(t, page)
	if _, again := cl.get("/compose"); keyOf(t, again) == key {
		t.Fatalf("two compose pages got the same key %q", key)
	}
	fields := map[string]string{"key": key, "to": eve, "subject": "Keyed", "text": "first"}
	file := map[string][]byte{"a.csv": []byte("a,b\n1,2\n")}
	if resp, body := cl.post("/compose/save", fields, file, true, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("first save: %s\n%s", resp.Status, body)
	}
	// The answer lost: the page still names no draft, and sends the
	// file again.
	fields["text"] = "second"
	resp, body := cl.post("/compose/save", fields, file, true, true)
	if resp.StatusCode != http.StatusOK || strings.Count(body, ">a.csv<") != 1 || keyOf(t, body) != key {
		t.Fatalf("save after the lost answer: %s\n%s", resp.Status, body)
	}
	v2 := draftID(t, body)
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].ID != v2 {
		t.Fatalf("Drafts: %+v, want only %d", ds, v2)
	}

	// Eve's page with Bob's key: her own draft; Bob's is untouched.
	e := signIn(t, srv, eve, evePw)
	resp, body = e.post("/compose/save", map[string]string{"key": key, "to": bob, "subject": "Eve's", "text": "x"}, nil, true, true)
	if resp.StatusCode != http.StatusOK || draftID(t, body) == v2 {
		t.Fatalf("eve's save with bob's key: %s\n%s", resp.Status, body)
	}
	if ds := srv.Messages(t, eve, store.Drafts); len(ds) != 1 || ds[0].Subject != "Eve's" {
		t.Fatalf("eve's Drafts: %+v", ds)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].ID != v2 {
		t.Fatalf("Bob's Drafts after eve's save: %+v, want only %d", ds, v2)
	}

	// Send, still naming no draft: the one draft goes, once.
	fields["text"] = "final"
	resp, _ = cl.post("/compose/send", fields, nil, true, false)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/outbox/") {
		t.Fatalf("send by key: %s %q", resp.Status, loc)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 {
		t.Fatalf("Drafts while held: %+v, want one", ds)
	}
	clk.Advance(hold + time.Second)
	waitFor(t, "the Sent copy", func() bool { return len(srv.Messages(t, bob, store.Sent)) == 1 })
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	if n := len(srv.Messages(t, eve, store.Inbox)); n != 1 {
		t.Fatalf("eve got %d copies, want 1", n)
	}

	// Sent: a save with the key says so and stores nothing.
	resp, body = cl.post("/compose/save", fields, nil, true, true)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "no longer in Drafts") || !strings.Contains(body, "Save as a new draft") {
		t.Fatalf("save with the key of a sent draft: %s\n%s", resp.Status, body)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 0 {
		t.Fatalf("Drafts after a save with the sent draft's key: %+v", ds)
	}
	// Saved as new: a draft under a new key, which the answer gives.
	fields["asnew"] = "1"
	resp, body = cl.post("/compose/save", fields, nil, true, true)
	if resp.StatusCode != http.StatusOK || keyOf(t, body) == key {
		t.Fatalf("save as a new draft: %s\n%s", resp.Status, body)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].ID != draftID(t, body) {
		t.Fatalf("Drafts after saving as new: %+v", ds)
	}
}
