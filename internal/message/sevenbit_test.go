package message

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func convert7(t *testing.T, raw []byte) ([]byte, error) {
	t.Helper()
	c, err := Plan7Bit(Parse(raw), bytes.NewReader(raw))
	if err != nil || c == nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := c.Write(&out, bytes.NewReader(raw)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return out.Bytes(), nil
}

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

// FuzzSevenBit: whatever the message, Plan7Bit does not panic, and a
// conversion it plans writes only 7-bit bytes.
func FuzzSevenBit(f *testing.F) {
	f.Add(crlf("From: a@example.test\nSubject: x\n\nGrüße\n"))
	f.Add(crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\xffpre\n--b\nContent-Type: text/plain\n\nü\n--b\nContent-Type: message/rfc822\n\nSubject: y\n\n\xe9\n--b--\n\xfe"))
	f.Add(crlf("Content-Type: multipart/alternative; boundary=z\n\nno delimiters \xc3\xa9\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Plan7Bit(Parse(raw), bytes.NewReader(raw))
		if err != nil || c == nil {
			return
		}
		var out bytes.Buffer
		if err := c.Write(&out, bytes.NewReader(raw)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if i := bytes.IndexFunc(out.Bytes(), func(r rune) bool { return r >= 0x80 }); i >= 0 {
			t.Fatalf("8-bit output at %d: %q", i, out.Bytes())
		}
	})
}
