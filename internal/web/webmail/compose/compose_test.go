package compose

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"

	"github.com/xtramail/xtramail/internal/message"
)

var date = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)

func original(t *testing.T, raw string) Original {
	t.Helper()
	b := []byte(strings.ReplaceAll(raw, "\n", "\r\n"))
	return Original{Raw: b, Info: message.Parse(b)}
}

// strictParse reads a built message with go-message, which fails on
// malformed MIME, and returns its header and parts (type, filename, body).
type part struct {
	typ, name string
	body      []byte
}

func strictParse(t *testing.T, raw []byte) (gomail.Header, []part) {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message cannot read the built message: %v\n%s", err, raw)
	}
	var parts []part
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v\n%s", err, raw)
		}
		b, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		var pt part
		switch h := p.Header.(type) {
		case *gomail.InlineHeader:
			pt.typ, _, _ = h.ContentType()
		case *gomail.AttachmentHeader:
			pt.typ, _, _ = h.ContentType()
			pt.name, _ = h.Filename()
		}
		pt.body = b
		parts = append(parts, pt)
	}
	return r.Header, parts
}

func TestBuildRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		draft Draft
		parts []part
	}{
		{"plain ascii", Draft{
			From: Address{"Demo User", "demo@example.test"}, To: []Address{{"", "bob@example.org"}},
			Subject: "Hello", Text: "Hi Bob,\nsee you.\n"},
			[]part{{typ: "text/plain", body: []byte("Hi Bob,\r\nsee you.\r\n")}}},
		{"8-bit text and long line", Draft{
			From: Address{"Zoë Ünïcode", "demo@example.test"}, To: []Address{{"Jürgen", "j@example.org"}},
			Subject: "Grüße — naïve café", Text: "Grüße\n" + strings.Repeat("long ", 60)},
			[]part{{typ: "text/plain", body: []byte("Grüße\r\n" + strings.TrimSpace(strings.Repeat("long ", 60)) + "\r\n")}}},
		{"attachments with RFC 2231 names", Draft{
			From: Address{"", "demo@example.test"}, To: []Address{{"", "bob@example.org"}},
			Cc: []Address{{"Carol", "carol@example.org"}}, Bcc: []Address{{"", "secret@example.org"}},
			Subject: "files", Text: "two files",
			Attachments: []Attachment{
				{Filename: "Rapport écrit – 2026.pdf", Data: []byte("%PDF-1.4 fake\x00\xff")},
				{Filename: `C:\Users\x\notes.txt`, ContentType: "text/plain; charset=utf-8", Data: []byte("plain notes\n")},
			}},
			[]part{{typ: "text/plain", body: []byte("two files\r\n")},
				{typ: "application/pdf", name: "Rapport écrit – 2026.pdf", body: []byte("%PDF-1.4 fake\x00\xff")},
				{typ: "text/plain", name: "notes.txt", body: []byte("plain notes\n")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := Build(tc.draft, date, "abc123@example.test")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) || bytes.Contains(raw, []byte("\r\r")) {
				t.Fatalf("line endings not CRLF:\n%q", raw)
			}
			for _, l := range strings.Split(string(raw), "\r\n") {
				if len(l) > 998 {
					t.Fatalf("line of %d bytes", len(l))
				}
			}
			h, parts := strictParse(t, raw)
			if got, _ := h.Subject(); got != tc.draft.Subject {
				t.Errorf("subject %q, want %q", got, tc.draft.Subject)
			}
			if got, _ := h.MessageID(); got != "abc123@example.test" {
				t.Errorf("message-id %q", got)
			}
			if got, _ := h.Date(); !got.Equal(date) {
				t.Errorf("date %v", got)
			}
			from, _ := h.AddressList("From")
			if len(from) != 1 || from[0].Address != tc.draft.From.Addr || from[0].Name != tc.draft.From.Name {
				t.Errorf("from %v", from)
			}
			if len(parts) != len(tc.parts) {
				t.Fatalf("%d parts, want %d", len(parts), len(tc.parts))
			}
			for i, p := range parts {
				w := tc.parts[i]
				if p.typ != w.typ || p.name != w.name || !bytes.Equal(p.body, w.body) {
					t.Errorf("part %d: %q %q %q, want %q %q %q", i, p.typ, p.name, p.body, w.typ, w.name, w.body)
				}
			}
			// Our own parser reads the same: the one the store uses.
			info := message.Parse(raw)
			if len(info.Problems) > 0 {
				t.Errorf("message.Parse problems: %v", info.Problems)
			}
			if info.Subject != tc.draft.Subject || info.MessageID != "abc123@example.test" {
				t.Errorf("message.Parse: subject %q id %q", info.Subject, info.MessageID)
			}
			var names []string
			walk(&info.Part, func(p *message.Part) {
				if p.Filename != "" {
					names = append(names, p.Filename)
				}
			})
			var want []string
			for _, p := range tc.parts {
				if p.name != "" {
					want = append(want, p.name)
				}
			}
			if !slices.Equal(names, want) {
				t.Errorf("message.Parse filenames %q, want %q", names, want)
			}
			if len(tc.draft.Bcc) > 0 && len(info.Envelope.Bcc) != len(tc.draft.Bcc) {
				t.Errorf("Bcc not kept in the built message (the Sent copy needs it)")
			}
		})
	}
}

