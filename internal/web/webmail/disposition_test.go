package webmail

import (
	"mime"
	"strings"
	"testing"
)

// TestContentDisposition: the header of a download names the file so
// that an RFC 6266 parser (Go's, as browsers do) reads back the name the
// page shows: filename* (RFC 8187) for names beyond plain ASCII, with
// only attr-chars unescaped, and an ASCII fallback that never breaks out
// of its quotes.
func TestContentDisposition(t *testing.T) {
	for _, name := range []string{
		"report.pdf", "Résumé 2026.docx", "日本 Set-Cookie: x=1.txt", "a;b\"c\\d.txt", "50%25 off.pdf",
		"it's (1) [draft] {v2} @home, ok?.txt", "💾.bin",
	} {
		v := contentDisposition("attachment", name)
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" {
			t.Errorf("%q: %s: %q, %v", name, v, disp, err)
			continue
		}
		if params["filename"] != name {
			t.Errorf("%q: %s reads back as %q", name, v, params["filename"])
		}
		if strings.Contains(name, "%") && !strings.Contains(v, "filename*=") {
			t.Errorf("%q: %s: a browser percent-decodes a plain filename", name, v)
		}
	}
}
