package webmail

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

const attachmentMail = "From: Alice <alice@example.org>\nTo: bob@example.test\nSubject: Report with files\nMessage-ID: <r1@example.org>\n" +
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\nContent-Type: text/plain\n\nsee the report\n" +
	"--c\nContent-Type: multipart/related; boundary=d\n\n--d\nContent-Type: text/html\n\n<p onclick=\"x()\">see the <b>report</b><img src=\"cid:logo@x\"><img src=\"https://tracker.test/p.gif\"></p><script>alert(1)</script>\n" +
	"--d\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--d--\n--c--\n" +
	"--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20Q4.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"

// TestForeignIDsAre404: every URL that names a message, part or folder
// of another account answers 404, and no action changes it.
func TestForeignIDsAre404(t *testing.T) {
	e := newWebEnv(t)
	ctx := context.Background()
	m := put(t, e.st, e.bob, store.Inbox, attachmentMail, time.Now(), 0)
	deleted := put(t, e.st, e.bob, store.Inbox, "Subject: gone\n\nx\n", time.Now(), 0)
	in, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if err := e.st.Expunge(ctx, e.bob.ID, in.ID, []int64{deleted.ID}); err != nil {
		t.Fatal(err)
	}
	eve := e.signIn(e.eve)
	id := strconv.FormatInt(m.ID, 10)
	for _, p := range []string{"/msg/" + id, "/msg/" + id + "/html?part=0.1.0", "/msg/" + id + "/part/1", "/msg/" + id + "/part/1?inline=1",
		"/msg/" + id + "/raw", "/mail/" + strconv.FormatInt(in.ID, 10), "/mail/" + strconv.FormatInt(in.ID, 10) + "/rows",
		"/msg/" + strconv.FormatInt(deleted.ID, 10) + "?deleted=1", "/msg/999999", "/mail/999999"} {
		if resp, body := eve.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("eve GET %s: %s, want 404\n%.300s", p, resp.Status, body)
		}
	}
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/actions", url.Values{"id": {id}, "action": {"delete"}}},
		{"/actions", url.Values{"id": {id}, "action": {"read"}}},
		{"/actions", url.Values{"id": {id}, "action": {"move"}, "to": {strconv.FormatInt(in.ID, 10)}}},
		{"/deleted/restore", url.Values{"id": {strconv.FormatInt(deleted.ID, 10)}}},
	} {
		if resp, _ := eve.post(c.path, c.form); resp.StatusCode != http.StatusNotFound {
			t.Errorf("eve POST %s %v: %s, want 404", c.path, c.form, resp.Status)
		}
	}
	// Eve moving her own message into bob's folder: 404 too.
	em := put(t, e.st, e.eve, store.Inbox, "Subject: eve's\n\nx\n", time.Now(), 0)
	if resp, _ := eve.post("/actions", url.Values{"id": {strconv.FormatInt(em.ID, 10)}, "action": {"move"}, "to": {strconv.FormatInt(in.ID, 10)}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("eve moving into bob's folder: %s, want 404", resp.Status)
	}
	after, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	if after.Messages != 1 || after.Unseen != 1 {
		t.Errorf("bob's INBOX changed by eve: %+v", after)
	}
	if got, _ := e.st.DeletedPage(ctx, e.bob.ID, store.Cursor{}, 10); len(got) != 1 {
		t.Errorf("bob's deleted message restored by eve: %v", got)
	}
	// Bob himself gets them.
	bob := e.signIn(e.bob)
	if resp, body := bob.get("/msg/" + id); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Report with files") {
		t.Errorf("bob GET own message: %s", resp.Status)
	}
}

var rowID = regexp.MustCompile(`<li class="list-row mail-row[^"]*" data-id="(\d+)"`)
var moreURL = regexp.MustCompile(`hx-get="([^"]+)" hx-trigger="revealed"`)

// TestInboxPaging: the inbox shows the newest 50 and a "more" link whose
// rows continue exactly where the page ended, to the last message.
func TestInboxPaging(t *testing.T) {
	e := newWebEnv(t)
	base := time.Now().Add(-time.Hour)
	var want []string
	for i := range 123 {
		m := put(t, e.st, e.bob, store.Inbox, fmt.Sprintf("Subject: m%d\n\nx\n", i), base.Add(time.Duration(i)*time.Second), 0)
		want = append([]string{strconv.FormatInt(m.ID, 10)}, want...)
	}
	bob := e.signIn(e.bob)
	// Conversations off: one row per message.
	bob.post("/prefs/conversations", url.Values{"conv": {"off"}})
	resp, body := bob.get("/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	if !strings.Contains(body, "<title>(123) Inbox") {
		t.Errorf("title does not carry the unread count")
	}
	var got []string
	for range 10 {
		for _, m := range rowID.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		more := moreURL.FindStringSubmatch(body)
		if more == nil {
			break
		}
		resp, body = bob.fragment(strings.ReplaceAll(more[1], "&amp;", "&"))
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "<html") {
			t.Fatalf("more rows: %s, a whole page: %v", resp.Status, strings.Contains(body, "<html"))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged inbox lists %d messages %v..., want %d", len(got), got[:min(5, len(got))], len(want))
	}
	if resp, _ := bob.get("/mail/1/rows?after=garbage"); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
		t.Errorf("broken cursor: %s", resp.Status)
	}
}

