package webmail_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/xtramail/xtramail/internal/clock"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

const (
	bob   = "bob@example.test"
	bobPw = "bob-password-1"
	eve   = "eve@example.test"
	evePw = "eve-password-1"
)

func startServer(t *testing.T, undo time.Duration) *testserver.Server {
	t.Helper()
	return startServerOn(t, undo, nil)
}

// startServerOn is startServer on the clock clk (nil: the system's).
func startServerOn(t *testing.T, undo time.Duration, clk clock.Clock) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{
		Clock: clk,
		Users: map[string]string{bob: bobPw, eve: evePw},
		Configure: func(c *config.Config) {
			c.Webmail.UndoSend = config.Duration{Duration: undo}
			c.Submission.MaxMessageBytes = 2 << 20
		},
	})
}

// client is one browser: its cookie jar holds the session.
type client struct {
	t    *testing.T
	srv  *testserver.Server
	c    *http.Client
	csrf string
}

func signIn(t *testing.T, srv *testserver.Server, addr, pw string) *client {
	t.Helper()
	cl := &client{t: t, srv: srv, c: srv.HTTPClient()}
	resp, body := cl.do("POST", "/login", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"address": {addr}, "password": {pw}}.Encode()), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %s\n%s", addr, resp.Status, body)
	}
	resp, body = cl.get("/compose")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /compose: %s\n%s", resp.Status, body)
	}
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the compose page")
	}
	cl.csrf = m[1]
	return cl
}

