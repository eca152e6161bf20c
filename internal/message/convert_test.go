package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// convert plans and writes the conversion of raw for need; nil when none
// is needed.
func convert(t *testing.T, raw []byte, need Need) ([]byte, error) {
	t.Helper()
	c, err := Plan(Parse(raw), bytes.NewReader(raw), need)
	if err != nil || c == nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := c.Write(&out, bytes.NewReader(raw)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out.Bytes(), nil
}

func convert7(t *testing.T, raw []byte) ([]byte, error) { return convert(t, raw, Need7Bit) }

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// TestSevenBitConversionDecodesBack: for varied MIME, the converted
// message is 7-bit with lines of at most 998 bytes (RFC 5321 4.5.3.1.6),
// has the same parts, and each part decodes to what the original's did.
func TestSevenBitConversionDecodesBack(t *testing.T) {
	binary := make([]byte, 0, 600)
	for i := range 600 {
		b := byte(0x80 + i%120)
		binary = append(binary, b)
	}
	long := strings.Repeat("Größe und Maß: ", 40) // one line of 600+ bytes
	cases := []struct {
		name string
		raw  []byte
		// encodings of the converted leaves, in order
		want []string
	}{
		{"plain message without MIME headers", crlf("From: a@example.test\nSubject: hi\n\nGrüße aus Köln.\n" + long + "\n"), []string{"QUOTED-PRINTABLE"}},
		{"text 8bit", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nÇa va? Très bien.  \nTrailing spaces above.\n"), []string{"QUOTED-PRINTABLE"}},
		{"mixed with html, binary and base64 parts", append(append(crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nnaïve café\n--b1\nContent-Type: text/html; charset=utf-8\n\n<p>señor</p>\n--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"),
			binary...), crlf("\n--b1\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nonly ascii here\n--b1--\n")...),
			[]string{"QUOTED-PRINTABLE", "QUOTED-PRINTABLE", "BASE64", "BASE64", "7BIT"}},
		{"nested alternative", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=outer\n\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\nK\xf6ln\n--inner\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n<b>K\xf6ln</b>\n--inner--\n--outer\nContent-Type: text/plain\n\nplain ascii\n--outer--\n"),
			[]string{"QUOTED-PRINTABLE", "QUOTED-PRINTABLE", "7BIT"}},
		{"embedded message", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nsee attached\n--m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nFrom: b@example.test\nSubject: inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nÜber alles.\n--m--\n"),
			[]string{"7BIT", "QUOTED-PRINTABLE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := convert7(t, tc.raw)
			if err != nil || out == nil {
				t.Fatalf("convert: %v (nil plan: %t)", err, out == nil)
			}
			for i, c := range out {
				if c >= 0x80 {
					t.Fatalf("byte %d of the converted message is 0x%x:\n%s", i, c, out)
				}
			}
			for line := range bytes.Lines(out) {
				if len(line) > 1000 {
					t.Fatalf("line of %d bytes", len(line))
				}
			}
			orig, conv := Parse(tc.raw), Parse(out)
			if len(conv.Problems) > 0 {
				t.Errorf("converted message has problems %v:\n%s", conv.Problems, out)
			}
			ol, cl := orig.Part.Leaves(), conv.Part.Leaves()
			if len(ol) != len(cl) {
				t.Fatalf("%d parts, converted %d:\n%s", len(ol), len(cl), out)
			}
			for i := range ol {
				want, _ := Decode(tc.raw, ol[i])
				got, err := Decode(out, cl[i])
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("part %d decodes to %q (%v), want %q", i+1, got, err, want)
				}
				if i < len(tc.want) && cl[i].Encoding != tc.want[i] {
					t.Errorf("part %d encoding %s, want %s", i+1, cl[i].Encoding, tc.want[i])
				}
				if ol[i].Type != cl[i].Type || ol[i].Subtype != cl[i].Subtype || ol[i].Param("charset") != cl[i].Param("charset") {
					t.Errorf("part %d type %s/%s; %s, want %s/%s; %s", i+1, cl[i].Type, cl[i].Subtype, cl[i].Param("charset"), ol[i].Type, ol[i].Subtype, ol[i].Param("charset"))
				}
			}
			if orig.MessageID != conv.MessageID || orig.Subject != conv.Subject {
				t.Errorf("header changed: %q %q", conv.MessageID, conv.Subject)
			}
			if !bytes.Contains(out, []byte("MIME-Version: 1.0\r\n")) {
				t.Errorf("no MIME-Version:\n%s", out)
			}
			if bytes.Count(bytes.ToLower(out[:conv.Part.BodyStart]), []byte("content-transfer-encoding")) > 1 {
				t.Errorf("two transfer encodings in the header:\n%s", out)
			}
		})
	}
}

// TestSevenBitNothingToDo: a 7-bit message needs no conversion, even
// with parts labelled 8bit.
func TestSevenBitNothingToDo(t *testing.T) {
	raw := crlf("From: a@example.test\nContent-Transfer-Encoding: 8bit\n\nascii only\n")
	if out, err := convert7(t, raw); err != nil || out != nil {
		t.Fatalf("7-bit message: %q, %v; want no conversion", out, err)
	}
}

// TestSevenBitRefused: what cannot be converted says so.
func TestSevenBitRefused(t *testing.T) {
	for name, raw := range map[string][]byte{
		"8-bit Subject":            crlf("From: a@example.test\nSubject: Grüße\n\nhi\n"),
		"8-bit part header":        crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; name=\"ü.txt\"\n\nhi\n--b--\n"),
		"8-bit in a base64 body":   crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGk\xff\n"),
		"8-bit in an inner header": crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\nSubject: ü\n\nx\n"),
	} {
		if _, err := convert7(t, raw); !errors.Is(err, ErrNeeds8Bit) {
			t.Errorf("%s: %v, want ErrNeeds8Bit", name, err)
		}
	}
}

