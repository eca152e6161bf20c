package webmail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// TestEveryStateChangeRefusesForgedRequests walks every route the
// webmail registers. Each one with a method that changes state is asked,
// as bob with his session cookie, with a request that would change his
// mail (or his settings), forged in each way a cross-site request can
// be: no token (form and multipart bodies), a wrong token, another
// session's token, and bob's own token sent from another origin
// (Sec-Fetch-Site, or an Origin header alone). Each must be refused with
// 403 and leave everything of bob's as it was (the store is read back
// whole); then the same request, genuine, must change something, so that
// the refusals are not of a request that does nothing anyway. A route
// added without a case here fails the test.
func TestEveryStateChangeRefusesForgedRequests(t *testing.T) {
	type routeCase struct {
		// setup stores what the request acts on and returns its path
		// and form (without the token).
		setup func(t *testing.T, e *webEnv) (path string, form url.Values)
		// cookie, when set, is the cookie the genuine request sets: the
		// route changes only the browser's state, not the store's.
		cookie string
	}
	inboxMessage := func(t *testing.T, e *webEnv) store.Message {
		return put(t, e.st, e.bob, store.Inbox, "From: ann@example.org\nSubject: keep\nMessage-ID: <keep@example.org>\n\nbody\n", time.Now(), 0)
	}
	draft := func(t *testing.T, e *webEnv) int64 {
		d, err := e.st.SaveDraft(context.Background(), e.bob.ID, 0, store.NewDelivery(crlf("From: bob@example.test\nTo: carol@example.org\nSubject: draft\n\ntext\n"), time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		return d.MessageID
	}
	cases := map[string]routeCase{
		"POST /actions": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			return "/actions", url.Values{"id": {itoa(inboxMessage(t, e).ID)}, "action": {"delete"}}
		}},
		"POST /deleted/restore": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			m := inboxMessage(t, e)
			in, _ := e.st.Mailbox(context.Background(), e.bob.ID, store.Inbox)
			if err := e.st.Expunge(context.Background(), e.bob.ID, in.ID, []int64{m.ID}); err != nil {
				t.Fatal(err)
			}
			return "/deleted/restore", url.Values{"id": {itoa(m.ID)}}
		}},
		"POST /prefs/conversations": {cookie: "xm-conv", setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			return "/prefs/conversations", url.Values{"conv": {"off"}}
		}},
		"POST /compose/save": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			return "/compose/save", url.Values{"to": {"carol@example.org"}, "subject": {"planted"}, "text": {"planted"}}
		}},
		"POST /compose/send": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			return "/compose/send", url.Values{"draft": {itoa(draft(t, e))}, "to": {"carol@example.org"}, "subject": {"planted"}, "text": {"planted"}}
		}},
		"POST /outbox/{id}/undo": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			held, err := e.st.ScheduleSend(context.Background(), e.bob.ID, draft(t, e), time.Now().Add(time.Hour), "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			return "/outbox/" + itoa(held.ID) + "/undo", url.Values{}
		}},
		"POST /settings/password": {setup: func(t *testing.T, e *webEnv) (string, url.Values) {
			return "/settings/password", url.Values{"current": {testPassword}, "new": {"a new password 123"}, "confirm": {"a new password 123"}}
		}},
	}

	forgeries := []struct {
		name string
		// token is the token sent ("" none; "bob" bob's; "eve" eve's;
		// "wrong" one that is no session's); header sends it as the
		// X-CSRF-Token header, multipart posts the form as one.
		token     string
		header    bool
		multipart bool
		hdr       map[string]string
	}{
		{name: "no token", token: ""},
		{name: "no token, multipart", token: "", multipart: true},
		{name: "wrong token", token: "wrong"},
		{name: "wrong token in header", token: "wrong", header: true},
		{name: "another session's token", token: "eve"},
		{name: "cross-site with the token", token: "bob", hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{name: "cross-site with the token in header", token: "bob", header: true, hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}},
		{name: "same-site subdomain with the token", token: "bob", hdr: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://mail.evil.example"}},
		{name: "other Origin alone with the token", token: "bob", hdr: map[string]string{"Origin": "https://evil.example"}},
	}

	probe := newWebEnv(t)
	var changing []string
	for _, pattern := range probe.app.routes {
		method, _, _ := strings.Cut(pattern, " ")
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		changing = append(changing, pattern)
		if _, ok := cases[pattern]; !ok {
			t.Errorf("route %q changes state and has no case here: add one", pattern)
		}
	}
	for pattern := range cases {
		if !slices.Contains(changing, pattern) {
			t.Errorf("route %q is no longer registered: update the cases", pattern)
		}
	}

	for _, pattern := range changing {
		rc, ok := cases[pattern]
		if !ok {
			continue
		}
		t.Run(strings.NewReplacer(" ", "_", "/", "_").Replace(pattern), func(t *testing.T) {
			e := newWebEnv(t)
			path, form := rc.setup(t, e)
			bob, eve := e.signIn(e.bob), e.signIn(e.eve)
			before := accountState(t, e, e.bob)
			eveBefore := accountState(t, e, e.eve)
			for _, f := range forgeries {
				token := map[string]string{"": "", "bob": bob.csrf, "eve": eve.csrf, "wrong": bob.csrf[:len(bob.csrf)-2] + "xx"}[f.token]
				resp, body := bob.forged(path, form, token, f.header, f.multipart, f.hdr)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %s, want 403\n%.300s", f.name, resp.Status, body)
				}
				if rc.cookie != "" && hasCookie(resp, rc.cookie) {
					t.Errorf("%s: the refused request set the cookie %s", f.name, rc.cookie)
				}
				if got := accountState(t, e, e.bob); got != before {
					t.Fatalf("%s: bob's state changed though refused:\nbefore:\n%s\nafter:\n%s", f.name, before, got)
				}
			}
			if got := accountState(t, e, e.eve); got != eveBefore {
				t.Errorf("eve's state changed:\n%s\n%s", eveBefore, got)
			}
			// The same request, genuine (same origin, bob's token),
			// does change something: the refusals above are real.
			resp, body := bob.forged(path, form, bob.csrf, false, false, map[string]string{"Sec-Fetch-Site": "same-origin"})
			if resp.StatusCode >= 400 {
				t.Fatalf("the genuine request: %s\n%.500s", resp.Status, body)
			}
			if rc.cookie != "" {
				if !hasCookie(resp, rc.cookie) {
					t.Errorf("the genuine request did not set the cookie %s", rc.cookie)
				}
			} else if accountState(t, e, e.bob) == before {
				t.Errorf("the genuine request changed nothing of bob's: the test would not see a forged one succeed")
			}
		})
	}
}

