package store

import "testing"

func TestBaseAddress(t *testing.T) {
	for _, c := range []struct{ addr, delims, want string }{
		{"alice+news@example.test", "+", "alice@example.test"},
		{"alice+news+more@example.test", "+", "alice@example.test"},
		{"alice-news+x@example.test", "+-", "alice@example.test"},
		{"alice-news@example.test", "+", "alice-news@example.test"},
		{"alice+news@example.test", "", "alice+news@example.test"},
		{"+news@example.test", "+", "+news@example.test"},
		{"alice+@example.test", "+", "alice@example.test"},
		{"jörg+tag@xn--bcher-kva.test", "+", "jörg@xn--bcher-kva.test"},
		{"alice@exa+mple.test", "+", "alice@exa+mple.test"},
	} {
		if got := BaseAddress(c.addr, c.delims); got != c.want {
			t.Errorf("BaseAddress(%q, %q) = %q, want %q", c.addr, c.delims, got, c.want)
		}
	}
}

func TestCheckRecipientDelimiter(t *testing.T) {
	for _, ok := range []string{"", "+", "-", "+-", "+-_="} {
		if err := CheckRecipientDelimiter(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{".", "++", "+.", "a", "@", "+ ", "ü"} {
		if err := CheckRecipientDelimiter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDomainUnicode(t *testing.T) {
	for in, want := range map[string]string{
		"xn--bcher-kva.test":      "bücher.test",
		"example.test":            "example.test",
		"xn--r8jz45g.xn--zckzah":  "例え.テスト",
		"xn--9999999999.test":     "xn--9999999999.test", // no valid Punycode: kept as it is
		"anna@xn--bcher-kva.test": "anna@bücher.test",
	} {
		got := DomainUnicode(in)
		if i := len("anna@"); len(in) > i && in[:i] == "anna@" {
			got = AddressUnicode(in)
		}
		if got != want {
			t.Errorf("%q shown as %q, want %q", in, got, want)
		}
	}
}
