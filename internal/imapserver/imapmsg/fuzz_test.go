package imapmsg

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// fuzzSeeds adds the fixtures and a few hostile shapes.
func fuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, s := range []string{
		"",
		"\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\n--b--\r\n--a--",
		"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA",
		"From: \"a\\\"b\" <@x,@y:c@d>, g: ;, (x) <>\r\nSubject: {5}\r\n x\x00y\"\\\r\n\r\n",
		"Content-Type: text/plain; charset=\"\x00\r\n\tname=\"\xff\xfe\"\r\nContent-Language: (c) en, \"\r\n\r\n",
		"Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n--\r\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzBodyStructure parses any bytes and renders ENVELOPE, BODY and
// BODYSTRUCTURE for both kinds of session: nothing may panic, and every
// value must be well-formed IMAP (checkValue).
func FuzzBodyStructure(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		info := message.Parse(raw)
		for _, utf8 := range []bool{false, true} {
			values := []string{
				render(utf8, func(w *imapwire.Writer) { WriteEnvelope(w, &info.Envelope) }),
				render(utf8, func(w *imapwire.Writer) { WriteBodyStructure(w, &info.Part, false) }),
				render(utf8, func(w *imapwire.Writer) { WriteBodyStructure(w, &info.Part, true) }),
			}
			for _, v := range values {
				if err := checkValue(v); err != nil {
					t.Fatalf("utf8 %v: %v\nvalue: %q", utf8, err, v)
				}
			}
		}
	})
}

// FuzzSection parses any bytes and fetches every section of every part,
// plus part numbers taken from the input: nothing may panic, results lie
// within the message, and they agree with the part offsets.
func FuzzSection(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		info := message.Parse(raw)
		paths := partPaths(&info.Part, nil, nil)
		// Paths the message may not have, from its own bytes.
		for i := 0; i+1 < len(raw) && i < 8; i += 2 {
			paths = append(paths, []uint32{uint32(raw[i] % 5), uint32(raw[i+1] % 4)})
		}
		for _, path := range paths {
			for _, spec := range []imapwire.SectionSpec{
				imapwire.SectionWhole, imapwire.SectionHeader, imapwire.SectionHeaderFields,
				imapwire.SectionHeaderFieldsNot, imapwire.SectionText, imapwire.SectionMIME,
			} {
				if spec == imapwire.SectionMIME && len(path) == 0 {
					continue
				}
				s := imapwire.Section{Part: path, Spec: spec, Fields: []string{"From", "content-type", "X"}}
				b, err := Section(raw, info, s)
				if err != nil {
					t.Fatalf("%+v: %v", s, err)
				}
				if len(b) > len(raw) || bytes.IndexByte(b, 0) >= 0 {
					t.Fatalf("%+v: %d bytes or NUL, from a message of %d", s, len(b), len(raw))
				}
				if spec == imapwire.SectionHeaderFields {
					s.Spec = imapwire.SectionHeaderFieldsNot
					not, _ := Section(raw, info, s)
					h, _ := Section(raw, info, imapwire.Section{Part: path, Spec: imapwire.SectionHeader})
					// The two subsets share the blank line.
					if blank := len(blankLine(h)); len(b)+len(not)-blank > len(h) {
						t.Fatalf("%v: FIELDS %d + NOT %d - blank %d > HEADER %d", path, len(b), len(not), blank, len(h))
					}
				}
				if o := len(raw) / 3; o > 0 {
					p := Partial(b, &imapwire.Partial{Offset: uint64(o), Count: uint64(o)})
					if len(p) > o {
						t.Fatalf("partial of %d bytes", len(p))
					}
				}
			}
			if p, ok := findPart(&info.Part, path); ok && len(path) > 0 {
				b, _ := Section(raw, info, imapwire.Section{Part: path})
				if !bytes.Equal(b, noNUL(p.Body(raw))) {
					t.Fatalf("BODY[%v] is not the part's body", path)
				}
			}
			if _, err := Binary(raw, info, path); err != nil && !errors.Is(err, ErrUnknownCTE) {
				t.Fatalf("BINARY[%v]: %v", path, err)
			}
		}
	})
}

// partPaths lists the section part numbers of every part BODYSTRUCTURE
// shows, embedded messages included, up to a bound.
func partPaths(p *message.Part, prefix []uint32, out [][]uint32) [][]uint32 {
	if len(out) > 200 {
		return out
	}
	out = append(out, prefix)
	child := func(n int) []uint32 { return append(prefix[:len(prefix):len(prefix)], uint32(n)) }
	switch {
	case p.Type == "multipart":
		for i := range p.Parts {
			out = partPaths(&p.Parts[i], child(i+1), out)
		}
	case len(prefix) == 0:
		out = append(out, child(1)) // the body of a message that is not multipart
	case isMessage(p):
		if root := embeddedRoot(p); root.Type == "multipart" {
			for i := range root.Parts {
				out = partPaths(&root.Parts[i], child(i+1), out)
			}
		} else {
			out = append(out, child(1))
		}
	}
	return out
}
