package store

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{
		"Example.TEST.":         "example.test",
		"bücher.test":           "xn--bcher-kva.test",
		"BÜCHER.Test":           "xn--bcher-kva.test",
		"xn--bcher-kva.test":    "xn--bcher-kva.test",
		"mail.xn--bcher-kva.de": "mail.xn--bcher-kva.de",
		"例え.テスト":                "xn--r8jz45g.xn--zckzah",
		"r3--sn-abc.test":       "r3--sn-abc.test", // "--" in an ASCII label is no A-label
		"xn--ls8h.la":           "xn--ls8h.la",     // IDNA2003 (an emoji), still in DNS
	} {
		got, err := NormalizeDomain(in)
		if err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", ".", "a..test", "-a.test", "a-.test", "bad domain.test", "under_score.test",
		"bü\u200dcher.test",               // a joiner outside its context
		strings.Repeat("ü", 60) + ".test", // its A-label is over 63 octets
		strings.Repeat("a.", 126) + "ü",   // the whole name over 253 octets in A-labels
	} {
		if got, err := NormalizeDomain(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestNormalizeAddressInternationalised(t *testing.T) {
	for in, want := range map[string]string{
		"Anna@Bücher.Test":         "anna@xn--bcher-kva.test",
		"anna@xn--bcher-kva.test":  "anna@xn--bcher-kva.test",
		"jörg@bücher.test":         "jörg@xn--bcher-kva.test", // RFC 6531: the local part stays UTF-8
		" Bob@Example.TEST ":       "bob@example.test",
		`"Bob"@example.test`:       "bob@example.test", // quotes that quote nothing
		`"bob.smith"@example.test`: "bob.smith@example.test",
	} {
		got, err := NormalizeAddress(in)
		if err != nil || got != want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"anna@bü cher.test", "a@b@bücher.test", `"bob smith"@example.test`, `"a\"b"@example.test`, `""@example.test`, `"bob"x@example.test`, `"@example.test`} {
		if got, err := NormalizeAddress(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

// TestSendAddress: the local part keeps the case it was given, its
// needless quotes go, the domain is NormalizeAddress's; what
// NormalizeAddress refuses is refused.
func TestSendAddress(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"MiXeD.Case@Remote.TEST", "MiXeD.Case@remote.test"},
		{" Jo@far.test ", "Jo@far.test"},
		{`"Jo.Smith"@far.test`, "Jo.Smith@far.test"},
		{"Jörg@Bücher.example", "Jörg@xn--bcher-kva.example"},
		{"plain@x.test", "plain@x.test"},
	} {
		got, err := SendAddress(c.in)
		if err != nil || got != c.want {
			t.Errorf("SendAddress(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if n, _ := NormalizeAddress(c.in); strings.ToLower(got) != n {
			t.Errorf("SendAddress(%q) = %q is not NormalizeAddress's %q but for case", c.in, got, n)
		}
	}
	for _, bad := range []string{"", "no-at", `"a b"@x.test`, "a@", "a@-x.test"} {
		if got, err := SendAddress(bad); err == nil {
			t.Errorf("SendAddress(%q) = %q, want an error", bad, got)
		}
	}
}
