package thread

import (
	"strings"
	"testing"
)

// FuzzBaseSubject: subjects come from any sender. BaseSubject never
// panics, and a base subject is its own base (it is what SORT and
// THREAD compare, and the store keeps it precomputed).
func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{
		"Re: [fwd: Re: hello (fwd)]", "RE:RE: re: x", "[list] Re: [list] y", "Fwd: [a] [b]",
		"[fwd: ", "  \t(fwd)(FWD) ", "Re[2]: z", "[]:", "Ⓡe: ünïcode", "\xff\xfeRe: bad utf-8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, _ := BaseSubject(s)
		if again, _ := BaseSubject(base); again != base {
			t.Errorf("BaseSubject(%q) = %q, whose base is %q", s, base, again)
		}
		if strings.ContainsAny(base, "\t\r\n") {
			t.Errorf("BaseSubject(%q) = %q keeps white space other than spaces", s, base)
		}
	})
}
