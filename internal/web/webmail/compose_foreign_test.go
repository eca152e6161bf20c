package webmail

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestEveryRouteWithForeignIDIs404 walks every route the webmail
// registers. Each one that takes an id, in its path, query or form, is
// asked with another account's id and must answer 404 (issue 14 part 3:
// a store-level check, so that no handler can forget it); each one that
// takes none is listed as such. A route added without a place in one of
// the two lists fails the test, so that the walk stays whole.
func TestEveryRouteWithForeignIDIs404(t *testing.T) {
	e := newWebEnv(t)
	ctx := context.Background()
	m := put(t, e.st, e.bob, store.Inbox, attachmentMail, time.Now(), 0)
	gone := put(t, e.st, e.bob, store.Inbox, "Subject: gone\n\nx\n", time.Now(), 0)
	in, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if err := e.st.Expunge(ctx, e.bob.ID, in.ID, []int64{gone.ID}); err != nil {
		t.Fatal(err)
	}
	draft, err := e.st.SaveDraft(ctx, e.bob.ID, 0, store.NewDelivery(crlf("From: bob@example.test\nTo: carol@example.org\nSubject: bob's draft\n\nsecret\n"), time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.st.ScheduleSend(ctx, e.bob.ID, draft.MessageID, time.Now().Add(time.Hour), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	own := put(t, e.st, e.eve, store.Inbox, "Subject: eve's own\n\nx\n", time.Now(), 0)
	fwd := put(t, e.st, e.bob, store.Sent, ForwardedAsAttachment, time.Now(), 0) // one attached message
	msg, dr, ob, mb := itoa(m.ID), itoa(draft.MessageID), itoa(held.ID), itoa(in.ID)

	type ask struct {
		path string
		form url.Values // a POST when set
	}
	withID := map[string][]ask{
		"GET /mail/{mailbox}":           {{path: "/mail/" + mb}},
		"GET /mail/{mailbox}/rows":      {{path: "/mail/" + mb + "/rows"}},
		"GET /mail/{mailbox}/changes":   {{path: "/mail/" + mb + "/changes?since=0"}},
		"GET /msg/{id}":                 {{path: "/msg/" + msg}, {path: "/msg/" + itoa(gone.ID) + "?deleted=1"}},
		"GET /msg/{id}/html":            {{path: "/msg/" + msg + "/html?part=0.1.0"}},
		"GET /msg/{id}/part/{path}":     {{path: "/msg/" + msg + "/part/1"}, {path: "/msg/" + msg + "/part/1?inline=1"}},
		"GET /msg/{id}/raw":             {{path: "/msg/" + msg + "/raw"}},
		"GET /msg/{id}/attached/{path}": {{path: "/msg/" + msg + "/attached/1"}, {path: "/msg/" + itoa(fwd.ID) + "/attached/1"}},
		"POST /actions": {
			{path: "/actions", form: url.Values{"id": {msg}, "action": {"delete"}}},
			{path: "/actions", form: url.Values{"id": {msg}, "action": {"read"}}},
			{path: "/actions", form: url.Values{"id": {itoa(own.ID)}, "action": {"move"}, "to": {mb}}},
		},
		"POST /deleted/restore": {{path: "/deleted/restore", form: url.Values{"id": {itoa(gone.ID)}}}},
		"GET /compose": {{path: "/compose?draft=" + dr}, {path: "/compose?reply=" + msg}, {path: "/compose?replyall=" + msg},
			{path: "/compose?forward=" + msg}, {path: "/compose?forward=" + msg + "&as=attachment"},
			{path: "/compose?reply=" + itoa(fwd.ID) + "&part=1"}, {path: "/compose?forward=" + itoa(fwd.ID) + "&part=1&as=attachment"}},
		"POST /compose/save": {
			{path: "/compose/save", form: url.Values{"draft": {dr}, "text": {"overwritten"}}},
			{path: "/compose/save", form: url.Values{"source": {"forward:" + msg}, "text": {"x"}}},
			{path: "/compose/save", form: url.Values{"source": {"forwardatt:" + itoa(fwd.ID) + ":1"}, "text": {"x"}}},
		},
		"POST /compose/send": {
			{path: "/compose/send", form: url.Values{"draft": {dr}, "to": {"eve@example.test"}, "text": {"x"}}},
			{path: "/compose/send", form: url.Values{"source": {"reply:" + msg}, "to": {"eve@example.test"}, "text": {"x"}}},
		},
		"GET /outbox/{id}":          {{path: "/outbox/" + ob}},
		"POST /outbox/{id}/undo":    {{path: "/outbox/" + ob + "/undo", form: url.Values{}}},
		"GET /messages/{id}/status": {{path: "/messages/" + msg + "/status"}},
	}
	noID := []string{"GET /{$}", "POST /prefs/conversations", "GET /search", "GET /deleted", "GET /events",
		"GET /compose/contacts", "GET /compose/session", "GET /settings", "POST /settings/password", "GET /settings/client.png", "GET /settings/mail.mobileconfig"}

	eve := e.signIn(e.eve)
	for _, pattern := range e.app.routes {
		asks, ok := withID[pattern]
		if !ok {
			if !slices.Contains(noID, pattern) {
				t.Errorf("route %q is in neither list: say whether it takes an id, and ask it with a foreign one", pattern)
			}
			continue
		}
		delete(withID, pattern)
		for _, a := range asks {
			var resp *http.Response
			var body string
			if a.form != nil {
				resp, body = eve.post(a.path, a.form)
			} else {
				resp, body = eve.get(a.path)
			}
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: eve asks %s %v: %s, want 404\n%.300s", pattern, a.path, a.form, resp.Status, body)
			}
			if strings.Contains(body, "secret") || strings.Contains(body, "Report with files") {
				t.Errorf("%s: eve's answer for %s shows bob's mail", pattern, a.path)
			}
		}
	}
	for pattern := range withID {
		t.Errorf("route %q is no longer registered: update the walk", pattern)
	}

	// Nothing of bob's changed: his message unread and in place, his
	// draft and its held send as they were.
	after, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if after.Messages != 1 || after.Unseen != 1 {
		t.Errorf("bob's INBOX changed: %+v", after)
	}
	if got, err := e.st.OutboxEntry(ctx, e.bob.ID, held.ID); err != nil || got.DraftID != draft.MessageID {
		t.Errorf("bob's held message changed: %+v %v", got, err)
	}
	if ds, _ := e.st.Mailbox(ctx, e.bob.ID, store.Drafts); ds.Messages != 1 {
		t.Errorf("bob's Drafts holds %d, want his one draft", ds.Messages)
	}
	// Bob himself gets his outbox page.
	if resp, body := e.signIn(e.bob).get("/outbox/" + ob); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Undo") {
		t.Errorf("bob's own outbox page: %s\n%.300s", resp.Status, body)
	}
}
