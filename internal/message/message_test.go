package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestGolden parses every testdata/*.eml and compares the JSON of the Info
// with testdata/*.golden. Run with -update to regenerate.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			info := Parse(raw)
			checkInvariants(t, raw, info)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "\t")
			// The search words are not stored with the Info, but are
			// part of what Parse answers.
			withSearch := struct {
				*Info
				Search SearchText `json:"search"`
			}{info, info.Search}
			if err := enc.Encode(withSearch); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			golden := strings.TrimSuffix(f, ".eml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Info differs from %s (run with -update to accept):\n%s", golden, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\nwant: " + truncate(w, 300) + "\ngot:  " + truncate(g, 300)
		}
	}
	return ""
}

func itoa(n int) string { return pathString([]int{n}) }

// checkInvariants checks what every Info must satisfy, whatever the input.
func checkInvariants(t testing.TB, raw []byte, info *Info) {
	t.Helper()
	if info.Part.HeaderStart != 0 || info.Part.End != int64(len(raw)) {
		t.Errorf("root spans [%d,%d), want [0,%d)", info.Part.HeaderStart, info.Part.End, len(raw))
	}
	n := 0
	var walk func(p *Part, lo, hi int64, path string)
	walk = func(p *Part, lo, hi int64, path string) {
		n++
		if !(lo <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= hi) {
			t.Fatalf("part %q: offsets %d <= %d <= %d <= %d <= %d violated", path, lo, p.HeaderStart, p.BodyStart, p.End, hi)
		}
		if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
			t.Errorf("part %q: empty type %q/%q or encoding %q", path, p.Type, p.Subtype, p.Encoding)
		}
		if p.Type == "multipart" && len(p.Parts) == 0 {
			t.Errorf("part %q: multipart without children", path)
		}
		if p.Type != "multipart" && len(p.Parts) > 0 {
			t.Errorf("part %q: %s/%s with children", path, p.Type, p.Subtype)
		}
		if want := countLines(raw[p.BodyStart:p.End]); p.Lines != want {
			t.Errorf("part %q: Lines %d, want %d", path, p.Lines, want)
		}
		prevEnd := p.BodyStart
		for i := range p.Parts {
			c := &p.Parts[i]
			if c.HeaderStart < prevEnd {
				t.Errorf("part %q: child %d starts at %d before previous end %d", path, i+1, c.HeaderStart, prevEnd)
			}
			prevEnd = c.End
			walk(c, p.BodyStart, p.End, path+"."+itoa(i+1))
		}
		if m := p.Message; m != nil {
			if m.Part.HeaderStart != p.BodyStart || m.Part.End != p.End {
				t.Errorf("part %q: embedded message spans [%d,%d), body is [%d,%d)", path, m.Part.HeaderStart, m.Part.End, p.BodyStart, p.End)
			}
			walk(&m.Part, p.BodyStart, p.End, path+".msg")
		}
	}
	walk(&info.Part, 0, int64(len(raw)), "")
	if n > maxParts+maxDepth+1 {
		t.Errorf("%d parts, limit is %d", n, maxParts)
	}
	st := info.Search
	all := strings.Join([]string{st.Subject, st.From, st.To, st.Cc, st.Bcc, st.Header, st.Body}, " ")
	if !utf8.ValidString(all) || !utf8.ValidString(info.Preview) {
		t.Errorf("Search or Preview not valid UTF-8")
	}
	if len(all) > maxIndexWords+6 {
		t.Errorf("Search words are %d bytes, limit %d", len(all), maxIndexWords)
	}
	if n := utf8.RuneCountInString(info.Preview); n > previewLen {
		t.Errorf("Preview is %d runes", n)
	}
	if len(info.Problems) > maxProblems+1 {
		t.Errorf("%d problems", len(info.Problems))
	}
	// The store keeps Info as JSON: it must marshal and round-trip
	// exactly (which also proves every string is valid UTF-8).
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back Info
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !back.Date.Equal(info.Date) {
		t.Errorf("Date %v round-trips as %v", info.Date, back.Date)
	}
	cp := *info
	cp.Date, back.Date = time.Time{}, time.Time{}
	cp.Search = SearchText{} // not stored: it goes to the index
	if !reflect.DeepEqual(&cp, &back) {
		b2, _ := json.Marshal(&back)
		t.Errorf("JSON round trip changes Info:\n%s\n%s", truncate(string(b), 2000), truncate(string(b2), 2000))
	}
}

// TestBodies checks that offsets cut out exactly the expected bodies.
func TestBodies(t *testing.T) {
	tests := []struct {
		file string
		path []int
		body string
		mime string // raw[HeaderStart:BodyStart], if not ""
	}{
		{"simple.eml", nil, "Hi Bob,\r\n\r\nLunch tomorrow at noon?\r\n\r\n-- \r\nAlice\r\n", ""},
		{"simple.eml", []int{1}, "Hi Bob,\r\n\r\nLunch tomorrow at noon?\r\n\r\n-- \r\nAlice\r\n", ""},
		{"alternative.eml", []int{2}, "<html><head><title>Shipped</title><style>p { color: red; }</style></head>\r\n<body><p>Your order &ldquo;Widget&rdquo; has <b>shipped</b>.</p>\r\n<script>alert(\"x\")</script><p>It will arrive on Friday.</p></body></html>",
			"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"},
		{"mixed-nested.eml", []int{1, 1}, "See the attached report.", ""},
		{"mixed-nested.eml", []int{1, 2, 1}, `<p>See the attached report. <img src="cid:pic@example.com"></p>`, ""},
		{"mixed-nested.eml", []int{3}, "These are notes, attached.", "Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\n"},
		{"rfc822.eml", []int{1}, "Forwarding two messages.", ""},
		{"rfc822.eml", []int{2, 1}, "Embedded plain.", "Content-Type: text/plain\r\n\r\n"},
		{"rfc822.eml", []int{2, 2}, "<p>Embedded <i>html</i>.</p>", ""},
		{"rfc822.eml", []int{3}, "From: Judy <judy@example.net>\r\nSubject: Embedded two\r\nReply-To: judy-list@example.net\r\n\r\nJust text.",
			"Content-Type: message/rfc822\r\n\r\n"},
		{"rfc822.eml", []int{3, 1}, "Just text.", "From: Judy <judy@example.net>\r\nSubject: Embedded two\r\nReply-To: judy-list@example.net\r\n\r\n"},
		{"missing-boundary.eml", []int{1, 1}, "inner plain, no close delimiter for inner", ""},
		{"missing-boundary.eml", []int{2}, "last part, no close delimiter\r\n", ""},
		{"bare-lf.eml", []int{1}, "first", "Content-Type: text/plain\n\n"},
		{"bare-lf.eml", []int{2}, "second", ""},
		{"crcrlf.eml", nil, "body line\r\r\nsecond\r\r\n", "From: n@example.org\r\r\nSubject: carriage returns\r\r\nContent-Type: text/plain\r\r\n\r\r\n"},
		{"header-only.eml", nil, "", ""},
		{"no-headers.eml", nil, "Hello, this message has no header at all.\r\nSecond line.\r\n", ""},
		{"digest.eml", []int{1, 1}, "First.", ""},
		{"digest.eml", []int{2}, "Not a message.", ""},
		{"broken-structure.eml", []int{1, 1}, "no boundary parameter here", ""},
		{"broken-structure.eml", []int{3, 1}, "this body never shows its boundary", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+pathString(tt.path), func(t *testing.T) {
			raw := readFixture(t, tt.file)
			info := Parse(raw)
			p, ok := info.Part.Find(tt.path)
			if !ok {
				t.Fatalf("part %v not found", tt.path)
			}
			if got := string(raw[p.BodyStart:p.End]); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if got := string(p.Body(raw)); got != tt.body {
				t.Errorf("Body() = %q", got)
			}
			if tt.mime != "" {
				if got := string(raw[p.HeaderStart:p.BodyStart]); got != tt.mime {
					t.Errorf("header = %q, want %q", got, tt.mime)
				}
			}
		})
	}
}

func TestFind(t *testing.T) {
	raw := readFixture(t, "rfc822.eml")
	info := Parse(raw)
	tests := []struct {
		path     []int
		ok       bool
		typ      string
		embedded bool // the result is inside an embedded message
	}{
		{nil, true, "multipart/mixed", false},
		{[]int{1}, true, "text/plain", false},
		{[]int{2}, true, "message/rfc822", false},
		{[]int{2, 1}, true, "text/plain", true},
		{[]int{2, 2}, true, "text/html", true},
		{[]int{2, 3}, false, "", false},
		{[]int{2, 1, 1}, false, "", false},
		{[]int{3}, true, "message/rfc822", false},
		{[]int{3, 1}, true, "text/plain", true},
		{[]int{3, 1, 1}, false, "", false},
		{[]int{3, 2}, false, "", false},
		{[]int{1, 1}, false, "", false},
		{[]int{4}, false, "", false},
		{[]int{0}, false, "", false},
		{[]int{-1}, false, "", false},
	}
	for _, tt := range tests {
		p, ok := info.Part.Find(tt.path)
		if ok != tt.ok {
			t.Errorf("Find(%v) ok = %v, want %v", tt.path, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := p.Type + "/" + p.Subtype; got != tt.typ {
			t.Errorf("Find(%v) = %s, want %s", tt.path, got, tt.typ)
		}
	}
	// The embedded message of part 2: its header is "2.HEADER".
	p, _ := info.Part.Find([]int{2})
	if got := string(p.Message.Part.Header(raw)); !strings.HasPrefix(got, "Date: Mon, 3 Nov 2025") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("2.HEADER = %q", got)
	}
	if p.Message.Envelope.Subject != "Embedded one" || p.Message.Envelope.MessageID != "<emb-1@example.net>" {
		t.Errorf("embedded envelope = %+v", p.Message.Envelope)
	}

	// A non-multipart message: part 1 is the body, nothing else exists.
	simple := Parse(readFixture(t, "simple.eml"))
	if p, ok := simple.Part.Find([]int{1}); !ok || p != &simple.Part {
		t.Errorf("simple Find(1) = %v, %v", p, ok)
	}
	for _, path := range [][]int{{2}, {1, 1}} {
		if _, ok := simple.Part.Find(path); ok {
			t.Errorf("simple Find(%v) found", path)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		file string
		path []int
		text bool
		want string
	}{
		{"bad-base64.eml", []int{1}, true, "Hello world"},
		{"bad-base64.eml", []int{2}, false, "\x00\x01\x02\x03\x04\x05\x06\x07"},
		{"alternative.eml", []int{1}, true, "Your order \u201cWidget\u201d has shipped. \r\nIt will arrive on Friday. Track it here: https://shop.example/track?id=42&x=1"},
		{"encoded-words.eml", []int{1}, true, "Grüße aus Köln \u2013 bis bald.\r\n"},
		{"8bit-headers.eml", nil, true, "Café crème\r\n"},
		{"simple.eml", nil, false, "Hi Bob,\r\n\r\nLunch tomorrow at noon?\r\n\r\n-- \r\nAlice\r\n"},
		{"mixed-nested.eml", []int{2}, false, "%PDF-1.4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+pathString(tt.path), func(t *testing.T) {
			raw := readFixture(t, tt.file)
			info := Parse(raw)
			p, ok := info.Part.Find(tt.path)
			if !ok {
				t.Fatal("part not found")
			}
			var got string
			var err error
			if tt.text {
				got, err = DecodeText(raw, p)
			} else {
				var b []byte
				b, err = Decode(raw, p)
				got = string(b)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.file == "mixed-nested.eml" {
				if !strings.HasPrefix(got, tt.want) || len(got) != 9+768 {
					t.Errorf("decoded %d bytes starting %q", len(got), truncate(got, 20))
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	p := &Part{Encoding: "X-UUENCODE", End: 3}
	b, err := Decode([]byte("abc"), p)
	if !errors.Is(err, ErrUnknownEncoding) || string(b) != "abc" {
		t.Errorf("unknown encoding: %q, %v", b, err)
	}
}

func TestDecodeQP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=3Db", "a=b"},
		{"a=3db", "a=b"},
		{"soft=\r\nbreak", "softbreak"},
		{"soft= \t\r\nbreak", "softbreak"},
		{"soft=\nbreak", "softbreak"},
		{"trailing   \r\nspace", "trailing\r\nspace"},
		{"bad=ZZescape", "bad=ZZescape"},
		{"end=", "end"},
		{"end=4", "end=4"},
		{"tab\tinside", "tab\tinside"},
	}
	for _, tt := range tests {
		if got := string(decodeQP([]byte(tt.in))); got != tt.want {
			t.Errorf("decodeQP(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SGVsbG8=", "Hello"},
		{"SGVsbG8", "Hello"},
		{"SGV\r\nsbG8=\r\n", "Hello"},
		{"SG Vs bG 8=", "Hello"},
		{"SGVsbG8=SGk=", "HelloHi"},
		{"S", ""},
		{"!!!", ""},
	}
	for _, tt := range tests {
		if got := string(decodeBase64([]byte(tt.in))); got != tt.want {
			t.Errorf("decodeBase64(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
		bad  bool
	}{
		{"alice@example.org", []Address{{Mailbox: "alice", Host: "example.org"}}, false},
		{"Alice Example <alice@example.org>", []Address{{Name: "Alice Example", Mailbox: "alice", Host: "example.org"}}, false},
		{`"Doe, John" <john@x.org>, jane@y.org`, []Address{{Name: "Doe, John", Mailbox: "john", Host: "x.org"}, {Mailbox: "jane", Host: "y.org"}}, false},
		{`"quoted \"name\"" <q@x.org>`, []Address{{Name: `quoted "name"`, Mailbox: "q", Host: "x.org"}}, false},
		{"undisclosed-recipients:;", []Address{{Mailbox: "undisclosed-recipients", GroupStart: true}, {GroupEnd: true}}, false},
		{"A Group: a@x.org, b@y.org;", []Address{{Mailbox: "A Group", GroupStart: true}, {Mailbox: "a", Host: "x.org"}, {Mailbox: "b", Host: "y.org"}, {GroupEnd: true}}, false},
		{"A Group: a@x.org", []Address{{Mailbox: "A Group", GroupStart: true}, {Mailbox: "a", Host: "x.org"}, {GroupEnd: true}}, true},
		{"<@a.example,@b.example:user@host.example>", []Address{{Adl: "@a.example,@b.example", Mailbox: "user", Host: "host.example"}}, false},
		{"Name <@a, @b : u@h>", []Address{{Name: "Name", Adl: "@a,@b", Mailbox: "u", Host: "h"}}, false},
		{"x@y.org (Xavier Y)", []Address{{Name: "Xavier Y", Mailbox: "x", Host: "y.org"}}, false},
		{"(c) Real Name (c2) <r@x.org> (c3)", []Address{{Name: "Real Name", Mailbox: "r", Host: "x.org"}}, false},
		{"J. Random Hacker <jrh@[192.0.2.7]>", []Address{{Name: "J. Random Hacker", Mailbox: "jrh", Host: "[192.0.2.7]"}}, false},
		{`"john q"@public.example`, []Address{{Mailbox: `"john q"`, Host: "public.example"}}, false},
		{"=?utf-8?Q?J=C3=BCrgen?= <j@x.de>", []Address{{Name: "=?utf-8?Q?J=C3=BCrgen?=", Mailbox: "j", Host: "x.de"}}, false},
		{"first . last @ example . org", []Address{{Mailbox: "first.last", Host: "example.org"}}, false},
		{"Nobody <>", nil, false},
		{"", nil, false},
		{", ,a@b,,", []Address{{Mailbox: "a", Host: "b"}}, false},
		{"Unterminated <a@b", []Address{{Name: "Unterminated", Mailbox: "a", Host: "b"}}, true},
		{`"unterminated <a@b>`, []Address{{Name: "unterminated", Mailbox: "a", Host: "b"}}, true},
		{"a@b@c", []Address{{Mailbox: "a@b", Host: "c"}}, true},
		{"no domain", []Address{{Mailbox: "no domain"}}, true},
		{"G: H: x@y;", []Address{{Mailbox: "G", GroupStart: true}, {Mailbox: "H"}, {Mailbox: "x", Host: "y"}, {GroupEnd: true}}, true},
	}
	for _, tt := range tests {
		got, bad := parseAddressList(tt.in, maxAddrs)
		if !reflect.DeepEqual(got, tt.want) || bad != tt.bad {
			t.Errorf("parseAddressList(%q) =\n\t%+v, %v\nwant\n\t%+v, %v", tt.in, got, bad, tt.want, tt.bad)
		}
	}
}

func TestEnvelope(t *testing.T) {
	info := Parse(readFixture(t, "groups.eml"))
	e := info.Envelope
	if len(e.Sender) != 1 || e.Sender[0] != e.From[0] {
		t.Errorf("empty Sender not set to From: %+v", e.Sender)
	}
	if len(e.ReplyTo) != 1 || e.ReplyTo[0] != e.From[0] {
		t.Errorf("absent Reply-To not set to From: %+v", e.ReplyTo)
	}
	info = Parse(readFixture(t, "encoded-words.eml"))
	if want := "=?UTF-8?B?8J+OiSBQYXJ0eQ==?= =?UTF-8?Q?_am_Fr=C3=BChling?= and =?ISO-8859-1?Q?caf=E9?="; info.Envelope.Subject != want {
		t.Errorf("raw subject = %q, want %q", info.Envelope.Subject, want)
	}
	if want := "🎉 Party am Frühling and café"; info.Subject != want {
		t.Errorf("Subject = %q, want %q", info.Subject, want)
	}
	if want := "André Pirard <PIRARD@vm1.ulg.ac.be>"; info.From != want {
		t.Errorf("From = %q, want %q", info.From, want)
	}
	if want := time.Date(2025, 11, 9, 10, 12, 13, 0, time.UTC); !info.Date.Equal(want) {
		t.Errorf("Date = %v", info.Date)
	}
	if info.MessageID != "enc@example.de" {
		t.Errorf("MessageID = %q", info.MessageID)
	}
	checkWords(t, "To", info.Search.To+" "+info.Search.Cc, "jürgen", "müller", "juergen", "李明", "li", "example", "de", "cn")
	checkWords(t, "Subject", info.Search.Subject, "party", "frühling", "café")
}

func TestTextAndPreview(t *testing.T) {
	info := Parse(readFixture(t, "alternative.eml"))
	if want := "Your order \u201cWidget\u201d has shipped. It will arrive on Friday. Track it here: https://shop.example/track?id=42&x=1"; info.Preview != want {
		t.Errorf("Preview = %q, want %q", info.Preview, want)
	}
	checkNoWords(t, "Body", info.Search.Body, "p", "color", "red", "alert", "shipped_") // markup, style, script
	checkWords(t, "Body", info.Search.Body, "widget", "friday", "track", "42")
	info = Parse(readFixture(t, "mixed-nested.eml"))
	checkWords(t, "Header", info.Search.Header, "report", "pdf", "notes", "txt", "content", "type")
	checkWords(t, "Cc", info.Search.From+" "+info.Search.To+" "+info.Search.Cc, "dave", "frank", "example", "com")
	// HTML only: the preview comes from the stripped HTML.
	raw := []byte("Content-Type: text/html\r\n\r\n<html><head><style>x{}</style></head><body><p>Hello&nbsp;<b>there</b>,\u200b\u200b friend &amp; co.</p></body></html>")
	if got := Parse(raw).Preview; got != "Hello there, friend & co." {
		t.Errorf("HTML preview = %q", got)
	}
	// The preview is cut, at a rune boundary.
	big := "Subject: big\r\n\r\n" + strings.Repeat("é", 1<<20)
	info = Parse([]byte(big))
	if n := utf8.RuneCountInString(info.Preview); n != previewLen {
		t.Errorf("Preview has %d runes", n)
	}
}

func TestParams(t *testing.T) {
	info := Parse(readFixture(t, "rfc2231.eml"))
	tests := []struct {
		path     int
		filename string
		param    [2]string // expected joined parameter, in DispositionParams or Params
	}{
		{1, "€ rates and fees.pdf", [2]string{"filename*", "utf-8''%E2%82%AC%20rates%20and%20fees.pdf"}},
		{2, "£rates.txt", [2]string{"name*", "iso-8859-1'en'%A3rates.txt"}},
		{3, "plan.txt", [2]string{"filename", `C:\Users\me\plan.txt`}},
		{4, "", [2]string{"title", "long title"}},
	}
	for _, tt := range tests {
		p, _ := info.Part.Find([]int{tt.path})
		if p.Filename != tt.filename {
			t.Errorf("part %d: Filename = %q, want %q", tt.path, p.Filename, tt.filename)
		}
		all := append(append([][2]string{}, p.Params...), p.DispositionParams...)
		found := false
		for _, kv := range all {
			found = found || kv == tt.param
		}
		if !found {
			t.Errorf("part %d: no %q in %q", tt.path, tt.param, all)
		}
	}

	mt := []struct {
		in       string
		typ, sub string
		params   [][2]string
		ok       bool
	}{
		{"text/plain", "text", "plain", nil, true},
		{`Text/HTML; Charset="UTF-8"`, "text", "html", [][2]string{{"charset", "UTF-8"}}, true},
		{"text/html charset=utf-8", "text", "html", [][2]string{{"charset", "utf-8"}}, true},
		{"text/plain; charset=us-ascii (Plain text)", "text", "plain", [][2]string{{"charset", "us-ascii"}}, true},
		{"text/plain; charset=utf-8 format=flowed", "text", "plain", [][2]string{{"charset", "utf-8"}, {"format", "flowed"}}, true},
		{"multipart/mixed; boundary=----=_Part_1_2.3", "multipart", "mixed", [][2]string{{"boundary", "----=_Part_1_2.3"}}, true},
		{"application/octet-stream; name=my file.pdf", "application", "octet-stream", [][2]string{{"name", "my file.pdf"}}, true},
		{`a/b; x="unterminated`, "a", "b", [][2]string{{"x", "unterminated"}}, true},
		{"(comment) text/plain", "text", "plain", nil, true},
		{"text", "", "", nil, false},
		{"", "", "", nil, false},
	}
	for _, tt := range mt {
		typ, sub, params, ok := parseMediaType(tt.in, maxParams)
		if typ != tt.typ || sub != tt.sub || ok != tt.ok || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("parseMediaType(%q) = %q, %q, %q, %v", tt.in, typ, sub, params, ok)
		}
	}
}

func TestDates(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time // zero: unparseable
	}{
		{"Tue, 4 Nov 2025 10:59:01 +0100", utc(2025, 11, 4, 9, 59, 1)},
		{"4 Nov 2025 10:59:01 +0100", utc(2025, 11, 4, 9, 59, 1)},
		{"Tue, 04 Nov 2025 10:59 +0100", utc(2025, 11, 4, 9, 59, 0)},
		{"Sun, 9 Nov 2025 11:12:13 +0100 (CET)", utc(2025, 11, 9, 10, 12, 13)},
		{"Sat, 08 Nov 2025 23:59:59 EST", utc(2025, 11, 9, 4, 59, 59)},
		{"8 Nov 2025 10:00 GMT", utc(2025, 11, 8, 10, 0, 0)},
		{"Mon, 3 Nov 25 17:30:00 -0800", utc(2025, 11, 4, 1, 30, 0)},
		{"Mon, 3 Nov 99 17:30:00 +0000", utc(1999, 11, 3, 17, 30, 0)},
		{"Mon Nov  3 17:30:00 2025", utc(2025, 11, 3, 17, 30, 0)},
		{"2025-11-03T17:30:00Z", utc(2025, 11, 3, 17, 30, 0)},
		{"2025-11-03 17:30:00 +0100", utc(2025, 11, 3, 16, 30, 0)},
		{"3-Nov-2025 17:30:00 GMT+0200", utc(2025, 11, 3, 15, 30, 0)},
		{"03.11.2025 17:30", utc(2025, 11, 3, 17, 30, 0)},
		{"Monday, November 3, 2025 5:30:00 PM", utc(2025, 11, 3, 17, 30, 0)},
		{"Mon, 3 Nov 2025 17:30:60 +0000", utc(2025, 11, 3, 17, 30, 59)},
		{"31 Feb 2025 10:00:00 +0000", time.Time{}},
		{"Mon, 3 Nov 2025 25:30:00 +0000", time.Time{}},
		{"yesterday", time.Time{}},
		{"", time.Time{}},
		{"1 Jan 99999 00:00:00", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("parseDate(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	h := []byte("Subject: a\r\n b\r\nX-Y : z\r\nTo: c\r\n\r\n")
	var names, fields []string
	for name, f := range Fields(h) {
		names = append(names, name)
		fields = append(fields, string(f))
	}
	if want := []string{"Subject", "X-Y", "To"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %q", names)
	}
	if want := []string{"Subject: a\r\n b\r\n", "X-Y : z\r\n", "To: c\r\n"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %q", fields)
	}
	for range Fields(h) {
		break // stopping early must not panic
	}
}

func TestHeaderEdgeCases(t *testing.T) {
	tests := []struct {
		name, raw string
		bodyStart int
		problem   string
	}{
		{"blank first", "\r\nbody", 2, ""},
		{"mbox From", "From alice@x Tue Nov  4 10:00:00 2025\r\nSubject: s\r\n\r\nb", 53, "mbox"},
		{"missing blank line", "Subject: s\r\nThis is the body.\r\n", 12, "blank line"},
		{"whitespace line continues", "Subject: s\r\n \r\nTo: x@y\r\n\r\nb", 26, ""},
		{"orphan continuation", " orphan\r\nSubject: s\r\n\r\nb", 23, "continuation"},
		{"no newline", "Subject: s", 10, ""},
	}
	for _, tt := range tests {
		info := Parse([]byte(tt.raw))
		checkInvariants(t, []byte(tt.raw), info)
		if info.Part.BodyStart != int64(tt.bodyStart) {
			t.Errorf("%s: BodyStart = %d, want %d", tt.name, info.Part.BodyStart, tt.bodyStart)
		}
		probs := strings.Join(info.Problems, "; ")
		if (tt.problem == "") != (probs == "") || !strings.Contains(probs, tt.problem) {
			t.Errorf("%s: problems %q, want one with %q", tt.name, probs, tt.problem)
		}
	}
}

// TestCleanMail checks that well-formed fixtures report no problems.
func TestCleanMail(t *testing.T) {
	for _, f := range []string{"simple.eml", "alternative.eml", "mixed-nested.eml", "rfc822.eml", "groups.eml", "route.eml", "encoded-words.eml", "rfc2231.eml", "digest.eml"} {
		if p := Parse(readFixture(t, f)).Problems; len(p) > 0 {
			t.Errorf("%s: problems %q", f, p)
		}
	}
	for _, f := range []string{"missing-boundary.eml", "crcrlf.eml", "bare-lf.eml", "no-headers.eml", "8bit-headers.eml", "broken-structure.eml"} {
		if p := Parse(readFixture(t, f)).Problems; len(p) == 0 {
			t.Errorf("%s: no problems noted", f)
		}
	}
}

func TestLimits(t *testing.T) {
	// Deep multipart nesting.
	var b strings.Builder
	for i := range 200 {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n--b" + itoa(i) + "\r\n")
	}
	b.WriteString("\r\nleaf\r\n")
	info := Parse([]byte(b.String()))
	checkInvariants(t, []byte(b.String()), info)
	depth := 0
	for p := &info.Part; len(p.Parts) > 0; p = &p.Parts[0] {
		depth++
	}
	if depth > maxDepth+1 {
		t.Errorf("depth %d", depth)
	}

	// Deep message/rfc822 nesting.
	raw := strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 500) + "body"
	info = Parse([]byte(raw))
	checkInvariants(t, []byte(raw), info)

	// Many parts.
	b.Reset()
	b.WriteString("Content-Type: multipart/mixed; boundary=x\r\n\r\n")
	for range maxParts + 500 {
		b.WriteString("--x\r\n\r\np\r\n")
	}
	b.WriteString("--x--\r\n")
	info = Parse([]byte(b.String()))
	checkInvariants(t, []byte(b.String()), info)
	if n := len(info.Part.Parts); n >= maxParts {
		t.Errorf("%d parts", n)
	}

	// A huge header line is cut to the limits (its parse time is in
	// BenchmarkHostileInputs).
	raw = hugeHeader
	info = Parse([]byte(raw))
	if len(info.Envelope.To) != maxAddrs {
		t.Errorf("%d To addresses, want the first %d", len(info.Envelope.To), maxAddrs)
	}
	if len(info.Subject) > maxDisplay+3 {
		t.Errorf("Subject is %d bytes", len(info.Subject))
	}
}

// hugeHeader is one 8 MiB Subject line and a To line of 200,000 addresses.
var hugeHeader = "Subject: " + strings.Repeat("x", 8<<20) + "\r\nTo: " + strings.Repeat("a@b, ", 200000) + "\r\n\r\nbody"

// hostileInputs are inputs of about 1 MiB × scale, each built to defeat a
// naive scanner (quadratic behaviour).
func hostileInputs(scale int) map[string]string {
	n := scale << 20
	rep := strings.Repeat
	return map[string]string{
		"dash boundary":     "Content-Type: multipart/mixed; boundary=-\r\n\r\n" + rep("-", 2*n),
		"unclosed heads":    "Content-Type: text/html\r\n\r\n" + rep("<head>", n/4) + rep("</x>", n/4),
		"escaped quotes":    "To: " + rep(`\"`, n) + "\r\n\r\n",
		"route starts":      "To: " + rep("<@", n) + "\r\n\r\n",
		"params without ;":  "Content-Type: text/plain; " + rep("a=1 ", n/2) + "\r\n\r\n",
		"quoted params":     "Content-Type: text/plain; " + rep(`a="x"`, n/2) + "\r\n\r\n",
		"encoded word ends": "Subject: " + rep("=?", n) + "\r\n\r\n",
		"comments":          "From: " + rep("(", n) + rep(")", n) + "\r\n\r\n",
		"date tokens":       "Date: " + rep("1:1 ", n/2) + "\r\n\r\n",
		"empty fields":      rep("a:\r\n", n/2) + "\r\n",
		"many boundaries":   "Content-Type: multipart/mixed; boundary=x\r\n\r\n" + rep("--x\r\n", n/4),
		"deep nesting": func() string {
			var b strings.Builder
			for i := range 60 {
				b.WriteString("Content-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n--b" + itoa(i) + "\r\n")
			}
			return b.String() + "\r\n" + rep("text ", n/2)
		}(),
		"html tags":   "Content-Type: text/html\r\n\r\n" + rep("<a", n/2) + rep("<style>", n/8),
		"many lines":  "Subject: x\r\n\r\n" + rep("\n", 4*n),
		"huge header": hugeHeader,
	}
}

// TestHostileInputs checks that inputs built against a naive scanner still
// parse to a consistent result. Their speed is measured, not asserted, by
// BenchmarkHostileInputs: a quadratic scanner shows there as ns/byte growing
// fourfold between the 1 MiB and 4 MiB sizes.
func TestHostileInputs(t *testing.T) {
	for name, raw := range hostileInputs(1) {
		t.Run(name, func(t *testing.T) {
			checkInvariants(t, []byte(raw), Parse([]byte(raw)))
		})
	}
}
