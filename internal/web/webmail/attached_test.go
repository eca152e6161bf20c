package webmail

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// ForwardedAsAttachment (exported for the browser tests) is what Outlook's "Forward as attachment" sends:
// a note, and the original message whole as a message/rfc822 part, with
// an HTML body (a cid: image of its own) and a file.
const ForwardedAsAttachment = "From: Carol <carol@example.org>\nTo: bob@example.test\nSubject: FW: Invoice 2026-117\nMIME-Version: 1.0\n" +
	"Content-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: text/plain\n\nSee the invoice below.\n" +
	"--outer\nContent-Type: message/rfc822\n\nFrom: =?UTF-8?Q?J=C3=B6rg_=3Cb=3EBilling=3C/b=3E?= <billing@vendor.example>\nTo: carol@example.org, a@example.org, b@example.org, c@example.org, d@example.org\n" +
	"Subject: Invoice 2026-117 <script>x</script>\nDate: Thu, 03 Dec 2026 10:00:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=inner\n\n" +
	"--inner\nContent-Type: multipart/related; boundary=rel\n\n--rel\nContent-Type: text/html\n\n<p onclick=\"x()\">Please pay <b>invoice 117</b>.<img src=\"cid:logo@vendor\"></p><script>alert(1)</script>\n" +
	"--rel\nContent-Type: image/png\nContent-ID: <logo@vendor>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M/A8B8ABQACAaX24cIAAAAASUVORK5CYII=\n--rel--\n" +
	"--inner\nContent-Type: application/pdf; name=invoice-117.pdf\nContent-Disposition: attachment; filename=invoice-117.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--inner--\n" +
	"--outer--\n"