// FuzzConvert: whatever the message, Plan does not panic, and a
// conversion it plans writes only 7-bit bytes (Need7Bit) and lines of at
// most MaxLine octets (NeedShortLines).
func FuzzConvert(f *testing.F) {
	f.Add(crlf("From: a@example.test\nSubject: x\n\nGrüße\n"))
	f.Add(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\xffpre\n--b\nContent-Type: text/plain\n\nü\n--b\nContent-Type: message/rfc822\n\nSubject: y\n\n\xe9\n--b--\n\xfe"))
	f.Add(crlf("Content-Type: multipart/alternative; boundary=z\n\nno delimiters \xc3\xa9\n"))
	f.Add(crlf("Subject: " + strings.Repeat("ab ", 400) + "\nContent-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("=3D ", 300) + "\n"))
	f.Add(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n" + strings.Repeat("QUJD", 300) + "\n--b--\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, need := range []Need{Need7Bit, NeedShortLines, Need7Bit | NeedShortLines} {
			c, err := Plan(Parse(raw), bytes.NewReader(raw), need)
			if err != nil || c == nil {
				continue
			}
			var out bytes.Buffer
			if err := c.Write(&out, bytes.NewReader(raw)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if i := bytes.IndexFunc(out.Bytes(), func(r rune) bool { return r >= 0x80 }); i >= 0 && need&Need7Bit != 0 {
				t.Fatalf("8-bit output at %d: %q", i, out.Bytes())
			}
			if need&NeedShortLines != 0 {
				for line := range bytes.Lines(out.Bytes()) {
					if n := len(bytes.TrimRight(line, "\r\n")) - bytes.Count(line, []byte("\r")) + bytes.Count(line[len(bytes.TrimRight(line, "\r\n")):], []byte("\r")); n > MaxLine {
						t.Fatalf("line of %d octets: %q", n, line)
					}
				}
			}
		}
	})
}

func convertShort(t *testing.T, raw []byte) ([]byte, error) { return convert(t, raw, NeedShortLines) }

// checkShort fails unless every line of out is at most MaxLine octets
// before its CRLF, and each line ends in CRLF.
func checkShort(t *testing.T, out []byte) {
	t.Helper()
	for i, line := range bytes.SplitAfter(out, []byte("\r\n")) {
		if n := len(bytes.TrimSuffix(line, []byte("\r\n"))); n > MaxLine {
			t.Fatalf("line %d of the converted message has %d octets", i+1, n)
		}
		if bytes.IndexByte(bytes.TrimSuffix(line, []byte("\r\n")), '\n') >= 0 {
			t.Fatalf("line %d of the converted message has a bare LF", i+1)
		}
	}
}

// checkSameContent fails unless conv has the parts of orig, each decoding
// to the same bytes with the same type, and the same header values.
func checkSameContent(t *testing.T, orig, conv []byte) {
	t.Helper()
	oi, ci := Parse(orig), Parse(conv)
	if len(ci.Problems) > len(oi.Problems) {
		t.Errorf("converted message has problems %v:\n%s", ci.Problems, conv)
	}
	ol, cl := oi.Part.Leaves(), ci.Part.Leaves()
	if len(ol) != len(cl) {
		t.Fatalf("%d parts, converted %d:\n%s", len(ol), len(cl), conv)
	}
	for i := range ol {
		want, _ := Decode(orig, ol[i])
		got, err := Decode(conv, cl[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("part %d (%s) decodes to %d bytes (%v), want %d:\n%q\nwant\n%q", i+1, cl[i].Encoding, len(got), err, len(want), got, want)
		}
		if ol[i].Type != cl[i].Type || ol[i].Subtype != cl[i].Subtype || ol[i].Param("charset") != cl[i].Param("charset") || ol[i].Filename != cl[i].Filename {
			t.Errorf("part %d is %s/%s; %s %q, want %s/%s; %s %q", i+1, cl[i].Type, cl[i].Subtype, cl[i].Param("charset"), cl[i].Filename,
				ol[i].Type, ol[i].Subtype, ol[i].Param("charset"), ol[i].Filename)
		}
	}
	if oi.Subject != ci.Subject || oi.MessageID != ci.MessageID || !slices.Equal(oi.References, ci.References) || oi.From != ci.From {
		t.Errorf("header changed: %q %q %d refs, want %q %q %d", ci.Subject, ci.MessageID, len(ci.References), oi.Subject, oi.MessageID, len(oi.References))
	}
}

// TestShortLines: a message with lines over 998 octets (RFC 5322 2.1.1)
// comes out with none, each part decoding to what it did; parts without
// long lines are untouched.
func TestShortLines(t *testing.T) {
	long := strings.Repeat("A line that goes on and on. ", 180) // 5040 octets
	b64 := base64Line(4000)
	words := strings.Repeat("word ", 400)
	refs := strings.Repeat("<a-long-message-id-for-the-references@example.test> ", 40)
	cases := []struct {
		name string
		raw  []byte
		want []string // encodings of the converted leaves
		same []int    // leaves (1-based) whose bytes must not change
	}{
		{"plain message without MIME headers", crlf("From: a@example.test\nSubject: hi\n\n" + long + "\nshort\n"), []string{"QUOTED-PRINTABLE"}, nil},
		{"alternative beside a base64 attachment", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\n" +
			"Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain; charset=utf-8\n\n" + long + "\n--a\n" +
			"Content-Type: text/html; charset=utf-8\n\n<p>" + long + "</p>\n--a--\n--m\nContent-Type: application/pdf; name=x.pdf\n" +
			"Content-Transfer-Encoding: base64\n\n" + wrap76(b64) + "--m--\n"),
			[]string{"QUOTED-PRINTABLE", "QUOTED-PRINTABLE", "BASE64"}, []int{3}},
		{"base64 on one line", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n" + b64 + "\n"), []string{"BASE64"}, nil},
		{"quoted-printable with a long line", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			strings.Repeat("Gr=C3=BC=C3=9Fe  und =3D Tsch=C3=BCss ", 100) + "end\n"), []string{"QUOTED-PRINTABLE"}, nil},
		{"embedded message", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nsee below\n--m\n" +
			"Content-Type: message/rfc822\n\nFrom: b@example.test\nSubject: inner " + words + "\n\n" + long + "\n--m--\n"), []string{"7BIT", "QUOTED-PRINTABLE"}, []int{1}},
		{"long header lines", crlf("From: a@example.test\nSubject: " + words + "\nReferences: " + refs + "\nMessage-ID: <m@x>\n\nshort body\n"), []string{"7BIT"}, []int{1}},
		{"application octet-stream in 7bit", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: application/json\n\n{\"k\": \"" + long + "\"}\n"), []string{"BASE64"}, nil},
		{"long preamble", crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n" + long + "\n--m\nContent-Type: text/plain\n\nhi\n--m--\n"), []string{"7BIT"}, []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := convertShort(t, tc.raw)
			if err != nil || out == nil {
				t.Fatalf("convert: %v (nil plan: %t)", err, out == nil)
			}
			checkShort(t, out)
			checkSameContent(t, tc.raw, out)
			ol, cl := Parse(tc.raw).Part.Leaves(), Parse(out).Part.Leaves()
			for i := range cl {
				if i < len(tc.want) && cl[i].Encoding != tc.want[i] {
					t.Errorf("part %d encoding %s, want %s", i+1, cl[i].Encoding, tc.want[i])
				}
			}
			for _, i := range tc.same {
				if !bytes.Equal(ol[i-1].Body(tc.raw), cl[i-1].Body(out)) {
					t.Errorf("part %d changed", i)
				}
			}
			if again, err := convertShort(t, out); err != nil || again != nil {
				t.Errorf("the converted message needs converting again: %v", err)
			}
		})
	}
}

// TestShortLinesNothingToDo: lines of exactly 998 octets are allowed.
func TestShortLinesNothingToDo(t *testing.T) {
	raw := crlf("From: a@example.test\nSubject: " + strings.Repeat("x", MaxLine-len("Subject: ")) + "\n\n" + strings.Repeat("y", MaxLine) + "\n")
	if out, err := convertShort(t, raw); err != nil || out != nil {
		t.Fatalf("998-octet lines: %q, %v; want no conversion", out, err)
	}
}

// TestShortLinesRefused: a header line without white space to fold at
// cannot be made short.
func TestShortLinesRefused(t *testing.T) {
	for name, raw := range map[string][]byte{
		"Subject without spaces":       crlf("From: a@example.test\nSubject: " + strings.Repeat("x", 1200) + "\n\nhi\n"),
		"part header":                  crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; name=\"" + strings.Repeat("n", 1100) + "\"\n\nhi\n--b--\n"),
		"multipart without delimiters": crlf("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("z", 2000) + "\n"),
	} {
		_, err := convertShort(t, raw)
		if !errors.Is(err, ErrLongLine) {
			t.Errorf("%s: %v, want ErrLongLine", name, err)
		}
	}
	_, err := convertShort(t, crlf("From: a@example.test\nSubject: "+strings.Repeat("x", 1200)+"\n\nhi\n"))
	if err == nil || !strings.Contains(err.Error(), "Subject") {
		t.Errorf("the error does not name the field: %v", err)
	}
}

// TestSevenBitAndShortLines: one plan for both, as the queue asks for a
// server without 8BITMIME.
func TestSevenBitAndShortLines(t *testing.T) {
	raw := crlf("From: a@example.test\nSubject: " + strings.Repeat("Grüße ", 1) + "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" +
		"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + strings.Repeat("Größe ", 300) + "\n--b\n" +
		"Content-Type: text/plain\n\n" + strings.Repeat("ascii ", 300) + "\n--b--\n")
	raw = bytes.Replace(raw, []byte("Grüße "), []byte("=?utf-8?q?Gr=C3=BC=C3=9Fe?="), 1)
	out, err := convert(t, raw, Need7Bit|NeedShortLines)
	if err != nil || out == nil {
		t.Fatalf("convert: %v", err)
	}
	checkShort(t, out)
	checkSameContent(t, raw, out)
	if i := bytes.IndexFunc(out, func(r rune) bool { return r >= 0x80 }); i >= 0 {
		t.Fatalf("8-bit output at %d", i)
	}
}

// TestShortLinesRandom: random messages (line lengths, parts, encodings,
// nesting) come out with every line short and every part decoding to
// what it did; a message needs converting exactly when it has a long line.
func TestShortLinesRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	converted := 0
	for i := range 300 {
		g := &randMsg{r: rnd}
		raw := g.message()
		hasLong := slices.ContainsFunc(bytes.Split(raw, []byte("\r\n")), func(l []byte) bool { return len(l) > MaxLine })
		out, err := convertShort(t, raw)
		if err != nil {
			t.Fatalf("message %d: %v\n%.3000s", i, err, raw)
		}
		if (out != nil) != hasLong {
			t.Fatalf("message %d: converted %t, has a long line %t", i, out != nil, hasLong)
		}
		if out == nil {
			continue
		}
		converted++
		checkShort(t, out)
		checkSameContent(t, raw, out)
	}
	if converted < 50 || converted > 290 {
		t.Errorf("%d of 300 random messages converted: the generator does not mix short and long lines", converted)
	}
}

