package message

import (
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
