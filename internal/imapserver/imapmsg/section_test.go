package imapmsg

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

func fixture(t testing.TB, name string) ([]byte, *message.Info) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return raw, message.Parse(raw)
}

// sec builds a Section from its wire form, as the session gets it from
// imapwire ("1.2.HEADER.FIELDS (From To)", "" for the whole message).
func sec(t testing.TB, spec string) imapwire.Section {
	t.Helper()
	cmd := readCommand(t, "a FETCH 1 BODY["+spec+"]")
	return cmd.Args.(*imapwire.Fetch).Items[0].Section
}

func readCommand(t testing.TB, line string) *imapwire.Command {
	t.Helper()
	r := imapwire.NewReader(bufioReader(line+"\r\n"), imapwire.Options{})
	r.SetUTF8(true)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return cmd
}

func TestSection(t *testing.T) {
	rfc822, _ := fixture(t, "rfc822.eml")
	nested, _ := fixture(t, "mixed-nested.eml")
	nrfc, _ := fixture(t, "nested-rfc822.eml")
	headerOnly, _ := fixture(t, "header-only.eml")
	bareLF, _ := fixture(t, "bare-lf.eml")
	simple, _ := fixture(t, "simple.eml")
	noHeaders, _ := fixture(t, "no-headers.eml")

	// cut returns raw from the first occurrence of from up to and
	// including the first occurrence of to after it.
	cut := func(raw []byte, from, to string) string {
		i := bytes.Index(raw, []byte(from))
		j := bytes.Index(raw[i:], []byte(to))
		if i < 0 || j < 0 {
			t.Fatalf("fixture lacks %q...%q", from, to)
		}
		return string(raw[i : i+j+len(to)])
	}

	tests := []struct {
		name    string
		raw     []byte
		section string
		want    string
	}{
		{"whole", rfc822, "", string(rfc822)},
		{"header", rfc822, "HEADER", cut(rfc822, "Date:", "\r\n\r\n")},
		{"text", simple, "TEXT", "Hi Bob,\r\n\r\nLunch tomorrow at noon?\r\n\r\n-- \r\nAlice\r\n"},
		{"header.fields in message order", rfc822, "HEADER.FIELDS (Subject FROM x-none)",
			"From: Grace <grace@example.org>\r\nSubject: Fwd: two messages\r\n\r\n"},
		{"header.fields keeps folding", simple, "HEADER.FIELDS (subject)", "Subject: Lunch\r\n  tomorrow?\r\n\r\n"},
		{"header.fields repeated field", simple, "HEADER.FIELDS (Received Return-Path)",
			cut(simple, "Return-Path:", "12345\r\n") + "\tfor <bob@example.net>; Tue, 4 Nov 2025 10:00:00 +0000\r\n\r\n"},
		{"header.fields no match is the blank line", rfc822, "HEADER.FIELDS (X-Nothing)", "\r\n"},
		{"header.fields.not", rfc822, "HEADER.FIELDS.NOT (Date To Message-ID MIME-Version Content-Type)",
			"From: Grace <grace@example.org>\r\nSubject: Fwd: two messages\r\n\r\n"},
		{"header.fields without blank line", headerOnly, "HEADER.FIELDS (Date)", "Date: Wed, 12 Nov 2025 10:00:00 +0000"},
		{"header.fields bare LF", bareLF, "HEADER.FIELDS (Subject)", "Subject: bare LF\n\n"},
		{"no header at all", noHeaders, "HEADER", ""},
		{"no header fields", noHeaders, "HEADER.FIELDS (From)", ""},
		{"part 1 of single part", simple, "1", "Hi Bob,\r\n\r\nLunch tomorrow at noon?\r\n\r\n-- \r\nAlice\r\n"},
		{"part 1 MIME of single part is the header", simple, "1.MIME", cut(simple, "Return-Path:", "\r\n\r\n")},
		{"part", rfc822, "1", "Forwarding two messages."},
		{"MIME of a part", rfc822, "1.MIME", "Content-Type: text/plain\r\n\r\n"},
		{"MIME of nested part", nested, "1.2.2.MIME",
			"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <pic@example.com>\r\nContent-Disposition: inline\r\n\r\n"},
		{"nested part body", nested, "1.2.2", "iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"multipart part body", nested, "1.2", cut(nested, "--rel\r\nContent-Type: text/html", "--rel--")},
		{"message/rfc822 part is the embedded message", rfc822, "3",
			"From: Judy <judy@example.net>\r\nSubject: Embedded two\r\nReply-To: judy-list@example.net\r\n\r\nJust text."},
		{"MIME of message/rfc822 part", rfc822, "2.MIME", "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"},
		{"HEADER of embedded message", rfc822, "3.HEADER",
			"From: Judy <judy@example.net>\r\nSubject: Embedded two\r\nReply-To: judy-list@example.net\r\n\r\n"},
		{"TEXT of embedded message", rfc822, "2.TEXT", cut(rfc822, "--emb-alt\r\n", "--emb-alt--")},
		{"TEXT of embedded single part", rfc822, "3.TEXT", "Just text."},
		{"HEADER.FIELDS of embedded message", rfc822, "2.HEADER.FIELDS (subject)", "Subject: Embedded one\r\n\r\n"},
		{"part inside embedded multipart", rfc822, "2.2", "<p>Embedded <i>html</i>.</p>"},
		{"MIME inside embedded message", rfc822, "2.2.MIME", "Content-Type: text/html\r\n\r\n"},
		{"part 1 of embedded single part", rfc822, "3.1", "Just text."},
		{"two levels of embedding", nrfc, "2.2.TEXT", "caf=E9"},
		{"two levels, HEADER", nrfc, "2.2.HEADER.FIELDS (Subject)", "Subject: innermost\r\n\r\n"},
		{"message/global TEXT", nrfc, "2.3.TEXT", "Body of a message/global."},
		{"base64 message/rfc822 body as BODYSTRUCTURE shows it", nrfc, "3.1",
			"RnJvbTogZW5jQGV4YW1wbGUub3JnDQpTdWJqZWN0OiBlbmNvZGVkDQoNCmhpZGRlbiBib2R5DQo="},
		{"base64 message/rfc822 has no header", nrfc, "3.HEADER", ""},
		{"nonexistent part", rfc822, "9", ""},
		{"nonexistent nested part", rfc822, "1.1", ""},
		{"nonexistent deep part", nested, "1.2.3.4.5", ""},
		{"HEADER of a part that is not a message", rfc822, "1.HEADER", ""},
		{"TEXT of a part that is not a message", nested, "2.TEXT", ""},
		{"part 2 of single part", simple, "2", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := message.Parse(tc.raw)
			got, err := Section(tc.raw, info, sec(t, tc.section))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("BODY[%s]\n got %q\nwant %q", tc.section, got, tc.want)
			}
		})
	}
}