// forged posts form to path as this client's browser would, but with
// token (none when empty) in the form or the header, the body as
// multipart or url-encoded, and extra headers.
func (c *client) forged(path string, form url.Values, token string, header, asMultipart bool, hdr map[string]string) (*http.Response, string) {
	c.e.t.Helper()
	fields := url.Values{}
	for k, v := range form {
		fields[k] = slices.Clone(v)
	}
	if token != "" && !header {
		fields.Set(web.CSRFField, token)
	}
	var body bytes.Buffer
	ctype := "application/x-www-form-urlencoded"
	if asMultipart {
		mw := multipart.NewWriter(&body)
		if v := fields.Get(web.CSRFField); v != "" {
			mw.WriteField(web.CSRFField, v) // first, as the pages put it
		}
		for k, vs := range fields {
			if k == web.CSRFField {
				continue
			}
			for _, v := range vs {
				mw.WriteField(k, v)
			}
		}
		mw.Close()
		ctype = mw.FormDataContentType()
	} else {
		body.WriteString(fields.Encode())
	}
	req, err := http.NewRequest(http.MethodPost, c.e.URL+path, &body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if token != "" && header {
		req.Header.Set(web.CSRFHeader, token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatalf("POST %s: %v", path, err)
	}
	return resp, string(data)
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// accountState is everything of an account a webmail request can change,
// read back from the store: its password, its folders with their
// counters, every message in each (flags, UID, modseq), what is in
// Deleted, its outbox, and its sessions.
func accountState(t *testing.T, e *webEnv, a store.Account) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	acct, err := e.st.Account(ctx, a.Address)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "password %s\n", acct.PasswordHash)
	mbs, err := e.st.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		fmt.Fprintf(&b, "mailbox %d %q uidnext %d modseq %d messages %d unseen %d size %d\n",
			mb.ID, mb.Name, mb.UIDNext, mb.HighestModSeq, mb.Messages, mb.Unseen, mb.Size)
		msgs, err := e.st.Messages(ctx, a.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			fmt.Fprintf(&b, "  message %d uid %d flags %d modseq %d\n", m.ID, m.UID, m.Flags, m.ModSeq)
		}
	}
	del, err := e.st.DeletedPage(ctx, a.ID, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range del {
		fmt.Fprintf(&b, "deleted %d from %d expunged %v\n", m.ID, m.MailboxID, m.Expunged)
	}
	out, err := e.st.Outbox(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		fmt.Fprintf(&b, "outbox %d draft %d at %d error %q\n", o.ID, o.DraftID, o.SendAt.UnixMilli(), o.Error)
	}
	ses, err := e.st.PrincipalSessions(ctx, store.PrincipalUser, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "sessions %d\n", len(ses))
	return b.String()
}