func TestBuildNeedsFrom(t *testing.T) {
	if _, err := Build(Draft{Text: "x"}, date, "a@b"); err != ErrNoFrom {
		t.Fatalf("err %v", err)
	}
}

const origPlain = `From: Alice <alice@example.org>
Reply-To: Alice Lists <alice-lists@example.org>
To: Demo <demo@example.test>, Bob <bob@example.org>, "Carol" <carol@example.org>
Cc: DEMO@example.test, dave@example.org, bob@example.org
Subject: Re: RE: Aw: Quarterly figures
Date: Fri, 04 Dec 2026 09:15:00 +0000
Message-ID: <m3@example.org>
In-Reply-To: <m2@example.org>
References: <m1@example.org> <m2@example.org>
Content-Type: text/plain; charset=utf-8

Here are the figures.
> earlier quote
Thanks
`

func TestReply(t *testing.T) {
	o := original(t, origPlain)
	cases := []struct {
		name   string
		self   string
		all    bool
		to, cc []string
	}{
		{"reply goes to Reply-To", "demo@example.test", false, []string{"alice-lists@example.org"}, nil},
		{"reply-all: Reply-To, others in Cc, self and duplicates out", "demo@example.test", true,
			[]string{"alice-lists@example.org"}, []string{"bob@example.org", "carol@example.org", "dave@example.org"}},
		{"reply-all by a Cc'd user", "dave@example.org", true,
			[]string{"alice-lists@example.org"}, []string{"demo@example.test", "bob@example.org", "carol@example.org"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Reply(o, tc.self, tc.all)
			if got := addrs(d.To); !slices.Equal(got, tc.to) {
				t.Errorf("To %q, want %q", got, tc.to)
			}
			if got := addrs(d.Cc); !slices.Equal(got, tc.cc) {
				t.Errorf("Cc %q, want %q", got, tc.cc)
			}
			if d.Subject != "Re: Quarterly figures" {
				t.Errorf("subject %q", d.Subject)
			}
			if d.InReplyTo != "m3@example.org" || !slices.Equal(d.References, []string{"m1@example.org", "m2@example.org", "m3@example.org"}) {
				t.Errorf("In-Reply-To %q References %q", d.InReplyTo, d.References)
			}
			if !strings.Contains(d.Text, "On Fri, 4 Dec 2026 at 09:15, Alice <alice@example.org> wrote:\n> Here are the figures.\n>> earlier quote\n> Thanks\n") {
				t.Errorf("quoted text:\n%s", d.Text)
			}
			raw, err := Build(d, date, NewMessageID(tc.self))
			if err != nil {
				t.Fatal(err)
			}
			info := message.Parse(raw)
			if info.Envelope.InReplyTo != "<m3@example.org>" || !slices.Equal(info.References, []string{"m1@example.org", "m2@example.org", "m3@example.org"}) {
				t.Errorf("built reply: In-Reply-To %q References %q", info.Envelope.InReplyTo, info.References)
			}
			if !strings.HasSuffix(info.MessageID, "@"+tc.self[strings.IndexByte(tc.self, '@')+1:]) {
				t.Errorf("message id %q not in the sender's domain", info.MessageID)
			}
		})
	}
}