// TestReadMessage: the message page, the HTML frame with its own strict
// CSP and sanitised content, the attachment download with an RFC 6266
// file name, and "show original".
func TestReadMessage(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, attachmentMail, time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	resp, page := bob.get("/msg/" + id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("message page: %s", resp.Status)
	}
	for _, want := range []string{"Report with files", "Alice &lt;alice@example.org&gt;", `sandbox="allow-popups allow-popups-to-escape-sandbox"`,
		"Résumé Q4.pdf", "Remote images are blocked", "/compose?forward=" + id} {
		if !strings.Contains(page, want) {
			t.Errorf("message page lacks %q", want)
		}
	}
	if strings.Contains(page, "allow-scripts") || strings.Contains(page, "allow-same-origin") {
		t.Error("frame sandbox allows scripts or same origin")
	}
	if got, _ := e.st.Message(context.Background(), e.bob.ID, m.ID); got.Flags&store.FlagSeen == 0 {
		t.Error("opening the message did not mark it read")
	}
	frame := regexp.MustCompile(`<iframe class="msg-frame" src="([^"]+)"`).FindStringSubmatch(page)
	if frame == nil {
		t.Fatal("no frame")
	}
	resp, doc := bob.get(strings.ReplaceAll(frame[1], "&amp;", "&"))
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(csp, "default-src 'none'; img-src data:;") || !strings.Contains(csp, "sandbox") {
		t.Fatalf("frame: %s, CSP %q", resp.Status, csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "SAMEORIGIN" {
		t.Errorf("frame X-Frame-Options %q", xfo)
	}
	for _, bad := range []string{"<script", "onclick", "tracker.test", "alert("} {
		if strings.Contains(doc, bad) {
			t.Errorf("frame keeps %q: %s", bad, doc)
		}
	}
	if !strings.Contains(doc, `src="data:image/png;base64,iVBORw0KGgo="`) {
		t.Errorf("cid image not inlined: %s", doc)
	}
	// With images allowed, the remote image and https: in the CSP.
	resp, doc = bob.get(strings.ReplaceAll(frame[1], "&amp;", "&") + "&images=1")
	if !strings.Contains(doc, "https://tracker.test/p.gif") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src data: https:;") {
		t.Errorf("images allowed: CSP %q, doc %s", resp.Header.Get("Content-Security-Policy"), doc)
	}
	resp, data := bob.get("/msg/" + id + "/part/1")
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="R_sum_ Q4.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20Q4.pdf` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || data != "%PDF-1.4\n" || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("attachment: %q %q %q", resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Content-Type"), data)
	}
	resp, _ = bob.get("/msg/" + id + "/part/1?inline=1")
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline;") {
		t.Errorf("PDF preview: %q", resp.Header.Get("Content-Disposition"))
	}
	resp, raw := bob.get("/msg/" + id + "/raw")
	if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.Contains(raw, "Content-ID: <logo@x>\r\n") {
		t.Errorf("show original: %q %.100q", resp.Header.Get("Content-Type"), raw)
	}
}