// randMsg makes random messages.
type randMsg struct {
	r     *rand.Rand
	depth int
	n     int
}

// lineLen is a line length, often over the limit.
func (g *randMsg) lineLen() int {
	switch g.r.IntN(4) {
	case 0:
		return g.r.IntN(80)
	case 1:
		return MaxLine - 2 + g.r.IntN(5)
	case 2:
		return g.r.IntN(6000)
	}
	return g.r.IntN(1200)
}

// text is lines of printable text (UTF-8 when eight), ending in CRLF.
func (g *randMsg) text(eight bool) string {
	var b strings.Builder
	for range 1 + g.r.IntN(6) {
		n := g.lineLen()
		for b.Len(); n > 0; n-- {
			switch c := g.r.IntN(40); {
			case c == 0:
				b.WriteByte(' ')
			case c == 1 && eight:
				b.WriteString("é")
				n--
			case c == 2:
				b.WriteByte('=')
			case c == 3:
				b.WriteByte('.')
			default:
				b.WriteByte(byte('a' + c%26))
			}
		}
		b.WriteString("\r\n")
	}
	return b.String()
}

func (g *randMsg) leaf() string {
	g.n++
	switch g.r.IntN(6) {
	case 0:
		return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + g.text(true)
	case 1:
		return "Content-Type: text/html; charset=us-ascii\r\n\r\n<p>" + g.text(false)
	case 2:
		data := make([]byte, g.r.IntN(5000))
		for i := range data {
			data[i] = byte(g.r.IntN(256))
		}
		enc := base64.StdEncoding.EncodeToString(data)
		if g.r.IntN(2) == 0 {
			enc = wrap76(enc)
		} else {
			enc += "\r\n"
		}
		return fmt.Sprintf("Content-Type: application/octet-stream; name=\"f%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s", g.n, enc)
	case 3:
		// Quoted-printable whose lines are too long, but no white space
		// ends one.
		var b strings.Builder
		for range 1 + g.r.IntN(3) {
			for n := g.lineLen(); n > 0; n -= 3 {
				b.WriteString([]string{"ab", "=C3=A9", "x y", "=3D", "z"}[g.r.IntN(5)])
			}
			b.WriteString("q\r\n")
		}
		return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + b.String()
	case 4:
		if g.depth < 2 {
			g.depth++
			defer func() { g.depth-- }()
			return "Content-Type: message/rfc822\r\n\r\n" + g.header() + g.body()
		}
	}
	return "Content-Type: text/plain\r\n\r\n" + g.text(false)
}