// TestAttachedMessageOpens: a message attached to another opens as a
// page of its own (it could only be downloaded as an .eml file, which a
// phone or a machine without a mail program cannot open): its sender,
// recipients, date and subject, its HTML sanitised in the sandboxed
// frame with its own cid: image, its file downloadable, a way back and
// the .eml download. Another account gets 404, and so does a path that
// is no attached message.
func TestAttachedMessageOpens(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, ForwardedAsAttachment, time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	_, page := bob.get("/msg/" + id)
	open := `href="/msg/` + id + `/attached/1"`
	if !strings.Contains(page, open) || !strings.Contains(page, "Invoice 2026-117 &lt;script&gt;x&lt;-script&gt;.eml") {
		t.Fatalf("the outer message's page has no Open link (%s) or name for the attached message:\n%s", open, attachmentsOf(page))
	}
	resp, page := bob.get("/msg/" + id + "/attached/1")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("attached message: %s", resp.Status)
	}
	for _, want := range []string{"Invoice 2026-117 &lt;script&gt;x&lt;/script&gt;", "Jörg &lt;b&gt;Billing&lt;/b&gt; &lt;billing@vendor.example&gt;",
		"carol@example.org, a@example.org, b@example.org, <details class=\"msg-more\"><summary>2 more</summary>", `datetime="2026-12-03T09:00:00Z"`, "invoice-117.pdf",
		`href="/msg/` + id + `/part/1.0.1"`, `href="/msg/` + id + `"`, `href="/msg/` + id + `/part/1" download>Download message</a>`,
		"FW: Invoice 2026-117"} {
		if !strings.Contains(page, want) {
			t.Errorf("attached message page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", `action="/actions"`} {
		if strings.Contains(page, bad) {
			t.Errorf("attached message page has %q", bad)
		}
	}
	frame := regexp.MustCompile(`<iframe class="msg-frame" src="([^"]+)"`).FindStringSubmatch(page)
	if frame == nil {
		t.Fatal("no frame for the attached message's HTML")
	}
	resp, doc := bob.get(strings.ReplaceAll(frame[1], "&amp;", "&"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(doc, "Please pay <b>invoice 117</b>") || strings.Contains(doc, "script") ||
		strings.Contains(doc, "onclick") || !strings.Contains(doc, `src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M/A8B8ABQACAaX24cIAAAAASUVORK5CYII="`) {
		t.Errorf("attached message's frame: %s\n%s", resp.Status, doc)
	}
	if resp, data := bob.get("/msg/" + id + "/part/1.0.1"); resp.StatusCode != http.StatusOK || data != "%PDF-1.4\n" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="invoice-117.pdf"` {
		t.Errorf("attached message's file: %s %q %q", resp.Status, resp.Header.Get("Content-Disposition"), data)
	}
	eve := e.signIn(e.eve)
	for _, p := range []string{"/msg/" + id + "/attached/1", "/msg/" + id + "/part/1.0.1", "/msg/" + id + "/html?part=1.0.0.0"} {
		if resp, _ := eve.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("eve GET %s: %s", p, resp.Status)
		}
	}
	for _, p := range []string{"0", "root", "1.1", "1.0", "1.0.1", "2", "x", "1.-1"} {
		if resp, _ := bob.get("/msg/" + id + "/attached/" + p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET attached/%s: %s, want 404", p, resp.Status)
		}
	}
}

func attachmentsOf(page string) string {
	if i := strings.Index(page, `<section class="msg-attachments"`); i >= 0 {
		return page[i:min(len(page), i+2000)]
	}
	return "(no attachments)"
}

// TestNoSenderShown: a message without a From address says "(no
// sender)" on its page as in the list (the page's From was blank), and
// so does a message attached without one.
func TestNoSenderShown(t *testing.T) {
	e := newWebEnv(t)
	bob := e.signIn(e.bob)
	for _, raw := range []string{"To: bob@example.test\nSubject: anonymous\n\nx\n", "From: undisclosed-recipients:;\nSubject: group\n\nx\n"} {
		m := put(t, e.st, e.bob, store.Inbox, raw, time.Now(), 0)
		_, page := bob.get("/msg/" + strconv.FormatInt(m.ID, 10))
		if !strings.Contains(page, "<dt>From</dt><dd>(no sender)</dd>") {
			t.Errorf("%q: the page's From is not (no sender)", raw)
		}
	}
	m := put(t, e.st, e.bob, store.Inbox, "From: a@example.org\nSubject: fwd\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\nx\n--b--\n", time.Now(), 0)
	if _, page := bob.get("/msg/" + strconv.FormatInt(m.ID, 10) + "/attached/0"); !strings.Contains(page, "<dt>From</dt><dd>(no sender)</dd>") {
		t.Errorf("an attached message without a sender: the page's From is not (no sender)")
	}
}

// TestInvitationOfferedAndForwarded: an Outlook meeting invitation lists
// its calendar part as invite.ics on the message page, downloadable as
// text/calendar, and its Forward page carries it on.
func TestInvitationOfferedAndForwarded(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: Dana <dana@example.org>\nTo: bob@example.test\nSubject: Planning\n"+
		"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nmeet\n--b\nContent-Type: text/html\n\n<p>meet</p>\n"+
		"--b\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\nBEGIN:VCALENDAR\nEND:VCALENDAR\n--b--\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	_, page := bob.get("/msg/" + id)
	if !strings.Contains(page, `title="invite.ics"`) || !strings.Contains(page, `href="/msg/`+id+`/part/2" download`) {
		t.Errorf("message page does not offer invite.ics:\n%s", attachmentsOf(page))
	}
	resp, data := bob.get("/msg/" + id + "/part/2")
	if resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" || !strings.HasPrefix(data, "BEGIN:VCALENDAR") ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="invite.ics"` {
		t.Errorf("invite.ics download: %v %q", resp.Header, data)
	}
	if _, fwd := bob.get("/compose?forward=" + id); !strings.Contains(fwd, `<span class="attachment-name">invite.ics</span>`) {
		t.Errorf("the Forward page does not carry invite.ics")
	}
}

// TestAttachedMessageReplyForward: the attached message's page offers
// Reply, Reply all and Forward of the attached message (it had none, so
// a forwarded invoice could not be answered): the reply goes to its
// sender with its subject and quotes its text, reply to all copies its
// recipients, an inline forward carries its text and its file, and a
// forward as an attachment carries its bytes, not the outer message's.
// Another account's message is not found.
func TestAttachedMessageReplyForward(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, ForwardedAsAttachment, time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	_, page := bob.get("/msg/" + id + "/attached/1")
	for _, want := range []string{`href="/compose?reply=` + id + `&amp;part=1" data-shortcut="r">Reply</a>`,
		`href="/compose?replyall=` + id + `&amp;part=1" data-shortcut="a">Reply all</a>`,
		`href="/compose?forward=` + id + `&amp;part=1" data-shortcut="f">Forward</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("attached message page lacks %s", want)
		}
	}
	field := func(page, name string) string {
		m := regexp.MustCompile(`name="` + name + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	_, reply := bob.get("/compose?reply=" + id + "&part=1")
	if to, subj := field(reply, "to"), field(reply, "subject"); to != "Jörg <b>Billing</b> <billing@vendor.example>" && to != `"Jörg <b>Billing</b>" <billing@vendor.example>` ||
		subj != "Re: Invoice 2026-117 <script>x</script>" {
		t.Errorf("reply to the attached message: To %q, Subject %q", to, subj)
	}
	if text := html.UnescapeString(reply); !strings.Contains(text, "> Please pay invoice 117.") || strings.Contains(text, "See the invoice below") ||
		!strings.Contains(text, `name="source" value="reply:`+id+`:1"`) {
		t.Errorf("reply does not quote the attached message's text (or quotes the outer one's)")
	}
	_, all := bob.get("/compose?replyall=" + id + "&part=1")
	if cc := field(all, "cc"); cc != "carol@example.org, a@example.org, b@example.org, c@example.org, d@example.org" {
		t.Errorf("reply to all: Cc %q", cc)
	}

	a := e.app
	ctx := context.Background()
	s, err := a.saveDraft(ctx, e.bob, draftForm{Source: "forward:" + id + ":1", To: "x@example.org", Subject: "Fwd: Invoice"})
	if err != nil {
		t.Fatal(err)
	}
	_, o, err := a.loadDraft(ctx, e.bob, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Its files as the message page's Forward takes them: the PDF, and
	// the image of its HTML.
	if atts := compose.Attachments(o); len(atts) != 2 || atts[1].Filename != "invoice-117.pdf" || string(atts[1].Data) != "%PDF-1.4\n" ||
		atts[0].ContentType != "image/png" {
		t.Errorf("inline forward's files: %+v", atts)
	}
	_, fwd := bob.get("/compose?forward=" + id + "&part=1")
	if text := html.UnescapeString(fwd); !strings.Contains(text, "Please pay invoice 117.") || !strings.Contains(text, "Subject: Invoice 2026-117 <script>x</script>") ||
		strings.Contains(text, "See the invoice below") {
		t.Errorf("inline forward's text is not the attached message's")
	}
	s, err = a.saveDraft(ctx, e.bob, draftForm{Source: "forwardatt:" + id + ":1", To: "x@example.org", Subject: "Fwd: Invoice"})
	if err != nil {
		t.Fatal(err)
	}
	_, o, err = a.loadDraft(ctx, e.bob, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	atts := compose.Attachments(o)
	inner := ForwardedAsAttachment[strings.Index(ForwardedAsAttachment, "From: =?UTF-8?Q?J"):strings.Index(ForwardedAsAttachment, "\n--outer--")]
	if len(atts) != 1 || atts[0].ContentType != "message/rfc822" ||
		strings.TrimSpace(strings.ReplaceAll(string(atts[0].Data), "\r\n", "\n")) != inner {
		t.Errorf("forward as attachment carries %d files: %+v", len(atts), atts)
	}

	eve := e.signIn(e.eve)
	for _, kind := range []string{"reply", "replyall", "forward"} {
		if resp, _ := eve.get("/compose?" + kind + "=" + id + "&part=1"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("eve: %s of bob's attached message: %s", kind, resp.Status)
		}
	}
	for _, p := range []string{"0", "2", "1.0", "x"} {
		if resp, _ := bob.get("/compose?reply=" + id + "&part=" + p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("reply to part %q, no attached message: %s", p, resp.Status)
		}
	}
}
