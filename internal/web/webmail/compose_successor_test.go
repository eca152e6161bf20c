package webmail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestComposeSaveNamingReplacedDraft: a save whose answer was lost (the
// page keeps the old id, and sends that save's file again) lands on the
// draft's current version: the answer names it and lists each file
// once; a send naming the old id sends that version, once, with all its
// files; a send again of the old id (its answer lost too) shows the same
// held message; once sent, a save naming any old id says so (409 and a
// way to keep the text), not 404.
func TestComposeSaveNamingReplacedDraft(t *testing.T) {
	const hold = 10 * time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := startServerOn(t, hold, clk)
	cl := signIn(t, srv, bob, bobPw)
	fields := map[string]string{"to": eve, "subject": "Figures", "text": "first"}
	resp, body := cl.post("/compose/save", fields, map[string][]byte{"a.csv": []byte("a,b\n1,2\n")}, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first save: %s\n%s", resp.Status, body)
	}
	v1 := draftID(t, body)
	fields["draft"] = strconv.FormatInt(v1, 10)

	// Stored, but the page never saw the answer.
	fields["text"] = "second"
	bFile := map[string][]byte{"b.csv": []byte("c,d\n3,4\n")}
	if resp, body := cl.post("/compose/save", fields, bFile, true, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("lost save: %s\n%s", resp.Status, body)
	}
	// The page's next save: the old id, the same file again.
	fields["text"] = "third"
	resp, body = cl.post("/compose/save", fields, bFile, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save naming the replaced version: %s\n%s", resp.Status, body)
	}
	v3 := draftID(t, body)
	if v3 == v1 || strings.Count(body, ">a.csv<") != 1 || strings.Count(body, ">b.csv<") != 1 || !strings.Contains(body, "Draft saved at") {
		t.Fatalf("answer to the save naming %d: id %d\n%s", v1, v3, body)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].ID != v3 {
		t.Fatalf("Drafts: %+v, want only %d", ds, v3)
	}
	// A reload of the old version's page opens the current one.
	if resp, _ := cl.get("/compose?draft=" + strconv.FormatInt(v1, 10)); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/compose?draft="+strconv.FormatInt(v3, 10) {
		t.Fatalf("GET the old version: %s to %q", resp.Status, resp.Header.Get("Location"))
	}

	// "Remove" of the first file of the list the page showed for the
	// first version: the current version's list may differ, so nothing
	// is removed, and the flash says so.
	removeFields := map[string]string{"remove": "0"}
	for k, v := range fields {
		removeFields[k] = v
	}
	resp, _ = cl.post("/compose/save", removeFields, nil, true, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove naming the old version: %s", resp.Status)
	}
	_, page := cl.get(resp.Header.Get("Location"))
	if !strings.Contains(page, "nothing was removed") || !strings.Contains(page, ">a.csv<") || !strings.Contains(page, ">b.csv<") {
		t.Fatalf("the page after a remove naming the old version:\n%s", page)
	}

	// Send naming the first version: the current one goes, with the
	// text of the send and both files.
	fields["text"] = "final text"
	resp, _ = cl.post("/compose/send", fields, nil, true, false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/outbox/") {
		t.Fatalf("send naming %d: %s %q", v1, resp.Status, loc)
	}
	// Its answer lost too: sent again, it shows the same held message.
	resp, _ = cl.post("/compose/send", fields, nil, true, false)
	if again := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || again != loc {
		t.Fatalf("send again: %s %q, want %q", resp.Status, again, loc)
	}
	// An autosave meanwhile (another window) cannot change what is held.
	resp, body = cl.post("/compose/save", fields, nil, true, true)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already being sent") {
		t.Fatalf("save of a held draft: %s\n%s", resp.Status, body)
	}
	clk.Advance(hold + time.Second)
	waitFor(t, "the Sent copy", func() bool { return len(srv.Messages(t, bob, store.Sent)) == 1 })
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	if n := len(srv.Messages(t, eve, store.Inbox)); n != 1 {
		t.Fatalf("eve got %d copies, want 1", n)
	}
	sent := srv.Messages(t, bob, store.Sent)[0]
	rc, err := srv.Store.OpenBody(context.Background(), srv.Account(t, bob).ID, sent.BodyID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	rc.Close()
	for _, want := range []string{"final text", "filename=a.csv", "filename=b.csv"} {
		if bytes.Count(raw, []byte(want)) != 1 {
			t.Errorf("sent message has %q %d times:\n%s", want, bytes.Count(raw, []byte(want)), raw)
		}
	}

	// Sent: a save naming any of its versions says so, with the way to
	// keep the text; another account naming them still gets 404.
	for _, htmx := range []bool{true, false} {
		resp, body = cl.post("/compose/save", fields, nil, true, htmx)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "no longer in Drafts") ||
			!strings.Contains(body, "Save as a new draft") || !strings.Contains(body, "final text") && !htmx {
			t.Errorf("save of a sent draft (htmx %v): %s\n%s", htmx, resp.Status, body)
		}
	}
	e := signIn(t, srv, eve, evePw)
	if resp, _ := e.post("/compose/save", fields, nil, true, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("eve saves naming bob's sent draft: %s, want 404", resp.Status)
	}
	fields["asnew"] = "1"
	resp, _ = cl.post("/compose/save", fields, nil, true, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save as a new draft: %s", resp.Status)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].Subject != "Figures" {
		t.Fatalf("Drafts after saving as new: %+v", ds)
	}
}