func (g *randMsg) header() string {
	var subject strings.Builder
	for range g.r.IntN(300) {
		subject.WriteString(strings.Repeat("w", 1+g.r.IntN(12)) + " ")
	}
	return "From: a@example.test\r\nSubject: " + subject.String() + "end\r\n"
}

func (g *randMsg) body() string {
	if g.depth >= 2 || g.r.IntN(3) == 0 {
		if g.r.IntN(2) == 0 {
			return "\r\n" + g.text(false)
		}
		return "MIME-Version: 1.0\r\n" + g.leaf()
	}
	g.depth++
	defer func() { g.depth-- }()
	g.n++
	boundary := fmt.Sprintf("b%d", g.n)
	sub := []string{"mixed", "alternative", "related"}[g.r.IntN(3)]
	var b strings.Builder
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\nContent-Type: multipart/%s; boundary=%s\r\n\r\n", sub, boundary)
	if g.r.IntN(4) == 0 {
		b.WriteString(g.text(false))
	}
	for range 1 + g.r.IntN(4) {
		b.WriteString("--" + boundary + "\r\n")
		if g.r.IntN(4) == 0 {
			b.WriteString(strings.TrimPrefix(g.body(), "MIME-Version: 1.0\r\n"))
		} else {
			b.WriteString(g.leaf())
		}
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

func (g *randMsg) message() []byte { return []byte(g.header() + g.body()) }

func base64Line(n int) string {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return base64.StdEncoding.EncodeToString(data)
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

// TestScanLines: ScanLines finds what a byte-by-byte reading finds: a
// line over MaxLine octets before its line break, and the first NUL,
// in random messages (seeded) with long lines and NULs anywhere, at a
// line's start and end and beside its CR too.
func TestScanLines(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for range 2000 {
		var raw []byte
		for range rng.IntN(6) {
			n := rng.IntN(MaxLine + 3)
			if rng.IntN(3) > 0 {
				n = rng.IntN(80)
			}
			raw = append(raw, bytes.Repeat([]byte{'x'}, n)...)
			raw = append(raw, []string{"\r\n", "\n", "\r\r\n", ""}[rng.IntN(4)]...)
		}
		if len(raw) > 0 && rng.IntN(2) == 0 {
			raw[rng.IntN(len(raw))] = 0
		}
		want := Lines{NUL: bytes.IndexByte(raw, 0)}
		for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
			if len(bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))) > MaxLine {
				want.Long = true
			}
		}
		if got := ScanLines(raw); got != want {
			t.Fatalf("ScanLines(%d bytes) = %+v, want %+v", len(raw), got, want)
		}
	}
}
