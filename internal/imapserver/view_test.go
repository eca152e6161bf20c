package imapserver

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
)

// The range-compressed view agrees with a plain slice of UIDs under
// random appends, removals and lookups.
func TestViewMatchesSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for round := range 200 {
		var plain []uint32
		u := uint32(0)
		for range r.IntN(300) {
			u += 1 + uint32(r.IntN(3)/2) // mostly dense, some gaps
			plain = append(plain, u)
		}
		v := newView(plain)
		for step := range 20 {
			switch r.IntN(3) {
			case 0: // append
				u += 1 + uint32(r.IntN(4))
				plain = append(plain, u)
				v.push(u)
			case 1: // remove some, ascending
				var rm []uint32
				for _, x := range plain {
					if r.IntN(8) == 0 {
						rm = append(rm, x)
					}
				}
				rm = append(rm, u+5) // not in the view: ignored
				var want []uint32
				kept := slices.Clone(plain)
				for _, x := range rm {
					if i := slices.Index(kept, x); i >= 0 {
						want = append(want, uint32(i+1))
						kept = slices.Delete(kept, i, i+1)
					}
				}
				if got := v.removeSorted(rm); !slices.Equal(got, want) {
					t.Fatalf("round %d step %d: removeSorted seqs %v, want %v", round, step, got, want)
				}
				plain = kept
			case 2: // set lookups
				n := uint32(len(plain))
				a, b := uint32(r.IntN(int(n)+1)), uint32(r.IntN(int(n)+1))
				set := imapwire.NumSet{Ranges: []imapwire.NumRange{{First: a, Last: b}}}
				var want []uint32
				for seq := range set.Nums(n) {
					if seq >= 1 && seq <= n {
						want = append(want, plain[seq-1])
					}
				}
				if n == 0 {
					want = nil
				}
				if got := rangesUIDs(v.bySeq(set)); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("bySeq %v: %v, want %v", set, got, want)
				}
				uset := imapwire.NumSet{Ranges: []imapwire.NumRange{{First: a * 2, Last: imapwire.Star}}}
				want = want[:0]
				for _, x := range plain {
					if uset.Contains(x, v.maxUID()) {
						want = append(want, x)
					}
				}
				if got := rangesUIDs(v.byUID(uset)); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("byUID %v: %v, want %v", uset, got, want)
				}
			}
			if v.count() != uint32(len(plain)) {
				t.Fatalf("count %d, want %d", v.count(), len(plain))
			}
			for i, x := range plain {
				if s, ok := v.seqOf(x); !ok || s != uint32(i+1) {
					t.Fatalf("seqOf(%d) = %d %v, want %d", x, s, ok, i+1)
				}
				if got, ok := v.uidAt(uint32(i + 1)); !ok || got != x {
					t.Fatalf("uidAt(%d) = %d, want %d", i+1, got, x)
				}
			}
		}
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"*", "a/b/c", true}, {"%", "a/b", false}, {"%", "a", true}, {"a/%", "a/b", true},
		{"a/%", "a/b/c", false}, {"a*c", "a/b/c", true}, {"a%c", "a/b/c", false}, {"inbox", "INBOX", true},
		{"In*", "INBOX", false}, {"", "", true}, {"%/%", "a/b", true}, {"*x", "yyyx", true},
	} {
		if got := matchPattern(tc.pat, tc.name); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v", tc.pat, tc.name, got)
		}
	}
}
