package webmail

import (
	"bytes"
	"encoding/base64"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestContentDisposition: the header of a download names the file so
// that an RFC 6266 parser (Go's, as browsers do) reads back the name the
// page shows: filename* (RFC 8187) for names beyond plain ASCII, with
// only attr-chars unescaped, and an ASCII fallback that never breaks out
// of its quotes.
func TestContentDisposition(t *testing.T) {
	for _, name := range []string{
		"report.pdf", "Résumé 2026.docx", "日本 Set-Cookie: x=1.txt", "a;b\"c\\d.txt", "50%25 off.pdf",
		"it's (1) [draft] {v2} @home, ok?.txt", "💾.bin",
	} {
		v := contentDisposition("attachment", name)
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" {
			t.Errorf("%q: %s: %q, %v", name, v, disp, err)
			continue
		}
		if params["filename"] != name {
			t.Errorf("%q: %s reads back as %q", name, v, params["filename"])
		}
		if strings.Contains(name, "%") && !strings.Contains(v, "filename*=") {
			t.Errorf("%q: %s: a browser percent-decodes a plain filename", name, v)
		}
	}
}

// TestAttachmentSizeDecoded: the message page gives an attachment's size
// as the file's, not as its base64 text's (a third more: a 30 MB file
// was listed as 41.1 MB).
func TestAttachmentSizeDecoded(t *testing.T) {
	e := newWebEnv(t)
	enc := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfe}, 300<<10))
	var body strings.Builder
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\n")
	m := put(t, e.st, e.bob, store.Inbox, "From: alice@example.org\nSubject: scan\nContent-Type: multipart/mixed; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\nsee scan\n--b\nContent-Type: image/png; name=scan.png\nContent-Transfer-Encoding: base64\n\n"+
		body.String()+"--b\nContent-Type: text/plain; name=notes.txt\n\nfive\n--b--\n", time.Now(), 0)
	_, page := e.signIn(e.bob).get("/msg/" + strconv.FormatInt(m.ID, 10))
	for _, want := range []string{"image/png · </span>300 KB", "text/plain · </span>4 B"} {
		if !strings.Contains(page, want) {
			t.Errorf("message page lacks %q:\n%s", want, regexp.MustCompile(`<span class="list-sub">.*?</span>[^<]*`).FindAllString(page, -1))
		}
	}
}

// TestAttachmentNameSpoof: a file name with a right-to-left override
// ("invoice‮fdp.exe" shows as "invoiceexe.pdf") or other format characters
// is listed, downloaded and forwarded without them, on the message page
// and on the Forward page alike.
func TestAttachmentNameSpoof(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: alice@example.org\nSubject: invoice\nContent-Type: multipart/mixed; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\nsee invoice\n--b\nContent-Type: application/octet-stream\n"+
		"Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"+
		"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"zero\u200bwidth\u2066.txt\"\n\nx\n--b--\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	_, page := bob.get("/msg/" + id)
	_, fwd := bob.get("/compose?forward=" + id)
	resp, _ := bob.get("/msg/" + id + "/part/1")
	for what, s := range map[string]string{"message page": page, "Forward page": fwd, "download": resp.Header.Get("Content-Disposition")} {
		if strings.ContainsAny(s, "\u202e\u200b\u2066") || strings.Contains(s, "%E2%80%AE") {
			t.Errorf("%s keeps a format character in a file name", what)
		}
		if !strings.Contains(s, "invoicefdp.exe") {
			t.Errorf("%s lacks the name invoicefdp.exe", what)
		}
	}
	if !strings.Contains(page, "zerowidth.txt") || !strings.Contains(fwd, "zerowidth.txt") {
		t.Errorf("zero-width characters kept in a name")
	}
}

// TestShowImagesForStyleImages: a message whose only remote images are
// its stylesheet's backgrounds offers Show images (they load once
// allowed; the button did not appear, so they never could); a message
// with only cid: images and plain styles does not.
func TestShowImagesForStyleImages(t *testing.T) {
	e := newWebEnv(t)
	bob := e.signIn(e.bob)
	for raw, want := range map[string]bool{
		"Subject: banner\nContent-Type: text/html\n\n<style>.hero{background:url(https://cdn.example.org/hero.jpg)}</style><div class=\"hero\">Sale</div>\n":    true,
		"Subject: old banner\nContent-Type: text/html\n\n<style>.hero{background:url(http://cdn.example.org/hero.jpg)}</style><div class=\"hero\">Sale</div>\n": true,
		"Subject: plain style\nContent-Type: text/html\n\n<style>p{color:#333}.x{background:url(cid:logo)}</style><p>Hello</p>\n":                               false,
	} {
		m := put(t, e.st, e.bob, store.Inbox, raw, time.Now(), 0)
		_, page := bob.get("/msg/" + strconv.FormatInt(m.ID, 10))
		if got := strings.Contains(page, "Show images"); got != want {
			t.Errorf("%q: Show images offered %v, want %v", raw, got, want)
		}
	}
}

// TestBidiSpoofNotShown: a sender whose name is "<U+202E>moc.lapyap"
// (shown as "paypal.com") or a subject with an override shows neither
// control in the list, on the message page or in a reply's fields.
func TestBidiSpoofNotShown(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: =?UTF-8?Q?=E2=80=AEmoc.lapyap?= <evil@attacker.example>\nTo: bob@example.test\n"+
		"Subject: =?UTF-8?Q?Invoice_=E2=80=AEgpj.exe?=\n\nPay now.\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	id := strconv.FormatInt(m.ID, 10)
	_, list := bob.get("/")
	_, page := bob.get("/msg/" + id)
	_, reply := bob.get("/compose?reply=" + id)
	for what, s := range map[string]string{"list": list, "message page": page, "reply": reply} {
		if strings.ContainsAny(s, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") {
			t.Errorf("%s shows a bidi control", what)
		}
		if !strings.Contains(s, "Invoice gpj.exe") {
			t.Errorf("%s lacks the subject", what)
		}
	}
}
