package webmail

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/message"
	"golang.org/x/net/html"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestAnalyse(t *testing.T) {
	cases := []struct {
		name        string
		raw         string
		body        []string // paths, "h" prefix for HTML
		attachments []string // names
	}{
		{"plain", "Subject: x\n\nhello\n", []string{""}, nil},
		{"alternative picks html", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/html\n\n<p>hi</p>\n--b--\n",
			[]string{"h1"}, nil},
		{"alternative with unknown richest", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: text/enriched\n\nhi\n--b--\n",
			[]string{"0"}, nil},
		{"mixed with attachment, RFC 2231 name", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n" +
			"Content-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n",
			[]string{"0"}, []string{"Résumé.pdf"}},
		{"encoded-word name, no name", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\n" +
			"Content-Type: image/png; name=\"=?UTF-8?B?w6lwaWM=?=.png\"\n\nPNG\n--b\nContent-Type: application/octet-stream\n\nxx\n--b--\n",
			[]string{"0"}, []string{"épic.png", "part-2.bin"}},
		{"related: images belong to the html", "Content-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/html\n\n<img src=\"cid:logo@x\">\n--b\n" +
			"Content-Type: image/png\nContent-ID: <logo@x>\n\nPNG\n--b--\n",
			[]string{"h0"}, []string{"part-1.png"}},
		{"text attachment by disposition", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nbody\n--b\n" +
			"Content-Type: text/plain\nContent-Disposition: attachment; filename=../../etc/notes.txt\n\nnotes\n--b--\n",
			[]string{"0"}, []string{"notes.txt"}},
		{"embedded message", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfwd\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner\n--b--\n",
			[]string{"0"}, []string{"inner.eml"}},
		{"Outlook invitation: the calendar alternative offered", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nmeet\n" +
			"--b\nContent-Type: text/html\n\n<p>meet</p>\n--b\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\nBEGIN:VCALENDAR\n--b--\n",
			[]string{"h1"}, []string{"invite.ics"}},
		{"Gmail invitation: the attached one only", "Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: multipart/alternative; boundary=b\n\n" +
			"--b\nContent-Type: text/plain\n\nmeet\n--b\nContent-Type: text/html\n\n<p>meet</p>\n--b\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--b--\n" +
			"--m\nContent-Type: application/ics; name=invite.ics\nContent-Disposition: attachment; filename=invite.ics\n\nBEGIN:VCALENDAR\n--m--\n",
			[]string{"h0.1"}, []string{"invite.ics"}},
		{"a name of nothing but dots and a directory", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\n" +
			"Content-Type: application/pdf\nContent-Disposition: attachment; filename=\"dir/...\"\n\n%PDF\n--b--\n",
			[]string{"0"}, []string{"part-1.pdf"}},
		{"missing final boundary", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nstill shown\n",
			[]string{"0"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := analyse(message.Parse(crlf(c.raw)))
			var body, att []string
			for _, b := range s.Body {
				p := b.Path
				if b.HTML {
					p = "h" + p
				}
				body = append(body, p)
			}
			for _, a := range s.Attachments {
				att = append(att, a.Name)
			}
			if !slices.Equal(body, c.body) || !slices.Equal(att, c.attachments) {
				t.Fatalf("body %q attachments %q, want %q %q", body, att, c.body, c.attachments)
			}
		})
	}
}

func TestPartTextCharsetsAndRanges(t *testing.T) {
	raw := crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 cr=E8me\n--b\n" +
		"Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n--b--\n")
	info := message.Parse(raw)
	r := bytes.NewReader(raw)
	got, _, err := partText(r, &info.Part.Parts[0], 0)
	if err != nil || got != "café crème" {
		t.Fatalf("latin-1 QP: %q %v", got, err)
	}
	got, _, _ = partText(r, &info.Part.Parts[1], 0)
	if got != "Привет" {
		t.Fatalf("koi8-r: %q", got)
	}
	got, cut, _ := partText(r, &info.Part.Parts[1], 2)
	if !cut || len(got) == 0 {
		t.Fatalf("limit: %q %v", got, cut)
	}
}