func (cl *client) do(method, path, ctype string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	cl.t.Helper()
	req, err := http.NewRequest(method, cl.srv.Web+path, body)
	if err != nil {
		cl.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cl.c.Do(req)
	if err != nil {
		cl.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (cl *client) get(path string) (*http.Response, string) { return cl.do("GET", path, "", nil, nil) }

// post sends a multipart form as the compose page does; files maps a
// file name to its content. withToken false leaves the CSRF token out.
func (cl *client) post(path string, fields map[string]string, files map[string][]byte, withToken, htmx bool) (*http.Response, string) {
	cl.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("files", name)
		fw.Write(data)
	}
	mw.Close()
	hdr := map[string]string{}
	if withToken {
		hdr["X-CSRF-Token"] = cl.csrf
	}
	if htmx {
		hdr["HX-Request"] = "true"
	}
	return cl.do("POST", path, mw.FormDataContentType(), &buf, hdr)
}

var draftIDRe = regexp.MustCompile(`name="draft" value="(\d+)"`)

func draftID(t *testing.T, body string) int64 {
	t.Helper()
	m := draftIDRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no draft id in:\n%s", body)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

// waitFor polls cond until it holds or a minute passes (generous: the
// machine is shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestComposeCSRFRefused: a save, a send, an undo and a password change
// without the session's token are refused and change nothing.
func TestComposeCSRFRefused(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	cl := signIn(t, srv, bob, bobPw)
	for _, path := range []string{"/compose/save", "/compose/send", "/outbox/1/undo", "/settings/password"} {
		resp, _ := cl.post(path, map[string]string{"to": "x@example.org", "text": "hi", "current": bobPw, "new": "new-password-1", "confirm": "new-password-1"}, nil, false, false)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without token: %s, want 403", path, resp.Status)
		}
	}
	if n := len(srv.Messages(t, bob, store.Drafts)); n != 0 {
		t.Fatalf("%d drafts stored without a token", n)
	}
}

// TestComposeForeignIDs: another account's draft, message and outbox
// entry ids are 404 (or, for undo, the answer a sent message gets) and
// never change the other's mail.
func TestComposeForeignIDs(t *testing.T) {
	// A clock that does not move: bob's message stays held through the
	// test, however long it takes.
	srv := startServerOn(t, 10*time.Second, clocktest.New(time.Now()))
	b := signIn(t, srv, bob, bobPw)
	e := signIn(t, srv, eve, evePw)
	resp, body := b.post("/compose/save", map[string]string{"to": "carol@example.org", "subject": "bob's", "text": "secret"}, nil, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %s\n%s", resp.Status, body)
	}
	bobDraft := draftID(t, body)
	resp, _ = b.post("/compose/send", map[string]string{"draft": strconv.FormatInt(bobDraft, 10), "to": "carol@example.org", "subject": "bob's", "text": "secret"}, nil, true, false)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/outbox/") {
		t.Fatalf("send: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	outboxPath := resp.Header.Get("Location")
	sent := srv.Messages(t, bob, store.Drafts)[0]

	for _, path := range []string{
		"/compose?draft=" + strconv.FormatInt(bobDraft, 10),
		"/compose?reply=" + strconv.FormatInt(sent.ID, 10),
		"/compose?forward=" + strconv.FormatInt(sent.ID, 10),
		"/messages/" + strconv.FormatInt(sent.ID, 10) + "/status",
	} {
		if resp, body := e.get(path); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "secret") {
			t.Errorf("eve GET %s: %s", path, resp.Status)
		}
	}
	resp, _ = e.post("/compose/save", map[string]string{"draft": strconv.FormatInt(sent.ID, 10), "text": "overwritten"}, nil, true, true)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("eve saves over bob's draft: %s", resp.Status)
	}
	e.post(outboxPath+"/undo", nil, nil, true, false)
	if _, body := e.get(outboxPath); strings.Contains(body, "secret") || strings.Contains(body, "Undo") {
		t.Errorf("eve sees bob's held message:\n%s", body)
	}
	if list, _ := srv.Store.Outbox(context.Background(), srv.Account(t, bob).ID); len(list) != 1 {
		t.Fatalf("eve's undo took bob's message back: %+v", list)
	}
	if ds := srv.Messages(t, bob, store.Drafts); len(ds) != 1 || ds[0].ID != sent.ID {
		t.Fatalf("bob's drafts changed: %+v", ds)
	}
}

// TestComposeSizeLimit: attachments over the limit are refused while
// they are read, 413 with the limit named (to htmx, the draft state with
// the message), and nothing is stored.
func TestComposeSizeLimit(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	cl := signIn(t, srv, bob, bobPw)
	_, page := cl.get("/compose")
	if !strings.Contains(page, "Up to 1.3 MB in total.") {
		t.Errorf("limit not shown on the page")
	}
	big := bytes.Repeat([]byte("x"), 1600<<10)
	resp, body := cl.post("/compose/save", map[string]string{"to": "carol@example.org"}, map[string][]byte{"big.bin": big}, true, true)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "at most 1.3 MB") || !strings.Contains(body, `id="draft-state"`) {
		t.Fatalf("over the limit: %s\n%s", resp.Status, body)
	}
	resp, body = cl.post("/compose/save", map[string]string{"to": "carol@example.org"}, map[string][]byte{"big.bin": bytes.Repeat(big, 3)}, true, false)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "at most 1.3 MB") {
		t.Fatalf("far over the limit: %s\n%s", resp.Status, body)
	}
	if n := len(srv.Messages(t, bob, store.Drafts)); n != 0 {
		t.Fatalf("%d drafts stored over the limit", n)
	}
}