func TestReplyEdgeCases(t *testing.T) {
	t.Run("no Reply-To: to From", func(t *testing.T) {
		o := original(t, "From: Alice <alice@example.org>\nTo: demo@example.test\nSubject: hi\nMessage-ID: <x1@example.org>\n\nbody\n")
		d := Reply(o, "demo@example.test", true)
		if got := addrs(d.To); !slices.Equal(got, []string{"alice@example.org"}) || len(d.Cc) != 0 {
			t.Errorf("To %q Cc %q", got, addrs(d.Cc))
		}
		if d.Subject != "Re: hi" || !slices.Equal(d.References, []string{"x1@example.org"}) {
			t.Errorf("subject %q references %q", d.Subject, d.References)
		}
	})
	t.Run("reply to own sent message goes to its recipients", func(t *testing.T) {
		o := original(t, "From: Demo <demo@example.test>\nTo: bob@example.org\nCc: carol@example.org, demo@example.test\nSubject: plan\n\nbody\n")
		d := Reply(o, "demo@example.test", true)
		if got := addrs(d.To); !slices.Equal(got, []string{"bob@example.org"}) || !slices.Equal(addrs(d.Cc), []string{"carol@example.org"}) {
			t.Errorf("To %q Cc %q", got, addrs(d.Cc))
		}
	})
	t.Run("In-Reply-To only: References from it", func(t *testing.T) {
		o := original(t, "From: a@example.org\nSubject: x\nMessage-ID: <b@example.org>\nIn-Reply-To: <a@example.org>\n\nbody\n")
		d := Reply(o, "demo@example.test", false)
		if !slices.Equal(d.References, []string{"a@example.org", "b@example.org"}) {
			t.Errorf("references %q", d.References)
		}
	})
	t.Run("HTML only is quoted as text", func(t *testing.T) {
		o := original(t, "From: a@example.org\nSubject: x\nContent-Type: text/html\n\n<p>Hello <b>there</b></p>\n")
		d := Reply(o, "demo@example.test", false)
		if !strings.Contains(d.Text, "> Hello there") {
			t.Errorf("text %q", d.Text)
		}
	})
	t.Run("encoded display names decoded", func(t *testing.T) {
		o := original(t, "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\nSubject: x\n\nbody\n")
		d := Reply(o, "demo@example.test", false)
		if len(d.To) != 1 || d.To[0].Name != "Jürgen" {
			t.Errorf("To %+v", d.To)
		}
	})
	t.Run("long References trimmed, root kept", func(t *testing.T) {
		var refs []string
		for i := range 40 {
			refs = append(refs, "<r"+string(rune('a'+i%26))+strings.Repeat("x", i)+"@example.org>")
		}
		o := original(t, "From: a@example.org\nSubject: x\nMessage-ID: <last@example.org>\nReferences: "+strings.Join(refs, " ")+"\n\nbody\n")
		d := Reply(o, "demo@example.test", false)
		raw, err := Build(d, date, "id@example.test")
		if err != nil {
			t.Fatal(err)
		}
		got := message.Parse(raw).References
		if len(got) != maxReferences || got[0] != strings.Trim(refs[0], "<>") || got[len(got)-1] != "last@example.org" {
			t.Errorf("references %d: first %q last %q", len(got), got[0], got[len(got)-1])
		}
	})
}