// TestDeleteUndoRestore: deleting from the list offers an undo; the
// message is in Deleted, and restoring puts it back in its folder.
func TestDeleteUndoRestore(t *testing.T) {
	e := newWebEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateMailbox(ctx, e.bob.ID, "Archive", ""); err != nil {
		t.Fatal(err)
	}
	m := put(t, e.st, e.bob, "Archive", "Subject: keep me\n\nx\n", time.Now(), 0)
	arch, _ := e.st.Mailbox(ctx, e.bob.ID, "Archive")
	bob := e.signIn(e.bob)
	back := "/mail/" + strconv.FormatInt(arch.ID, 10)
	id := strconv.FormatInt(m.ID, 10)
	resp, _ := bob.post("/actions", url.Values{"id": {id}, "action": {"delete"}, "back": {back}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != back+"?undo="+id {
		t.Fatalf("delete: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	_, page := bob.get(resp.Header.Get("Location"))
	if !strings.Contains(page, "Deleted 1 message.") || !strings.Contains(page, `name="id" value="`+id+`"`) {
		t.Errorf("no undo offered")
	}
	_, deleted := bob.get("/deleted")
	if !strings.Contains(deleted, "keep me") || !strings.Contains(deleted, "/compose?forward="+id) {
		t.Errorf("Deleted view lacks the message or its forward link")
	}
	resp, _ = bob.post("/deleted/restore", url.Values{"id": {id}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != back {
		t.Fatalf("restore: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if got, _ := e.st.MessagePage(ctx, e.bob.ID, arch.ID, store.Cursor{}, 10); len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("Archive after restore: %v", got)
	}
	if log, _ := e.st.SearchLog(ctx, store.LogQuery{Status: msglog.Restored}); len(log) != 1 {
		t.Errorf("restore log: %v", log)
	}
	// CSRF: a form without the token is refused.
	bob.csrf = ""
	if resp, _ := bob.post("/actions", url.Values{"id": {id}, "action": {"delete"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("action without CSRF token: %s", resp.Status)
	}
}

// TestSearchPage: the search box's operators through the handler.
func TestSearchPage(t *testing.T) {
	e := newWebEnv(t)
	put(t, e.st, e.bob, store.Inbox, attachmentMail, time.Now(), 0)
	put(t, e.st, e.bob, store.Sent, "From: bob@example.test\nTo: carol@example.net\nSubject: lunch plans\n\nnoon?\n", time.Now(), store.FlagSeen)
	bob := e.signIn(e.bob)
	for q, want := range map[string][]string{
		"has:attachment":       {"Report with files"},
		"to:carol in:Sent":     {"lunch plans"},
		`"the report"`:         {"Report with files"},
		"is:unread":            {"Report with files"},
		"from:alice subject:x": nil,
	} {
		resp, body := bob.get("/search?" + url.Values{"q": {q}}.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("search %q: %s", q, resp.Status)
		}
		n := len(rowID.FindAllString(body, -1))
		if n != len(want) {
			t.Errorf("search %q: %d results, want %d", q, n, len(want))
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("search %q lacks %q", q, w)
			}
		}
	}
	if _, body := bob.get("/search?q=in%3ANowhere"); !strings.Contains(body, "There is no folder named Nowhere.") {
		t.Error("unknown folder not explained")
	}
}

// TestLiveUpdates: a stream tells of a message delivered while it is open,
// and a session's streams are bounded.
func TestLiveUpdates(t *testing.T) {
	e := newWebEnv(t)
	bob := e.signIn(e.bob)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, r, err := bob.stream(ctx)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	in, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	// The stream is subscribed once its first bytes arrived.
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q %v", line, err)
	}
	put(t, e.st, e.bob, store.Inbox, "Subject: live\n\nx\n", time.Now(), 0)
	want := fmt.Sprintf(`data: {"mailbox":%d,"unread":1,"folderUnread":1}`, in.ID)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the change: %v", err)
		}
		if strings.TrimSpace(line) == want {
			break
		}
	}
	// Eve's mail is not bob's news; more streams than the bound: 429.
	var extra []*http.Response
	defer func() {
		for _, r := range extra {
			r.Body.Close()
		}
	}()
	for i := 1; i < maxStreamsPerSession; i++ {
		r, _, err := bob.stream(ctx)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %v %v", i, r, err)
		}
		extra = append(extra, r)
	}
	r2, _, err := bob.stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusTooManyRequests {
		t.Errorf("stream beyond the bound: %s", r2.Status)
	}
}

// TestReadSideLinksCompose guards the links from the read side into the
// compose side: a message in Sent loads its delivery status, a draft in a
// list opens in compose, and a message page's buttons carry the keys that
// the shortcut script (loaded on every mail page) clicks.
func TestReadSideLinksCompose(t *testing.T) {
	e := newWebEnv(t)
	sent := put(t, e.st, e.bob, store.Sent, attachmentMail, time.Now(), store.FlagSeen)
	inbox := put(t, e.st, e.bob, store.Inbox, attachmentMail, time.Now(), 0)
	draft := put(t, e.st, e.bob, store.Drafts, attachmentMail, time.Now(), store.FlagDraft|store.FlagSeen)
	bob := e.signIn(e.bob)

	_, page := bob.get("/msg/" + strconv.FormatInt(sent.ID, 10))
	if want := `hx-get="/messages/` + strconv.FormatInt(sent.ID, 10) + `/status"`; !strings.Contains(page, want) {
		t.Errorf("Sent message page lacks %s", want)
	}
	_, page = bob.get("/msg/" + strconv.FormatInt(inbox.ID, 10))
	if strings.Contains(page, "/status\"") {
		t.Error("an INBOX message page loads a delivery status")
	}
	for _, key := range []string{"u", "r", "a", "f", "#"} {
		if !strings.Contains(page, `data-shortcut="`+key+`"`) {
			t.Errorf("message page has no button for shortcut %q", key)
		}
	}
	// Run after the first paint (web/static/boot.js): listed as a late
	// script.
	if !regexp.MustCompile(`<link rel="preload" as="script" href="/static/compose/shortcuts\.[^"]*\.js" data-late>`).MatchString(page) {
		t.Error("message page does not load the shortcut script")
	}
	mbs, err := e.st.Mailboxes(context.Background(), e.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		if mb.Name != store.Drafts {
			continue
		}
		_, list := bob.get("/mail/" + strconv.FormatInt(mb.ID, 10))
		if want := `href="/compose?draft=` + strconv.FormatInt(draft.ID, 10) + `"`; !strings.Contains(list, want) {
			t.Errorf("Drafts list lacks %s", want)
		}
	}
}