// TestComposeSendUndoThenSend: a message sent from the webmail is held;
// undo brings the draft back to compose with nothing sent; sent again,
// it reaches Sent, the protected colleague's INBOX and the queue once,
// with its attachment, and its delivery status lists each recipient.
// The service runs on a test clock: the hold ends when the test moves
// it, however slow the steps in between.
func TestComposeSendUndoThenSend(t *testing.T) {
	const hold = 10 * time.Second
	clk := clocktest.New(time.Now().Truncate(time.Millisecond))
	srv := startServerOn(t, hold, clk)
	cl := signIn(t, srv, bob, bobPw)
	fields := map[string]string{"to": "Eve <" + eve + ">, carol@far.test", "subject": "Figures", "text": "See attached."}
	resp, body := cl.post("/compose/save", fields, map[string][]byte{"figures.csv": []byte("a,b\n1,2\n")}, true, true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "figures.csv") {
		t.Fatalf("save with attachment: %s\n%s", resp.Status, body)
	}
	fields["draft"] = strconv.FormatInt(draftID(t, body), 10)
	resp, _ = cl.post("/compose/send", fields, nil, true, false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/outbox/") {
		t.Fatalf("send: %s %q", resp.Status, loc)
	}
	if _, page := cl.get(loc); !strings.Contains(page, "Undo") {
		t.Fatalf("no undo on the outbox page:\n%s", page)
	}
	resp, _ = cl.post(loc+"/undo", nil, nil, true, false)
	back := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(back, "/compose?draft=") {
		t.Fatalf("undo: %s %q", resp.Status, back)
	}
	_, page := cl.get(back)
	if !strings.Contains(page, "figures.csv") || !strings.Contains(page, "carol@far.test") || !strings.Contains(page, "See attached.") {
		t.Fatalf("undo lost the draft:\n%s", page)
	}
	// Past the hold: an undone message must stay unsent (checked again
	// once the second send went: exactly one copy).
	clk.Advance(hold + time.Second)
	if len(srv.Messages(t, bob, store.Sent)) != 0 || len(srv.Messages(t, eve, store.Inbox)) != 0 {
		t.Fatal("an undone message was sent")
	}

	fields["draft"] = strings.TrimPrefix(back, "/compose?draft=")
	resp, _ = cl.post("/compose/send", fields, nil, true, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send again: %s", resp.Status)
	}
	loc = resp.Header.Get("Location")
	// Held until the clock passes the hold: the outbox waits for it.
	sentAt := clk.Now()
	waitFor(t, "the outbox to wait for the hold's end", func() bool {
		return slices.ContainsFunc(clk.Waiting(), sentAt.Add(hold).Equal)
	})
	if n := len(srv.Messages(t, bob, store.Sent)); n != 0 {
		t.Fatalf("%d Sent copies before the hold ended", n)
	}
	clk.Advance(hold)
	waitFor(t, "the Sent copy", func() bool { return len(srv.Messages(t, bob, store.Sent)) == 1 })
	if n := len(srv.Messages(t, eve, store.Inbox)); n != 1 {
		t.Fatalf("colleague got %d copies", n)
	}
	// The outbox settles the entry (and drops the draft) just after
	// Submit.
	waitFor(t, "the draft to go", func() bool { return len(srv.Messages(t, bob, store.Drafts)) == 0 })
	if n := len(srv.Messages(t, bob, store.Sent)); n != 1 {
		t.Fatalf("%d Sent copies once the outbox settled, want 1 (the undone send must not go)", n)
	}
	sent := srv.Messages(t, bob, store.Sent)[0]
	rc, _ := srv.Store.OpenBody(context.Background(), srv.Account(t, bob).ID, sent.BodyID)
	raw, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Contains(raw, []byte("figures.csv")) || !bytes.Contains(raw, []byte("From: <bob@example.test>")) {
		t.Fatalf("sent message:\n%s", raw)
	}
	// The message log has the browser's IP on the submitted and queued
	// events, as submission's have the client's.
	evs, err := srv.Store.SearchLog(context.Background(), store.LogQuery{MessageID: sent.MessageID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	ipEvents := 0
	for _, ev := range evs {
		if ev.Status == msglog.Submitted || ev.Status == msglog.Queued {
			ipEvents++
			if ev.RemoteIP != "127.0.0.1" {
				t.Errorf("%s event for %q has IP %q, want the browser's 127.0.0.1", ev.Status, ev.Rcpt, ev.RemoteIP)
			}
		}
	}
	if ipEvents < 2 {
		t.Errorf("%d submitted/queued events, want at least 2: %+v", ipEvents, evs)
	}
	// The outbox page, after the send, says it was sent.
	if _, page := cl.get(loc); !strings.Contains(page, "Your message has been sent") {
		t.Errorf("outbox page after sending:\n%.500s", page)
	}
	_, st := cl.get("/messages/" + strconv.FormatInt(sent.ID, 10) + "/status")
	for _, want := range []string{`data-rcpt="carol@far.test" data-state="queued"`, `data-rcpt="eve@example.test"`, "protected here"} {
		if !strings.Contains(st, want) {
			t.Errorf("status page lacks %q:\n%s", want, st)
		}
	}
	// An administrator deletes carol's queue entry: the page says so
	// instead of "Waiting to be sent" (the server runs no queue worker).
	qs, err := srv.Store.QueueEntries(context.Background(), store.QueueQuery{})
	i := slices.IndexFunc(qs, func(e store.QueueEntry) bool { return e.Rcpt == "carol@far.test" })
	if err != nil || i < 0 {
		t.Fatalf("queue: %v %+v", err, qs)
	}
	if n, err := srv.Store.DeleteQueue(context.Background(), store.QueueQuery{}, []int64{qs[i].ID}, time.Now(), ""); n != 1 || err != nil {
		t.Fatalf("delete carol's entry: %d, %v", n, err)
	}
	_, st = cl.get("/messages/" + strconv.FormatInt(sent.ID, 10) + "/status")
	for _, want := range []string{`data-rcpt="carol@far.test" data-state="cancelled"`, "Cancelled by an administrator"} {
		if !strings.Contains(st, want) {
			t.Errorf("status page after the delete lacks %q:\n%s", want, st)
		}
	}
	// The recipients are contacts now.
	_, opts := cl.get("/compose/contacts?to=" + url.QueryEscape("x@example.org, ca"))
	if !strings.Contains(opts, `value="x@example.org, carol@far.test"`) {
		t.Errorf("contact completion:\n%s", opts)
	}
}

// TestComposeReplyPrefilled: reply, reply to all and forward open the
// page with recipients, subject and quoted text; the first save keeps
// the threading.
func TestComposeReplyPrefilled(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	ctx := context.Background()
	b := srv.Account(t, bob)
	raw := "From: Alice <alice@example.org>\r\nTo: bob@example.test, carol@example.org\r\nSubject: Plans\r\n" +
		"Message-ID: <plans@example.org>\r\nDate: Fri, 04 Dec 2026 09:15:00 +0000\r\n\r\nShall we meet?\r\n"
	d := store.NewDelivery([]byte(raw), time.Now())
	d.Copies = []store.Copy{{AccountID: b.ID, Mailbox: store.Inbox}}
	dl, err := srv.Store.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(dl[0].MessageID, 10)
	cl := signIn(t, srv, bob, bobPw)
	_, page := cl.get("/compose?replyall=" + id)
	for _, want := range []string{`value="Alice &lt;alice@example.org&gt;"`, `value="carol@example.org"`, `value="Re: Plans"`,
		"&gt; Shall we meet?", `name="source" value="replyall:` + id + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("reply-all page lacks %q", want)
		}
	}
	_, page = cl.get("/compose?forward=" + id)
	if !strings.Contains(page, `value="Fwd: Plans"`) || !strings.Contains(page, "Forwarded message") {
		t.Errorf("forward page:\n%s", page)
	}
	resp, body := cl.post("/compose/save", map[string]string{"source": "reply:" + id, "to": "alice@example.org", "subject": "Re: Plans", "text": "Yes."}, nil, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save reply: %s", resp.Status)
	}
	m, _ := srv.Store.Message(ctx, b.ID, draftID(t, body))
	bd, _ := srv.Store.Body(ctx, b.ID, m.BodyID)
	if bd.Info.Envelope.InReplyTo != "<plans@example.org>" {
		t.Errorf("reply draft In-Reply-To %q", bd.Info.Envelope.InReplyTo)
	}
}

// TestChangePassword: a wrong current password, a mismatch and a short
// one are refused; a change signs out the other web session and the old
// password no longer works over IMAP.
func TestChangePassword(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	cl := signIn(t, srv, bob, bobPw)
	other := signIn(t, srv, bob, bobPw)
	form := func(cur, nw, again string) map[string]string {
		return map[string]string{"current": cur, "new": nw, "confirm": again}
	}
	for name, tc := range map[string]struct {
		f    map[string]string
		want string
	}{
		"wrong current": {form("nope-nope-nope", "fresh-password-2", "fresh-password-2"), "current password is not right"},
		"mismatch":      {form(bobPw, "fresh-password-2", "fresh-password-3"), "differ"},
		"too short":     {form(bobPw, "short", "short"), "at least 8 characters"},
		"the address":   {form(bobPw, bob, bob), "must not be the address"},
	} {
		resp, body := cl.post("/settings/password", tc.f, nil, true, false)
		if resp.StatusCode == http.StatusSeeOther || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %s, no %q", name, resp.Status, tc.want)
		}
	}
	resp, _ := cl.post("/settings/password", form(bobPw, "fresh-password-2", "fresh-password-2"), nil, true, false)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %s", resp.Status)
	}
	if resp, _ := cl.get("/settings"); resp.StatusCode != http.StatusOK {
		t.Fatalf("this session ended too: %s", resp.Status)
	}
	if resp, _ := other.get("/settings"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other session still works: %s", resp.Status)
	}
	imapLogin := func(pw string) error {
		c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Login(bob, pw).Wait()
	}
	if err := imapLogin(bobPw); err == nil {
		t.Error("the old password still works over IMAP")
	}
	if err := imapLogin("fresh-password-2"); err != nil {
		t.Errorf("the new password fails over IMAP: %v", err)
	}
}

