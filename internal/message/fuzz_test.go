package message

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that its result keeps the
// invariants IMAP and the store rely on, and that the helpers accept every
// part it returns.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\n--b--\r\n--a--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		info := Parse(raw)
		checkInvariants(t, raw, info)
		var walk func(p *Part, path []int)
		walk = func(p *Part, path []int) {
			if _, err := Decode(raw, p); err != nil && p.Encoding == "BASE64" {
				t.Errorf("Decode base64: %v", err)
			}
			if _, err := DecodeText(raw, p); err != nil && p.Encoding == "QUOTED-PRINTABLE" {
				t.Errorf("DecodeText: %v", err)
			}
			for i := range p.Parts {
				walk(&p.Parts[i], append(path, i+1))
			}
		}
		walk(&info.Part, nil)
		for name, field := range Fields(info.Part.Header(raw)) {
			if len(name) == 0 || len(field) < len(name) {
				t.Errorf("field %q in %q", name, field)
			}
		}
		// The scanner that reads a header without holding it finds the
		// same fields, in any header, not only one Parse delimited.
		checkScanner(t, info.Part.Header(raw), 8, false)
		checkScanner(t, raw, 3, true)
	})
}

// FuzzCheckHeader: a header CheckHeader accepts is read alike by Parse
// and by the plainest reading of RFC 5322 2.2, the one a DKIM signer or
// a relay makes: the header is every line up to the first empty one, each
// a field (a name of printable ASCII, a colon) or the continuation of the
// one before; and one it refuses is not so.
func FuzzCheckHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@b\r\nSubject: x\r\n\r\nbody",
		"From: a@b\r\nX-Junk\r\nFrom: c@d\r\n\r\n",
		"From: a@b\r\n \r\n\tfolded\r\n\r\n",
		" orphan\r\nFrom: a@b\r\n\r\n",
		"From x Sat\r\nFrom: a@b\r\n\r\n",
		"From: a@b\r\nX Y: v\r\n\r\n",
		"From: a\x00b\r\n\r\n",
		"Subject : obsolete space\r\n\r\n",
		"From: a@b\r\r\n\r\r\nbody",
		"no header at all\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := CheckHeader(raw)
		end, plain := plainHeader(raw)
		if (err == nil) != plain {
			t.Fatalf("CheckHeader %v, the plain reading says well formed: %v (%q)", err, plain, raw)
		}
		if err != nil {
			if _, ok := err.(*HeaderError); !ok {
				t.Fatalf("error %T %v, want *HeaderError", err, err)
			}
			return
		}
		if got := Parse(raw).Part.BodyStart; got != int64(end) {
			t.Fatalf("Parse's body starts at %d, the plain reading's at %d (%q)", got, end, raw)
		}
	})
}

// plainHeader splits raw as RFC 5322 2.2 says, for FuzzCheckHeader: the
// header ends after the first line holding nothing but CRs; each line
// before must be a field or a continuation, and hold no NUL.
func plainHeader(raw []byte) (bodyStart int, ok bool) {
	ok = true
	first := true
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		next := len(raw)
		if j >= 0 {
			next = i + j + 1
		}
		line := bytes.TrimRight(bytes.TrimSuffix(raw[i:next], []byte("\n")), "\r")
		if len(line) == 0 {
			return next, ok
		}
		switch {
		case bytes.IndexByte(line, 0) >= 0:
			ok = false
		case line[0] == ' ' || line[0] == '\t':
			ok = ok && !first
		default:
			name, _, found := bytes.Cut(line, []byte(":"))
			name = bytes.TrimRight(name, " \t")
			if !found || len(name) == 0 {
				ok = false
			}
			for _, c := range name {
				if c <= ' ' || c >= 127 {
					ok = false
				}
			}
		}
		first = false
		i = next
	}
	return len(raw), ok
}
