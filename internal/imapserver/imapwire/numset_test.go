package imapwire

import (
	"reflect"
	"slices"
	"testing"
)

func TestParseNumSet(t *testing.T) {
	tests := []struct {
		in, str string
		want    NumSet
	}{
		{"1", "1", set(1, 1)},
		{"1:3", "1:3", set(1, 3)},
		{"3:1", "3:1", set(3, 1)},
		{"*", "*", set(Star, Star)},
		{"1:*", "1:*", set(1, Star)},
		{"*:5", "*:5", set(Star, 5)},
		{"1,2,3,5:7,8", "1:3,5:8", set(1, 1, 2, 2, 3, 3, 5, 7, 8, 8)},
		{"5,1", "5,1", set(5, 5, 1, 1)},
		{"$", "$", NumSet{Dollar: true}},
		{"4294967295", "4294967295", set(4294967295, 4294967295)},
	}
	for _, tc := range tests {
		got, err := ParseNumSet(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseNumSet(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.str {
			t.Errorf("String(%q) = %q, want %q", tc.in, s, tc.str)
		}
	}
	for _, in := range []string{"", "0", "1:", ":1", "1,", ",1", "1:0", "a", "1 2", "$,1", "1,$", "4294967296", "1::2", "**"} {
		if got, err := ParseNumSet(in); err == nil {
			t.Errorf("ParseNumSet(%q) = %v, want error", in, got)
		}
	}
}

func TestNumSetResolve(t *testing.T) {
	s, _ := ParseNumSet("7:*,2,1,3:4,10")
	tests := []struct {
		max  uint32
		want []NumRange
	}{
		{20, []NumRange{{1, 4}, {7, 20}}},
		{8, []NumRange{{1, 4}, {7, 8}, {10, 10}}},
		{5, []NumRange{{1, 7}, {10, 10}}}, // 7:* with max 5 is 5:7
		{0, []NumRange{{1, 7}, {10, 10}}}, // "*" of an empty mailbox is no number: 7:* is 1:7
	}
	for _, tc := range tests {
		if got := s.Resolve(tc.max); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Resolve(%d) = %v, want %v", tc.max, got, tc.want)
		}
	}
	if star, _ := ParseNumSet("*"); len(star.Resolve(0)) != 0 {
		t.Errorf("* of empty mailbox resolves to %v", star.Resolve(0))
	}
	if got := slices.Collect(s.Nums(8)); !reflect.DeepEqual(got, []uint32{1, 2, 3, 4, 7, 8, 10}) {
		t.Errorf("Nums(8) = %v", got)
	}
	for n, want := range map[uint32]bool{1: true, 5: false, 6: false, 7: true, 9: true, 10: true, 11: false} {
		if got := s.Contains(n, 9); got != want {
			t.Errorf("Contains(%d, 9) = %v", n, got)
		}
	}
	if (NumSet{Dollar: true}).Contains(1, 1) {
		t.Error("$ contains 1")
	}
	big, _ := ParseNumSet("4294967290:*")
	if got := slices.Collect(big.Nums(4294967295)); len(got) != 6 || got[5] != 4294967295 {
		t.Errorf("Nums at the top of the range: %v", got)
	}
}

func TestNumSetAdd(t *testing.T) {
	var s NumSet
	for _, n := range []uint32{1, 2, 3, 5, 6, 9, 4} {
		s.AddNum(n)
	}
	s.AddRange(10, 12)
	s.AddRange(13, 13)
	if got := s.String(); got != "1:3,5:6,9,4,10:13" {
		t.Fatalf("got %q", got)
	}
	if s.HasStar() || s.IsEmpty() {
		t.Fatal("HasStar/IsEmpty")
	}
	if (NumSet{}).String() != "" || !(NumSet{}).IsEmpty() {
		t.Fatal("empty set")
	}
}