// TestComposeSessionEnded: what compose.js relies on to keep the text
// through a sign-out. An htmx save without a session is 401 with
// HX-Redirect (which the page does not follow), and stores nothing;
// /compose/session answers a request for JSON 401 while signed out,
// not the sign-in page, and once signed in again the account and the
// new session's token, with which the next save is stored.
func TestComposeSessionEnded(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	cl := signIn(t, srv, bob, bobPw)
	resp, body := cl.post("/compose/save", map[string]string{"to": eve, "subject": "Kept", "text": "typed"}, nil, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %s\n%s", resp.Status, body)
	}
	draft := strconv.FormatInt(draftID(t, body), 10)
	fields := map[string]string{"draft": draft, "to": eve, "subject": "Kept", "text": "typed while signed out"}
	asJSON := map[string]string{"Accept": "application/json"}

	// The session goes (expired, or signed out elsewhere).
	if resp, _ := cl.post("/logout", nil, nil, true, false); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	resp, _ = cl.post("/compose/save", fields, nil, true, true)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") == "" {
		t.Fatalf("htmx save signed out: %s, HX-Redirect %q", resp.Status, resp.Header.Get("HX-Redirect"))
	}
	if resp, _ := cl.do("GET", "/compose/session", "", nil, asJSON); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session asked signed out: %s", resp.Status)
	}
	// A page's GET still goes to the sign-in page.
	if resp, _ := cl.get("/compose"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET /compose signed out: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].Subject != "Kept" {
		t.Fatalf("Drafts: %+v", ds)
	}

	// Signed in again (another tab, same cookies): the old token is
	// refused, the session's answer gives the new one, which saves.
	old := cl.csrf
	again := signIn(t, srv, bob, bobPw)
	cl.c = again.c
	if resp, _ := cl.post("/compose/save", fields, nil, true, true); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("save with the old session's token: %s", resp.Status)
	}
	resp, body = cl.do("GET", "/compose/session", "", nil, asJSON)
	var ses struct{ Account, CSRF string }
	if resp.StatusCode != http.StatusOK || decodeJSON(body, &ses) != nil || ses.Account != bob || ses.CSRF == "" || ses.CSRF == old {
		t.Fatalf("session signed in again: %s %+v\n%s", resp.Status, ses, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("session answer cacheable: %q", resp.Header.Get("Cache-Control"))
	}
	cl.csrf = ses.CSRF
	resp, body = cl.post("/compose/save", fields, nil, true, true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Draft saved at") {
		t.Fatalf("save with the new token: %s\n%s", resp.Status, body)
	}
	ds := srv.Messages(t, bob, store.Drafts)
	if len(ds) != 1 || ds[0].ID != draftID(t, body) {
		t.Fatalf("Drafts after saving again: %+v", ds)
	}
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }
