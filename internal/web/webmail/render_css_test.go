package webmail

import (
	"html"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// allowHTTPS is a resolver with images allowed and one cid: part.
func allowHTTPS(u string) (string, bool) {
	switch {
	case u == "cid:logo@x":
		return "data:image/png;base64,iVBORw0KGgo=", true
	case strings.HasPrefix(u, "https://"):
		return u, true
	}
	return "", false
}

// blockRemote is a resolver with images not allowed.
func blockRemote(u string) (string, bool) {
	if u == "cid:logo@x" {
		return "data:image/png;base64,iVBORw0KGgo=", true
	}
	return "", false
}

// TestSanitizeCSSKeepsDesignDropsHostile: a message's stylesheet keeps
// its rules, @media, @supports and @keyframes blocks and plain
// declarations; @import, @font-face,
// expression(), behavior, -moz-binding, position: fixed, custom
// properties and url() other than images the frame may load go; nothing
// can close the <style> element early.
func TestSanitizeCSSKeepsDesignDropsHostile(t *testing.T) {
	for _, c := range []struct {
		name, in string
		images   bool
		want     []string // substrings of the output
		not      []string // never in the output (case-insensitive)
	}{
		{name: "design", in: `.headline { color: #1a4d8f; font-family: Georgia, serif } td.col > p { margin: 0 0 8px; line-height: 1.5 !important }`,
			want: []string{`.headline{color:#1a4d8f;font-family:Georgia,serif;}`, `td.col>p{margin:0 0 8px;line-height:1.5!important;}`}},
		{name: "media", in: `@media only screen and (max-width: 600px) { .col { width: 100% !important } }`,
			want: []string{`@media only screen and (max-width:600px){.col{width:100%!important;}}`}},
		{name: "gradient", in: `.b{background:linear-gradient(90deg, rgb(1,2,3) 0%, #fff 100%)}`,
			want: []string{`.b{background:linear-gradient(90deg,rgb(1,2,3) 0%,#fff 100%);}`}},
		{name: "import", in: `@import url(https://evil.test/a.css); @import "https://evil.test/b.css"; p{color:red}`,
			want: []string{`p{color:red;}`}, not: []string{"@import", "evil"}},
		{name: "font-face", in: `@font-face{font-family:x;src:url(https://evil.test/f.woff)} p{color:red}`, images: true,
			want: []string{`p{color:red;}`}, not: []string{"font-face", "evil"}},
		{name: "remote bg blocked", in: `body{background:url(https://evil.test/bg.png);color:blue}`,
			want: []string{`body{color:blue;}`}, not: []string{"url(", "evil"}},
		{name: "remote bg allowed", in: `body{background-image:url('https://img.test/bg.png')}`, images: true,
			want: []string{`body{background-image:url("https://img.test/bg.png");}`}},
		{name: "http bg never", in: `body{background:url(http://img.test/bg.png)}`, images: true, not: []string{"url("}},
		{name: "cid", in: `.logo{background-image:url(cid:logo@x)}`, want: []string{`.logo{background-image:url("data:image/png;base64,iVBORw0KGgo=");}`}},
		{name: "url outside background", in: `li{list-style-image:url(https://img.test/x.png);cursor:url(https://img.test/c.cur),auto}`, images: true,
			not: []string{"url("}},
		{name: "expression", in: `p{width:expression(alert(1));height:e\78pression(alert(2));color:red}`,
			want: []string{`p{color:red;}`}, not: []string{"expression", "alert", `\78`}},
		{name: "binding", in: `p{behavior:url(x.htc);-moz-binding:url(https://evil.test/b.xml#x);color:red}`, images: true,
			want: []string{`p{color:red;}`}, not: []string{"behavior", "binding", "evil"}},
		{name: "fixed overlay", in: `.cover{position:fixed;top:0;left:0;width:100%;height:100%;z-index:9999} .r{position:relative} .u{POSITION: Fixed}`,
			want: []string{`.cover{top:0;left:0;width:100%;height:100%;z-index:9999;}`, `.r{position:relative;}`}, not: []string{"fixed"}},
		{name: "style breakout", in: `p{font-family:"</style><script>alert(1)</script>"} </style><script>alert(2)</script>`,
			not: []string{"</style", "<script"}},
		{name: "custom properties", in: `:root{--c:url(https://evil.test/x)} p{color:var(--c);background:var(--c)}`, images: true,
			not: []string{"--c", "var(", "evil"}},
		{name: "other at-rules", in: `@page{margin:0} @namespace x url(https://evil.test/ns); @charset "utf-8"; @font-feature-values F{@swash{x:1}} @layer x{p{color:blue}} @container (min-width:1px){p{color:blue}} p{color:red}`,
			images: true, want: []string{`p{color:red;}`}, not: []string{"@", "evil", "blue"}},
		{name: "supports", in: `@supports (display: grid) and (not (display: inline-grid)) { .g { display: grid; background: url(https://evil.test/s) } @media (max-width: 600px) { .g { display: block } } }`,
			want: []string{`@supports (display:grid) and (not (display:inline-grid)){.g{display:grid;}@media (max-width:600px){.g{display:block;}}}`},
			not:  []string{"evil", "url("}},
		{name: "supports hostile conditions", in: `@supports (background: url(https://evil.test/c)) { p { color: blue } } @supports selector(:has(a)) { p { color: blue } } @supports ("x") { p { color: blue } } p{color:red}`,
			images: true, want: []string{`p{color:red;}`}, not: []string{"@supports", "evil", "blue"}},
		{name: "keyframes", in: `@keyframes pulse { from { opacity: 1; background: url(https://evil.test/k) } 50%, 60% { opacity: .5; transform: translateX(10px) scale(1.1) } to { opacity: 1 } } .b { animation: pulse 2s cubic-bezier(.2,.8,.2,1) infinite }`,
			want: []string{`@keyframes pulse{from{opacity:1;}50%,60%{opacity:.5;transform:translateX(10px) scale(1.1);}to{opacity:1;}}`, `.b{animation:pulse 2s cubic-bezier(.2,.8,.2,1) infinite;}`},
			not:  []string{"evil", "url("}},
		{name: "keyframes in media, webkit", in: `@media screen { @-webkit-keyframes k { to { color: red } } }`,
			want: []string{`@media screen{@-webkit-keyframes k{to{color:red;}}}`}},
		{name: "keyframes hostile", in: `@keyframes "q" { to { color: blue } } @keyframes k { @import url(https://evil.test/i); p { color: blue } to { content: url(https://evil.test/c); color: red } } p { @keyframes n { to { color: blue } } } @keyframes e { to { width: expression(alert(1)) } }`,
			images: true, want: []string{`@keyframes k{to{color:red;}}`, `@keyframes e{to{}}`}, not: []string{"evil", "blue", "content", "expression", `"q"`}},
		{name: "selectors", in: `a[href^="https"]:not(.x), p:nth-child(2n+1) {color:red} p:has(img){color:blue} p::after{content:"x"}`,
			want: []string{`a[href^="https"]:not(.x),p:nth-child(2n+1){color:red;}`, `p::after{}`}, not: []string{"has(", "content"}},
		{name: "unknown functions", in: `p{color:attr(x);width:image-set("x.png" 1x);background:image(https://evil.test/i)}`, images: true,
			not: []string{"attr(", "image-set", "evil"}},
		{name: "unterminated", in: `@media screen { p { color: red`, want: []string{`@media screen{p{color:red;}}`}},
		{name: "stray braces", in: `}}} p{color:red}}} {{{ q{color:blue`, not: []string{"{{", "}}}"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resolve := blockRemote
			if c.images {
				resolve = allowHTTPS
			}
			out := sanitizeCSS(c.in, resolve)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("sanitizeCSS(%q)\n= %q\nlacks %q", c.in, out, w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(strings.ToLower(out), strings.ToLower(n)) {
					t.Errorf("sanitizeCSS(%q)\n= %q\nkeeps %q", c.in, out, n)
				}
			}
			if strings.Count(out, "{") != strings.Count(out, "}") {
				t.Errorf("unbalanced braces in %q", out)
			}
		})
	}
}

// TestSanitizeCSSRandomHostile: stylesheets stitched at random from
// hostile and broken pieces never yield a url() but the allowed kinds,
// an @-rule other than @media, @supports and @keyframes (with a plain
// prelude), a function that runs or loads, a fixed position, or a way
// out of the <style> element.
func TestSanitizeCSSRandomHostile(t *testing.T) {
	pieces := []string{"p{", "}", "{", ";", "color:red", "background:url(https://evil.test/a)", "background:url(cid:logo@x)",
		"@import url(https://evil.test/i);", "@font-face{src:url(https://evil.test/f)}", "@media (max-width:1px){", "width:expression(alert(1))",
		`w\69 dth:e\78pression(1)`, "behavior:url(x)", "-moz-binding:url(https://evil.test/b)", "position:fixed", "position: /**/fixed",
		`"</style><script>`, "</style>", "<!--", "-->", "url(", ")", "'", `"`, `\`, "\n", "--x:url(https://evil.test/v)", "color:var(--x)",
		"a[href*='https://evil.test']", ":has(", "@supports(x){", "@keyframes k{", "background:image-set(url(https://evil.test/s) 1x)",
		"@supports (background:url(https://evil.test/s)){", "@supports selector(:has(a)){", "@-webkit-keyframes k{", "from{", "50%{", "to{",
		"to{background:url(https://evil.test/k)}", "@keyframes 'x'{", "transform:translate(1px)", "animation:k 1s steps(2)",
		"/*", "*/", "background-image:url(  \"https://img.test/ok\"  )", "list-style:url(https://evil.test/l)", "content:url(https://evil.test/c)"}
	rng := rand.New(rand.NewPCG(14, 2))
	for i := range 5000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		in := b.String()
		for _, images := range []bool{false, true} {
			resolve := blockRemote
			if images {
				resolve = allowHTTPS
			}
			out := strings.ToLower(sanitizeCSS(in, resolve))
			rest := out
			for {
				j := strings.Index(rest, "url(")
				if j < 0 {
					break
				}
				rest = rest[j+4:]
				if !strings.HasPrefix(rest, `"data:image/png;base64,`) && !(images && strings.HasPrefix(rest, `"https://`)) {
					t.Fatalf("case %d (images %v): url() kept: %q\nfrom %q", i, images, out, in)
				}
			}
			// Checked where they would act (an at-rule, a declaration, a
			// function call): the same words in a selector or a string
			// (closed and escaped) are harmless.
			acting := cssStrings.ReplaceAllString(out, `""`)
			for _, bad := range hostileCSS {
				if bad.MatchString(acting) {
					t.Fatalf("case %d (images %v): %s kept: %q\nfrom %q", i, images, bad, out, in)
				}
			}
			if strings.Contains(out, "</") || strings.Contains(out, "<script") {
				t.Fatalf("case %d (images %v): a way out of <style>: %q\nfrom %q", i, images, out, in)
			}
			if fixedDecl.MatchString(acting) {
				t.Fatalf("case %d (images %v): position fixed kept: %q\nfrom %q", i, images, out, in)
			}
			if strings.Count(out, "{") != strings.Count(out, "}") {
				t.Fatalf("case %d: unbalanced braces %q\nfrom %q", i, out, in)
			}
		}
	}
}

// fixedDecl finds a position declaration with fixed in its value (a
// selector such as p:fixed is harmless and ends in "{" or ",").
var fixedDecl = regexp.MustCompile(`position:[^;{},]*fixed[^;{}]*;`)

// cssStrings finds the double-quoted strings sanitizeCSS writes (no
// quote or backslash inside but escapes).
var cssStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// hostileCSS are the constructs that must never come out of sanitizeCSS.
var hostileCSS = []*regexp.Regexp{
	regexp.MustCompile(`(^|[^\\])@(import|font-face|namespace|charset|page|layer|container)`),
	// The at-rules kept, with a prelude of anything but plain words,
	// numbers and parentheses.
	regexp.MustCompile(`@(media|supports)[^{]*[^a-z0-9 :(),.%#/>={_-][^{]*\{`),
	regexp.MustCompile(`@(-webkit-)?keyframes [^{]*[^a-z0-9{_-][^{]*\{`),
	regexp.MustCompile(`(^|[{;])(behavior|-moz-binding|content|list-style|cursor|--x)\s*:`),
	regexp.MustCompile(`(expression|var|image-set|image|attr)\(`),
}

// TestFrameKeepsMessageStylesheet: the frame's document carries the
// message's <style> rules, cleaned, after the frame's defaults; with
// images allowed an https background stays, without it goes.
func TestFrameKeepsMessageStylesheet(t *testing.T) {
	e := newWebEnv(t)
	m := put(t, e.st, e.bob, store.Inbox, "From: news@northwind.example\nSubject: styled\nContent-Type: text/html\n\n"+
		"<html><head><style>@import url(https://evil.test/i.css); .brand{color:#1a4d8f} .hero{background:url(https://img.test/hero.png)} "+
		".cover{position:fixed;inset:0}</style></head><body><p class=\"brand\">Northwind</p></body></html>\n", time.Now(), 0)
	bob := e.signIn(e.bob)
	_, page := bob.get("/msg/" + itoa(m.ID))
	src := regexp.MustCompile(`class="msg-frame" src="([^"]+)"`).FindStringSubmatch(page)
	if src == nil {
		t.Fatalf("no frame on the message page:\n%s", page)
	}
	frame := html.UnescapeString(src[1])
	for _, c := range []struct {
		url  string
		want []string
		not  []string
	}{
		{frame, []string{`<style>.brand{color:#1a4d8f;}`}, []string{"@import", "evil.test", "hero.png", "fixed"}},
		{frame + "&images=1", []string{`.brand{color:#1a4d8f;}.hero{background:url("https://img.test/hero.png");}`}, []string{"@import", "fixed"}},
	} {
		resp, body := bob.get(c.url)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", c.url, resp.Status)
		}
		head := body[:strings.Index(body, "<body>")]
		if !strings.Contains(head, "<style>html{") || strings.Index(head, "<style>html{") > strings.Index(head, ".brand") {
			t.Errorf("%s: the message's sheet does not come after the frame's defaults:\n%s", c.url, head)
		}
		for _, w := range c.want {
			if !strings.Contains(head, w) {
				t.Errorf("%s: frame head lacks %q:\n%s", c.url, w, head)
			}
		}
		for _, n := range c.not {
			if strings.Contains(head, n) {
				t.Errorf("%s: frame head keeps %q:\n%s", c.url, n, head)
			}
		}
	}
}