func TestPlainLinesFlowed(t *testing.T) {
	// RFC 3676 4.2: a line ending in a space is joined with the next
	// line of the same depth; 4.4: space-stuffing removed; 4.3 sig.
	got := plainLines("Hello there \r\nfriend.\r\n>quoted \r\n>more\r\n From me\r\n-- \r\nsig\r\n", true, false)
	want := []textLine{{0, "Hello there friend."}, {1, "quoted more"}, {0, "From me"}, {0, "-- "}, {0, "sig"}}
	if !slices.Equal(got, want) {
		t.Fatalf("flowed: %+v", got)
	}
	if got := plainLines("abc \r\ndef\r\n", true, true); !slices.Equal(got, []textLine{{0, "abcdef"}}) {
		t.Fatalf("delsp: %+v", got)
	}
	if got := plainLines("a \r\n> > b\r\n>c\r\n", false, false); !slices.Equal(got, []textLine{{0, "a "}, {2, "b"}, {1, "c"}}) {
		t.Fatalf("fixed: %+v", got)
	}
}

func TestRenderPlain(t *testing.T) {
	out := string(renderPlain("See https://example.org/a?b=1&c=2. And www.x.test, or javascript:alert(1) <b>x</b>\n> old\n>> older\n", false, false))
	for _, want := range []string{
		`<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">https://example.org/a?b=1&amp;c=2</a>.`,
		`<a href="https://www.x.test" target="_blank" rel="noopener noreferrer">www.x.test</a>,`,
		`javascript:alert(1) &lt;b&gt;x&lt;/b&gt;`,
		`<details class="quote"><summary>Quoted text (2 lines)</summary><blockquote>old` + "\n" + `<blockquote>older`,
		`</blockquote></blockquote></details>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered %q\nlacks %q", out, want)
		}
	}
}

// hostileHTML holds what an attacker puts in mail; none of it may survive.
const hostileHTML = `<html><head><base href="https://evil.test/"><meta http-equiv="refresh" content="0;url=https://evil.test/r">
<link rel="stylesheet" href="https://evil.test/css"><style>body{background:url(https://evil.test/style)}</style>
<script>alert(1)</script></head><body onload="alert(2)">
<p style="color:red;background:url(https://evil.test/bg);width:expression(alert(3));font-size:12px">styled</p>
<img src="https://evil.test/pixel.gif" width="1" height="1" onerror="alert(4)">
<img src="cid:logo@example.org" alt="logo">
<a href="javascript:alert(5)">js</a> <a href="https://example.org/ok">ok</a> <a href="mailto:a@b.test">mail</a>
<svg><script>alert(6)</script><image href="https://evil.test/svg"/></svg>
<form action="https://evil.test/f"><input name="p"><button>go</button></form>
<table background="https://evil.test/tbg"><tr><td bgcolor="#fff" style="background-image:url(https://evil.test/td)">cell</td></tr></table>
<iframe src="https://evil.test/frame"></iframe><object data="https://evil.test/obj"></object>
<div style="behavior:url(x.htc);-moz-binding:url(https://evil.test/b)">b</div>
</body></html>`

func TestSanitizeHostile(t *testing.T) {
	h := newHTMLPolicies()
	out := h.sanitize(hostileHTML, false)
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "alert(", "onerror", "onload", "javascript:", "<svg", "<form", "<input", "<meta",
		"<base", "<link", "<style", "<iframe", "<object", "url(", "expression", "evil.test", "background=", "behavior"} {
		if strings.Contains(lower, bad) {
			t.Errorf("sanitised HTML keeps %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{`style="color: red; font-size: 12px"`, `src="cid/logo@example.org"`,
		`href="https://example.org/ok" rel="noreferrer noopener" target="_blank"`, `href="mailto:a@b.test"`, `bgcolor="#fff"`, "cell"} {
		if !strings.Contains(out, good) {
			t.Errorf("sanitised HTML lacks %q:\n%s", good, out)
		}
	}
	// Remote images come back once allowed; nothing else does.
	allowed := h.sanitize(hostileHTML, true)
	if !strings.Contains(allowed, `src="https://evil.test/pixel.gif"`) {
		t.Errorf("allowed images: pixel missing:\n%s", allowed)
	}
	if n := strings.Count(allowed, "evil.test"); n != 1 {
		t.Errorf("allowed images keep %d evil.test references, want only the image:\n%s", n, allowed)
	}
}

// ourTags are the only tags renderPlain writes.
var ourTags = regexp.MustCompile(`^<(/?(div|blockquote|details|summary)|div class="plain"|details class="quote"|a href="[^"<>]*" target="_blank" rel="noopener noreferrer"|/a)>`)

// FuzzRender feeds raw messages through the whole read path: parse,
// choose parts, decode them by range, render text and sanitise HTML. It
// checks that nothing panics, that the text rendering writes no markup of
// the message's own, and that sanitised HTML never keeps a script, an
// event handler or a javascript: URL.
func FuzzRender(f *testing.F) {
	f.Add(crlf("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; format=flowed\n\nhi \n> q\n--b\nContent-Type: text/html\n\n" + hostileHTML + "\n--b--\n"))
	f.Add(crlf("Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n//5oAGkA\n"))
	f.Add(crlf("Content-Type: multipart/related; boundary=\"\"\n\n--\n\n<a href=java&#x73;cript:x>y</a>\n"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<svg/onload=alert(1)><img src=x:y onerror=z><a href=\"&#106;avascript:x\">"))
	h := newHTMLPolicies()
	f.Fuzz(func(t *testing.T, raw []byte) {
		info := message.Parse(raw)
		s := analyse(info)
		r := bytes.NewReader(raw)
		for _, b := range s.Body {
			p, ok := findPart(&info.Part, b.Path)
			if !ok {
				t.Fatalf("body part %q not found", b.Path)
			}
			text, _, err := partText(r, p, maxShownText)
			if err != nil {
				t.Fatal(err)
			}
			if b.HTML {
				out := h.sanitize(text, false)
				if bad := unsafeHTML(out); bad != "" {
					t.Fatalf("sanitised %q keeps %s: %q", text, bad, out)
				}
				continue
			}
			out := string(renderPlain(text, p.Param("format") == "flowed", p.Param("delsp") == "yes"))
			for i := strings.IndexByte(out, '<'); i >= 0; {
				if !ourTags.MatchString(out[i:]) {
					t.Fatalf("rendered %q writes foreign markup at %q", text, out[i:min(len(out), i+40)])
				}
				j := strings.IndexByte(out[i+1:], '<')
				if j < 0 {
					break
				}
				i += 1 + j
			}
		}
		for _, a := range s.Attachments {
			if a.Name == "" || strings.ContainsAny(a.Name, "/\\\"\x00\r\n") {
				t.Fatalf("attachment name %q", a.Name)
			}
			if _, ok := findPart(&info.Part, a.Path); !ok {
				t.Fatalf("attachment part %q not found", a.Path)
			}
		}
	})
}

// unsafeHTML reads sanitised HTML as a browser's tokenizer would and names
// the first thing in it that could run script or load from elsewhere.
func unsafeHTML(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "style", "iframe", "svg", "math", "form", "input", "button", "meta", "base", "link", "object", "embed":
				return "element " + tok.Data
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					return "handler " + a.Key
				case a.Key == "style" && (strings.Contains(v, "url(") || strings.Contains(v, "expression") || strings.Contains(v, "\\")):
					return "style " + v
				case (a.Key == "href" || a.Key == "src") && !safeURL(v):
					return a.Key + " " + v
				case a.Key == "src" && v != "" && !strings.HasPrefix(v, "cid/"):
					return "remote image " + v
				case a.Key == "background" || a.Key == "srcset" || a.Key == "action" || a.Key == "formaction":
					return "attribute " + a.Key
				}
			}
		}
	}
}

func safeURL(v string) bool {
	if v == "" || strings.HasPrefix(v, "cid/") {
		return true
	}
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto")
}