func TestSubjects(t *testing.T) {
	for in, want := range map[string]string{
		"hello": "Re: hello", "Re: hello": "Re: hello", "RE: re: hello": "Re: hello",
		"Re[2]: hello": "Re: hello", "AW: SV: hello": "Re: hello", "": "Re: ", "Fwd: x": "Re: Fwd: x",
		"Regarding": "Re: Regarding",
	} {
		if got := replySubject(in); got != want {
			t.Errorf("replySubject(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"x": "Fwd: x", "Fwd: x": "Fwd: x", "FW: Fwd: x": "Fwd: x", "Re: x": "Fwd: Re: x"} {
		if got := forwardSubject(in); got != want {
			t.Errorf("forwardSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

const origWithAttachment = `From: Alice <alice@example.org>
To: demo@example.test
Subject: Report
Date: Fri, 04 Dec 2026 09:15:00 +0000
Message-ID: <rep@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8

See the report.
--b2
Content-Type: text/html; charset=utf-8

<p>See the report.</p>
--b2--
--b1
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKZmFrZQ==
--b1--
`

func TestForward(t *testing.T) {
	o := original(t, origWithAttachment)
	t.Run("inline keeps the attachments", func(t *testing.T) {
		d := Forward(o, "demo@example.test", false)
		d.To = []Address{{"", "bob@example.org"}}
		if d.Subject != "Fwd: Report" || len(d.To) != 1 || d.InReplyTo != "" {
			t.Errorf("draft %+v", d)
		}
		if !strings.Contains(d.Text, "---------- Forwarded message ----------\nFrom: Alice <alice@example.org>\n") ||
			!strings.Contains(d.Text, "Subject: Report\n") || !strings.Contains(d.Text, "See the report.") {
			t.Errorf("text:\n%s", d.Text)
		}
		raw, err := Build(d, date, "f1@example.test")
		if err != nil {
			t.Fatal(err)
		}
		_, parts := strictParse(t, raw)
		if len(parts) != 2 || parts[1].name != "résumé.pdf" || parts[1].typ != "application/pdf" || string(parts[1].body) != "%PDF-1.4\nfake" {
			t.Fatalf("parts %+v", parts)
		}
	})
	t.Run("as attachment: the original whole, as message/rfc822", func(t *testing.T) {
		d := Forward(o, "demo@example.test", true)
		d.To = []Address{{"", "bob@example.org"}}
		raw, err := Build(d, date, "f2@example.test")
		if err != nil {
			t.Fatal(err)
		}
		_, parts := strictParse(t, raw)
		if len(parts) != 2 || parts[1].typ != "message/rfc822" || parts[1].name != "Report.eml" {
			t.Fatalf("parts %+v", parts)
		}
		if !bytes.Equal(bytes.TrimRight(parts[1].body, "\r\n"), bytes.TrimRight(o.Raw, "\r\n")) {
			t.Errorf("attached message differs from the original")
		}
		// The store's parser sees the embedded message and its attachment.
		info := message.Parse(raw)
		emb := info.Part.Parts[1].Message
		if emb == nil || emb.Envelope.Subject != "Report" {
			t.Fatalf("embedded message not parsed: %+v", info.Part.Parts[1])
		}
		var names []string
		walk(&emb.Part, func(p *message.Part) {
			if p.Filename != "" {
				names = append(names, p.Filename)
			}
		})
		if !slices.Equal(names, []string{"résumé.pdf"}) {
			t.Errorf("embedded attachments %q", names)
		}
	})
	t.Run("a subject with a slash names the file whole", func(t *testing.T) {
		// "Q3/Q4 plan" was attached as "Q4 plan.eml", the part before
		// the slash taken for a directory; the message page names the
		// attached message "Q3-Q4 plan.eml".
		o := original(t, "From: a@example.org\nSubject: Q3/Q4 plan\n\nplan\n")
		d := Forward(o, "demo@example.test", true)
		raw, err := Build(d, date, "f4@example.test")
		if err != nil {
			t.Fatal(err)
		}
		_, parts := strictParse(t, raw)
		if a := ForwardedAttachment(d.ForwardedName, 10, Shape{}, strings.NewReader("x")); len(parts) != 2 || parts[1].name != "Q3-Q4 plan.eml" || a.Filename != "Q3-Q4 plan.eml" {
			t.Fatalf("forwarded as %q, streamed as %q", parts[1].name, a.Filename)
		}
	})
	t.Run("a line over 998 bytes goes base64", func(t *testing.T) {
		o := original(t, "From: a@example.org\nSubject: wide\n\n"+strings.Repeat("w", 1500)+"\n")
		d := Forward(o, "demo@example.test", true)
		raw, err := Build(d, date, "f3@example.test")
		if err != nil {
			t.Fatal(err)
		}
		_, parts := strictParse(t, raw)
		if len(parts) != 2 || parts[1].typ != "application/octet-stream" || !bytes.Contains(parts[1].body, []byte(strings.Repeat("w", 1500))) {
			t.Fatalf("parts %d %q", len(parts), parts[1].typ)
		}
	})
	t.Run("a NUL goes base64", func(t *testing.T) {
		// Captured mail may hold one; submission refuses a message
		// that carries it (RFC 5322 2.3), so it is sent as a file.
		o := original(t, "From: a@example.org\nSubject: nul\n\nbefore\x00after\n")
		d := Forward(o, "demo@example.test", true)
		raw, err := Build(d, date, "f5@example.test")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			t.Fatalf("the built message holds a NUL:\n%q", raw)
		}
		_, parts := strictParse(t, raw)
		if len(parts) != 2 || parts[1].typ != "application/octet-stream" || !bytes.Contains(parts[1].body, []byte("before\x00after")) {
			t.Fatalf("parts %d %q", len(parts), parts[1].typ)
		}
	})
}

func TestParseAddressList(t *testing.T) {
	got, err := ParseAddressList(`"Smith, John" <john@example.org>; bob@example.org,, Zoë <z@example.org>`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Address{{"Smith, John", "john@example.org"}, {"", "bob@example.org"}, {"Zoë", "z@example.org"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseAddressList("bob@example.org, not an address"); err == nil || !strings.Contains(err.Error(), "not an address") {
		t.Errorf("err %v", err)
	}
	if back, _ := ParseAddressList(FormatAddressList(want)); !slices.Equal(back, want) {
		t.Errorf("format round trip %+v", back)
	}
	d := Draft{To: want[:2], Cc: []Address{{"", "BOB@example.org"}}, Bcc: want[2:]}
	if r := d.Recipients(); !slices.Equal(r, []string{"john@example.org", "bob@example.org", "z@example.org"}) {
		t.Errorf("recipients %q", r)
	}
}

func addrs(as []Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}

// TestDraftRoundTrip: a draft built, parsed back with Attachments and
// built again keeps every attachment, an attached message as
// message/rfc822 (never base64, RFC 2046 5.2.1) included.
func TestDraftRoundTrip(t *testing.T) {
	o := original(t, origWithAttachment)
	d := Forward(o, "demo@example.test", true)
	d.Attachments = []Attachment{{Filename: "a.txt", Data: []byte("A\n")}}
	raw, err := Build(d, date, "d1@example.test")
	if err != nil {
		t.Fatal(err)
	}
	back := Original{Raw: raw, Info: message.Parse(raw)}
	atts := Attachments(back)
	if len(atts) != 2 || atts[0].Filename != "a.txt" || atts[1].ContentType != "message/rfc822" || atts[1].Filename != "Report.eml" {
		t.Fatalf("attachments %+v", atts)
	}
	d2 := Draft{From: d.From, Subject: d.Subject, Text: BodyText(back), Attachments: atts}
	raw2, err := Build(d2, date, "d1@example.test")
	if err != nil {
		t.Fatal(err)
	}
	_, parts := strictParse(t, raw2)
	if len(parts) != 3 || parts[1].name != "a.txt" || parts[2].typ != "message/rfc822" {
		t.Fatalf("parts %+v", parts)
	}
	if bytes.Contains(raw2, []byte("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64")) {
		t.Fatal("message/rfc822 attached as base64")
	}
	if !bytes.Equal(bytes.TrimRight(parts[2].body, "\r\n"), bytes.TrimRight(o.Raw, "\r\n")) {
		t.Fatal("attached message changed on the way")
	}
}

// TestQuoteBounded: a reply to, or an inline forward of, a message of
// megabytes of text carries its first maxQuoted bytes, cut at a line's
// end, and says how much is left out; the draft's text stays small
// enough to post with every autosave. A line longer than the bound is
// cut between characters.
func TestQuoteBounded(t *testing.T) {
	line := strings.Repeat("Zahlen für das Quartal, Zeile um Zeile. ", 3) + "\n"
	long := strings.Repeat(line, 4<<20/len(line))
	for _, body := range []string{long, strings.Repeat("ü", 1<<20)} {
		o := original(t, "From: Alice <alice@example.org>\nTo: demo@example.test\nSubject: big\nMessage-ID: <big@example.org>\n"+
			"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"+body)
		reply := Reply(o, "demo@example.test", false)
		fwd := Forward(o, "demo@example.test", false)
		for name, text := range map[string]string{"reply": reply.Text, "forward": fwd.Text} {
			if len(text) > maxQuoted+maxQuoted/8+1024 {
				t.Errorf("%s of %d bytes: text of %d bytes", name, len(body), len(text))
			}
			if !utf8.ValidString(text) {
				t.Errorf("%s: text cut inside a character", name)
			}
		}
		if !strings.Contains(reply.Text, "more; it is not quoted here.]") || !strings.Contains(fwd.Text, "forward it as an attachment to send it whole.]") {
			t.Errorf("no word of what was left out:\n%s\n%s", reply.Text[len(reply.Text)-200:], fwd.Text[len(fwd.Text)-200:])
		}
		if body == long && !strings.HasSuffix(strings.TrimSuffix(reply.Text[:strings.LastIndex(reply.Text, "> [The original")], "\n"), "Zeile.") {
			t.Errorf("reply not cut at a line's end:\n%q", reply.Text[len(reply.Text)-300:])
		}
	}
	// A short message is quoted whole, with no such line.
	o := original(t, origPlain)
	if d := Reply(o, "demo@example.test", false); strings.Contains(d.Text, "not quoted here") {
		t.Errorf("short message:\n%s", d.Text)
	}
}

// TestQuoteAllTextParts: a reply quotes, and an inline forward carries,
// every inline text part in order (a mailing list's footer; a phone's
// text, photo, more text), one alternative of each multipart/alternative
// (the plain one), and still the text of an HTML-only message; files and
// embedded messages are not quoted.
func TestQuoteAllTextParts(t *testing.T) {
	cases := []struct {
		name, raw string
		want      []string // in this order
		not       []string
	}{
		{"list footer", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nFirst part.\n" +
			"--b\nContent-Type: text/plain\n\nSecond part.\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"_______________\nList f=C3=BCr alle\n--b--\n",
			[]string{"> First part.", "> Second part.", "> List für alle"}, nil},
		{"text after an inline image", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nLook at this:\n" +
			"--b\nContent-Type: image/jpeg\nContent-Disposition: inline; filename=p.jpg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n" +
			"--b\nContent-Type: text/plain\n\nNice, isn't it?\n--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=notes.txt\n\nattached notes\n" +
			"--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner text\n--b--\n",
			[]string{"> Look at this:", "> Nice, isn't it?"}, []string{"/9j/", "attached notes", "inner text"}},
		{"alternative then more", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=a\n\n" +
			"--a\nContent-Type: text/plain\n\nPlain version.\n--a\nContent-Type: text/html\n\n<p>HTML version.</p>\n--a--\n" +
			"--b\nContent-Type: text/html\n\n<p>Signed <b>later</b>.</p>\n--b--\n",
			[]string{"> Plain version.", "> Signed later."}, []string{"HTML version"}},
		{"HTML only", "Content-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<p>Only <i>HTML</i> here.</p>\n" +
			"--r\nContent-Type: image/png\nContent-ID: <logo>\n\nPNG\n--r--\n",
			[]string{"> Only HTML here."}, []string{"PNG"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := original(t, "From: Alice <alice@example.org>\nTo: demo@example.test\nSubject: parts\nMessage-ID: <p@example.org>\n"+tc.raw)
			reply := Reply(o, "demo@example.test", false).Text
			fwd := Forward(o, "demo@example.test", false).Text
			at := 0
			for _, w := range tc.want {
				i := strings.Index(reply[at:], w)
				if i < 0 {
					t.Fatalf("reply lacks %q after byte %d:\n%s", w, at, reply)
				}
				at += i + len(w)
				if !strings.Contains(fwd, strings.TrimPrefix(w, "> ")) {
					t.Errorf("inline forward lacks %q:\n%s", w, fwd)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(reply, n) || strings.Contains(fwd, n) {
					t.Errorf("quotes %q:\n%s\n%s", n, reply, fwd)
				}
			}
			// Streamed (the webmail's pages): Text is the QuotedText.
			s := Original{Info: o.Info, Text: BodyText(o)}
			if got := Reply(s, "demo@example.test", false).Text; got != reply {
				t.Errorf("streamed reply:\n%s\nwant\n%s", got, reply)
			}
		})
	}
	// Many text parts are quoted within the bound, as one is.
	var b strings.Builder
	b.WriteString("From: Alice <alice@example.org>\nSubject: many\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := range 40 {
		b.WriteString("--b\nContent-Type: text/plain\n\n")
		b.WriteString(strings.Repeat("Part "+strings.Repeat("x", i%7)+" line of text.\n", 20<<10/20))
	}
	b.WriteString("--b--\n")
	o := original(t, b.String())
	reply := Reply(o, "demo@example.test", false).Text
	if len(reply) > maxQuoted+maxQuoted/8+1024 || !strings.Contains(reply, "more; it is not quoted here.]") {
		t.Errorf("40 parts of 20 KiB: reply of %d bytes, ending %q", len(reply), reply[len(reply)-200:])
	}
}
