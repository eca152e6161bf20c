package message

import "testing"

// TestSafeFilename: what a hostile or broken name loses, and what an
// ordinary one keeps.
func TestSafeFilename(t *testing.T) {
	long := ""
	for range 150 {
		long += "é"
	}
	for in, want := range map[string]string{
		"report.pdf":                         "report.pdf",
		"Résumé Q4.pdf":                      "Résumé Q4.pdf",
		"../../etc/passwd":                   "passwd",
		`C:\Users\x\file.doc`:                "file.doc",
		"invoice\u202efdp.exe":               "invoicefdp.exe",
		"a\u2066b\u2069c\u200b\u200ed\ufeff": "abcd",
		"line\r\nbreak\x00\x7f\u0085.txt":    "linebreak.txt",
		`say "hi".txt`:                       "say hi.txt",
		"  ...hidden ":                       "hidden",
		"bad\xffutf8.txt":                    "badutf8.txt",
		"dir/":                               "",
		long + ".txt":                        long[:200],
	} {
		if got := SafeFilename(in); got != want {
			t.Errorf("SafeFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSubjectFilename(t *testing.T) {
	if got := SubjectFilename("Q3/Q4 plan \\ draft <b>"); got != "Q3-Q4 plan - draft <b>" {
		t.Errorf("SubjectFilename: %q", got)
	}
}
