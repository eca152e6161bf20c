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

// TestBidiControlsDropped: a display name or subject cannot turn itself
// or the address after it around (an override), neither encoded nor
// written raw; right-to-left text and its marks are kept.
func TestBidiControlsDropped(t *testing.T) {
	raw := "From: =?UTF-8?Q?=E2=80=AEmoc.lapyap?= <evil@attacker.example>\r\nTo: \u2067Support\u2069 <s@x.example>\r\n" +
		"Subject: Invoice \u202egpj.exe \u05e9\u05dc\u05d5\u05dd\u200f\r\n\r\nx\r\n"
	info := Parse([]byte(raw))
	if info.Subject != "Invoice gpj.exe \u05e9\u05dc\u05d5\u05dd\u200f" {
		t.Errorf("Subject %q", info.Subject)
	}
	if info.From != "moc.lapyap <evil@attacker.example>" {
		t.Errorf("From %q", info.From)
	}
	if got := DecodeHeader(info.Envelope.From[0].Name); got != "moc.lapyap" {
		t.Errorf("DecodeHeader of the From name: %q", got)
	}
	if got := DecodeHeader(info.Envelope.To[0].Name); got != "Support" {
		t.Errorf("DecodeHeader of a raw name: %q", got)
	}
}