func TestSectionErrors(t *testing.T) {
	raw, info := fixture(t, "simple.eml")
	if _, err := Section(raw, info, imapwire.Section{Spec: imapwire.SectionMIME}); err == nil {
		t.Error("MIME without part: no error")
	}
	if _, err := Section(raw, info, imapwire.Section{Spec: 99}); err == nil {
		t.Error("unknown spec: no error")
	}
	if _, err := Section(raw, nil, imapwire.Section{}); err == nil {
		t.Error("nil info: no error")
	}
	if got, err := Section(raw, info, imapwire.Section{Part: []uint32{0}}); err != nil || len(got) != 0 {
		t.Errorf("part 0: %q, %v", got, err)
	}
}

// TestSectionNUL checks that NUL bytes, which a literal may not carry, are
// replaced without changing the length or the stored message.
func TestSectionNUL(t *testing.T) {
	raw := []byte("Subject: nul\r\n\r\na\x00b\x00\r\n")
	orig := bytes.Clone(raw)
	info := message.Parse(raw)
	for _, s := range []string{"", "TEXT", "1"} {
		got, err := Section(raw, info, sec(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(got, 0) >= 0 || !bytes.Contains(got, []byte("a\x80b\x80\r\n")) {
			t.Errorf("BODY[%s] = %q", s, got)
		}
	}
	if s, _ := Section(raw, info, imapwire.Section{}); len(s) != len(raw) {
		t.Errorf("length changed: %d != %d", len(s), len(raw))
	}
	if !bytes.Equal(raw, orig) {
		t.Error("raw message modified")
	}
	b, err := Binary(raw, info, []uint32{1})
	if err != nil || string(b) != "a\x00b\x00\r\n" || !NeedsLiteral8(b) {
		t.Errorf("BINARY[1] = %q, %v", b, err)
	}
}

func TestPartial(t *testing.T) {
	b := []byte("0123456789")
	tests := []struct {
		p    *imapwire.Partial
		want string
	}{
		{nil, "0123456789"},
		{&imapwire.Partial{Offset: 0, Count: 4}, "0123"},
		{&imapwire.Partial{Offset: 3, Count: 4}, "3456"},
		{&imapwire.Partial{Offset: 8, Count: 4}, "89"},
		{&imapwire.Partial{Offset: 9, Count: 1}, "9"},
		{&imapwire.Partial{Offset: 10, Count: 1}, ""},
		{&imapwire.Partial{Offset: 1 << 62, Count: 1}, ""},
		{&imapwire.Partial{Offset: 2, Count: 1<<64 - 1}, "23456789"},
	}
	for _, tc := range tests {
		if got := Partial(b, tc.p); string(got) != tc.want {
			t.Errorf("Partial(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
	// A partial of a section, as FETCH BODY[1.2.2.MIME]<10.20> does.
	raw, info := fixture(t, "mixed-nested.eml")
	s, err := Section(raw, info, sec(t, "1.2.2.MIME"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Partial(s, &imapwire.Partial{Offset: 14, Count: 9}); string(got) != "image/png" {
		t.Errorf("partial of MIME = %q", got)
	}
}

func TestBinary(t *testing.T) {
	nested, nestedInfo := fixture(t, "mixed-nested.eml")
	alt, altInfo := fixture(t, "alternative.eml")
	nrfc, nrfcInfo := fixture(t, "nested-rfc822.eml")
	ext, extInfo := fixture(t, "ext-fields.eml")

	pdf, err := Binary(nested, nestedInfo, []uint32{2})
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-1.4\n\x00\x01\x02")) || !NeedsLiteral8(pdf) {
		t.Errorf("BINARY[2] = %.20q, %v", pdf, err)
	}
	qp, err := Binary(alt, altInfo, []uint32{1})
	if want := "Your order “Widget” has shipped. \r\nIt will arrive on Friday. Track it here: https://shop.example/track?id=42&x=1"; err != nil || string(qp) != want {
		t.Errorf("BINARY[1] qp\n got %q\nwant %q", qp, want)
	}
	msg, err := Binary(nrfc, nrfcInfo, []uint32{3})
	if want := "From: enc@example.org\r\nSubject: encoded\r\n\r\nhidden body\r\n"; err != nil || string(msg) != want {
		t.Errorf("BINARY[3] base64 message/rfc822 = %q, %v", msg, err)
	}
	whole, err := Binary(alt, altInfo, nil)
	if err != nil || !bytes.Equal(whole, alt) {
		t.Errorf("BINARY[] is not the message: %v", err)
	}
	mp, err := Binary(nested, nestedInfo, []uint32{1})
	if err != nil || !strings.HasPrefix(string(mp), "--inner-alt\r\n") {
		t.Errorf("BINARY[1] of multipart = %.20q, %v", mp, err)
	}
	if b, err := Binary(alt, altInfo, []uint32{7}); err != nil || len(b) != 0 {
		t.Errorf("BINARY[7] = %q, %v", b, err)
	}
	_, err = Binary(ext, extInfo, []uint32{3})
	if !errors.Is(err, ErrUnknownCTE) || !errors.Is(err, message.ErrUnknownEncoding) {
		t.Errorf("x-uuencode: err = %v, want ErrUnknownCTE", err)
	}
	if _, err := Binary(ext, nil, []uint32{1}); err == nil {
		t.Error("nil info: no error")
	}
}