// TestSettingsPage: the client settings name the server's ports, and
// the QR code is a PNG made here.
func TestSettingsPage(t *testing.T) {
	srv := startServer(t, 10*time.Second)
	cl := signIn(t, srv, bob, bobPw)
	_, page := cl.get("/settings")
	_, imapPort, _ := strings.Cut(srv.IMAP, ":")
	_, subPort, _ := strings.Cut(srv.Submission, ":")
	for _, want := range []string{"port " + imapPort + ", SSL/TLS", "port " + subPort + ", STARTTLS", "Keyboard shortcuts", `src="/settings/client.png"`} {
		if !strings.Contains(page, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	resp, png := cl.get("/settings/client.png")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(png, "\x89PNG") {
		t.Fatalf("QR code: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

// TestComposeRefusedSaveSaysNotSaved: a save refused for an address the
// server cannot read leaves the draft as it was, yet the page (a form
// post) and the draft state (htmx) said "Draft saved." under the reason.
// Their save line must say it was not saved, and the draft keep its
// text.
func TestComposeRefusedSaveSaysNotSaved(t *testing.T) {
	srv := startServer(t, 0)
	cl := signIn(t, srv, bob, bobPw)
	resp, body := cl.post("/compose/save", map[string]string{"to": "carol@far.test", "subject": "Plan", "text": "First"}, nil, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first save: %s\n%s", resp.Status, body)
	}
	id := strconv.FormatInt(draftID(t, body), 10)
	line := regexp.MustCompile(`<p class="hint draft-saved[^"]*" role="status">([^<]*)</p>`)
	for _, htmx := range []bool{true, false} {
		resp, body := cl.post("/compose/save", map[string]string{"draft": id, "to": "carol@", "subject": "Plan", "text": "Second"}, nil, true, htmx)
		want := http.StatusUnprocessableEntity
		if htmx {
			want = http.StatusOK // htmx swaps it in
		}
		if resp.StatusCode != want || !strings.Contains(body, "carol@") {
			t.Errorf("htmx %v: the refused save answered %s, want %d naming the address:\n%s", htmx, resp.Status, want, body)
		}
		if m := line.FindStringSubmatch(body); m == nil || m[1] != "Not saved: see the message above." || !strings.Contains(m[0], "save-failed") {
			t.Errorf("htmx %v: the save line of the refused save is %q, want it not saved", htmx, m)
		}
	}
	bodies := srv.Bodies(t, bob, store.Drafts)
	if len(bodies) != 1 {
		t.Fatalf("%d drafts, want 1", len(bodies))
	}
	for _, raw := range bodies {
		if !strings.Contains(string(raw), "First") || strings.Contains(string(raw), "Second") {
			t.Errorf("the draft after the refused saves is:\n%s\nwant the first save's", raw)
		}
	}
}

// TestComposeSendRefusedBeforeHold: what submission would refuse once
// the undo hold ends (too many recipients, over the size limit once the
// text is counted too) is refused when Send is pressed, saying why, with
// the draft kept and nothing held, sent or queued.
func TestComposeSendRefusedBeforeHold(t *testing.T) {
	srv := startServer(t, time.Second)
	cl := signIn(t, srv, bob, bobPw)
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf("r%d@far.test", i))
	}
	// 1.2 MB of file (within the 1.3 MB the page allows) is 1.65 MB
	// encoded: with 600 KB of text it is over 2 MiB.
	text := strings.Repeat("A line of text that the message carries.\n", 600<<10/41)
	file := bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 1200<<10/3)
	for _, c := range []struct {
		name   string
		fields map[string]string
		files  map[string][]byte
		says   string
	}{
		{"too many recipients", map[string]string{"to": strings.Join(many, ", "), "subject": "All", "text": "Hi"}, nil,
			"Not sent: too many recipients (at most 100). Your draft is saved."},
		{"too big", map[string]string{"to": "carol@far.test", "subject": "Big", "text": text}, map[string][]byte{"data.bin": file},
			"Not sent: the message is too big to send (at most 2.1 MB). Your draft is saved."},
	} {
		resp, body := cl.post("/compose/save", c.fields, c.files, true, true)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: save: %s\n%s", c.name, resp.Status, body)
		}
		c.fields["draft"] = strconv.FormatInt(draftID(t, body), 10)
		resp, body = cl.post("/compose/send", c.fields, nil, true, false)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, c.says) {
			t.Errorf("%s: send: %s, want 422 saying %q:\n%s", c.name, resp.Status, c.says, body)
		}
	}
	acct, err := srv.Store.Account(context.Background(), bob)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := srv.Store.Outbox(context.Background(), acct.ID); err != nil || len(held) != 0 {
		t.Errorf("held for sending: %v %v, want nothing", held, err)
	}
	if n := len(srv.Messages(t, bob, store.Drafts)); n != 2 {
		t.Errorf("%d drafts, want both kept", n)
	}
	if n := len(srv.Messages(t, bob, store.Sent)); n != 0 {
		t.Errorf("%d Sent copies, want none", n)
	}
}

// TestComposeSubjectOneLine: a Subject posted with line breaks (by a
// script: a browser strips them from a one-line field) is kept on one
// line, as a browser would send it.
func TestComposeSubjectOneLine(t *testing.T) {
	srv := startServer(t, time.Second)
	cl := signIn(t, srv, bob, bobPw)
	resp, body := cl.post("/compose/save", map[string]string{"to": "carol@far.test", "subject": "crlfA\r\nX-Injected: 1\nB\r"}, nil, true, true)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("save: %s\n%s", resp.Status, body)
	}
	drafts := srv.Messages(t, bob, store.Drafts)
	if len(drafts) != 1 || drafts[0].Subject != "crlfAX-Injected: 1B" {
		t.Fatalf("drafts %+v, want one with the subject on one line", drafts)
	}
}
