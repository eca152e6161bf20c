package thread

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, base string
		reply    bool
	}{
		{"Hello", "HELLO", false},
		{"Re: Hello", "HELLO", true},
		{"RE: re: Re:Hello", "HELLO", true},
		{"Fwd: Hello (fwd)", "HELLO", true},
		{"Hello (fwd) (FWD)  ", "HELLO", true},
		{"[list] Re: Hello", "HELLO", true},
		{"Re [list]: Hello", "HELLO", true},
		{"[fwd: Re: Hello]", "HELLO", true},
		{"Fw: [fwd: [list] Hello]", "HELLO", true},
		{"[list]", "[LIST]", false}, // a blob stays when nothing would remain (step 4)
		{"[a] [b] Hello", "HELLO", false},
		{"Rest in peace", "REST IN PEACE", false},
		{"Fwding: x", "FWDING: X", false},
		{"Hello\t\r\n  world", "HELLO WORLD", false},
		{"", "", false},
		{"Re:", "", true},
		{"Réponse: À bientôt", "RÉPONSE: À BIENTÔT", false},
	} {
		base, reply := BaseSubject(tc.in)
		if base != tc.base || reply != tc.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tc.in, base, reply, tc.base, tc.reply)
		}
	}
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func TestSortKeys(t *testing.T) {
	msgs := []Msg{
		{UID: 1, Date: at(3), Arrival: at(1), Size: 300, Subject: "Re: beta", From: "carol", To: "zed", DisplayFrom: "Alice"},
		{UID: 2, Date: at(1), Arrival: at(2), Size: 100, Subject: "alpha", From: "Bob", To: "amy", DisplayFrom: "carol"},
		{UID: 3, Arrival: at(0), Size: 200, Subject: "Beta", From: "alice", To: "amy", DisplayFrom: "Bob"},
		{UID: 4, Date: at(1), Arrival: at(3), Size: 100, Subject: "[x] Alpha", From: "bob", To: "", DisplayFrom: "bob"},
	}
	uids := func(ms []Msg) []uint32 {
		var u []uint32
		for _, m := range ms {
			u = append(u, m.UID)
		}
		return u
	}
	for _, tc := range []struct {
		crit []Criterion
		want []uint32
	}{
		{[]Criterion{{Key: Arrival}}, []uint32{3, 1, 2, 4}},
		// UID 3 has no Date: its arrival stands in (RFC 5256 2.2).
		{[]Criterion{{Key: Date}}, []uint32{3, 2, 4, 1}},
		{[]Criterion{{Key: Date, Reverse: true}}, []uint32{1, 2, 4, 3}},
		{[]Criterion{{Key: Size}, {Key: Arrival, Reverse: true}}, []uint32{4, 2, 3, 1}},
		{[]Criterion{{Key: Subject}}, []uint32{2, 4, 1, 3}},
		{[]Criterion{{Key: From}}, []uint32{3, 2, 4, 1}},
		{[]Criterion{{Key: To}, {Key: Size}}, []uint32{4, 2, 3, 1}},
		{[]Criterion{{Key: DisplayFrom}}, []uint32{1, 3, 4, 2}},
		{[]Criterion{{Key: Cc}}, []uint32{1, 2, 3, 4}},
	} {
		ms := slices.Clone(msgs)
		Sort(ms, tc.crit)
		if got := uids(ms); !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.crit, got, tc.want)
		}
	}
}

func format(roots []*Node) string { return string(Format(nil, roots)) }

func TestOrderedSubject(t *testing.T) {
	msgs := []Msg{
		{UID: 1, Date: at(1), Subject: "Lunch"},
		{UID: 2, Date: at(2), Subject: "Report"},
		{UID: 3, Date: at(3), Subject: "Re: Lunch"},
		{UID: 4, Date: at(0), Subject: "Other"},
		{UID: 5, Date: at(5), Subject: "RE: lunch"},
		{UID: 6, Date: at(6), Subject: "re: report"},
	}
	// Threads by the date of their first message; the first message is
	// the parent of all the others (RFC 5256 section 3).
	if got, want := format(OrderedSubject(msgs)), "(4)(1 (3)(5))(2 6)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []Msg
		want string
	}{
		{"chain", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "x"},
			{UID: 2, Date: at(2), MessageID: "b", References: []string{"a"}, Subject: "Re: x"},
			{UID: 3, Date: at(3), MessageID: "c", References: []string{"a", "b"}, Subject: "Re: x"},
		}, "(1 2 3)"},
		{"siblings by date", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "x"},
			{UID: 2, Date: at(5), MessageID: "b", InReplyTo: "a", Subject: "Re: x"},
			{UID: 3, Date: at(3), MessageID: "c", InReplyTo: "a", Subject: "Re: x"},
		}, "(1 (3)(2))"},
		{"missing parent: one child is promoted", []Msg{
			{UID: 1, Date: at(1), MessageID: "b", References: []string{"gone"}, Subject: "Re: y"},
		}, "(1)"},
		{"missing root with two children stays a dummy", []Msg{
			{UID: 1, Date: at(2), MessageID: "b", References: []string{"gone"}, Subject: "Re: y"},
			{UID: 2, Date: at(1), MessageID: "c", References: []string{"gone"}, Subject: "Re: y"},
		}, "((2)(1))"},
		{"same subject without references is grouped", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "Party"},
			{UID: 2, Date: at(2), MessageID: "b", Subject: "Re: party"},
			{UID: 3, Date: at(3), MessageID: "c", Subject: "Other"},
		}, "(1 2)(3)"},
		{"two originals with one subject get a dummy", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "Party"},
			{UID: 2, Date: at(2), MessageID: "b", Subject: "party"},
		}, "((1)(2))"},
		{"duplicate message id", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "p"},
			{UID: 2, Date: at(2), MessageID: "a", Subject: "q"},
		}, "(1)(2)"},
		{"reference loop", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", References: []string{"b"}, Subject: "p"},
			{UID: 2, Date: at(2), MessageID: "b", References: []string{"a"}, Subject: "q"},
		}, "(2 1)"},
		{"no message ids", []Msg{
			{UID: 1, Date: at(2), Subject: "p"},
			{UID: 2, Date: at(1), Subject: "q"},
		}, "(2)(1)"},
		{"grandchild through a missing middle", []Msg{
			{UID: 1, Date: at(1), MessageID: "a", Subject: "x"},
			{UID: 2, Date: at(3), MessageID: "c", References: []string{"a", "b"}, Subject: "Re: x"},
			{UID: 3, Date: at(2), MessageID: "d", References: []string{"a"}, Subject: "Re: x"},
		}, "(1 (3)(2))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := format(References(tc.msgs)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestThreadsKeepEveryMessageOnce guards both algorithms on random
// reference graphs (loops, duplicates, missing parents): every message
// appears exactly once, and the output is well formed.
func TestThreadsKeepEveryMessageOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 300; iter++ {
		n := 1 + rng.IntN(40)
		msgs := make([]Msg, n)
		for i := range msgs {
			m := &msgs[i]
			m.UID = uint32(i + 1)
			m.Date = at(rng.IntN(50))
			if rng.IntN(8) > 0 {
				m.MessageID = fmt.Sprint("id", rng.IntN(n+5))
			}
			for k := rng.IntN(4); k > 0; k-- {
				m.References = append(m.References, fmt.Sprint("id", rng.IntN(n+5)))
			}
			if rng.IntN(3) == 0 {
				m.InReplyTo = fmt.Sprint("id", rng.IntN(n+5))
			}
			m.Subject = []string{"a", "Re: a", "b", "Fwd: b", "", "c"}[rng.IntN(6)]
		}
		for name, f := range map[string]func([]Msg) []*Node{"REFERENCES": References, "ORDEREDSUBJECT": OrderedSubject} {
			roots := f(msgs)
			seen := map[uint32]int{}
			var walk func(ns []*Node, depth int)
			walk = func(ns []*Node, depth int) {
				if depth > n+2 {
					t.Fatalf("%s: tree deeper than the messages", name)
				}
				for _, x := range ns {
					if x.UID != 0 {
						seen[x.UID]++
					} else if len(x.Children) < 2 {
						t.Errorf("%s: dummy with %d children in %s", name, len(x.Children), format(roots))
					}
					walk(x.Children, depth+1)
				}
			}
			walk(roots, 0)
			for _, m := range msgs {
				if seen[m.UID] != 1 {
					t.Fatalf("%s: UID %d appears %d times in %s", name, m.UID, seen[m.UID], format(roots))
				}
			}
		}
	}
}

// TestOrderMergeAgreeWithSort guards the incremental order SORT keeps
// per mailbox: sorting a prefix with Order and merging the rest in (Merge)
// gives Sort's order, and Compare agrees with it, for random messages
// and criteria (mixed case, non-ASCII and empty strings).
func TestOrderMergeAgreeWithSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	words := []string{"", "alice", "Alice", "ALICE", "bob", "Bö", "bö", "zed", "Émile", "émile", "a", "ab", "B"}
	for round := range 200 {
		n := 1 + r.IntN(60)
		msgs := make([]Msg, n)
		for i := range msgs {
			w := func() string { return words[r.IntN(len(words))] }
			msgs[i] = Msg{UID: uint32(i + 1), Arrival: at(r.IntN(5)), Size: int64(r.IntN(4)), Subject: w(),
				From: w(), To: w(), Cc: w(), DisplayFrom: w(), DisplayTo: w()}
			if r.IntN(2) == 0 {
				msgs[i].Date = at(r.IntN(5))
			}
		}
		var crit []Criterion
		for range 1 + r.IntN(3) {
			crit = append(crit, Criterion{Key: Key(r.IntN(int(DisplayTo) + 1)), Reverse: r.IntN(2) == 0})
		}
		want := slices.Clone(msgs)
		Sort(want, crit)
		cut := r.IntN(n + 1)
		a, b := make([]int32, cut), make([]int32, n-cut)
		for i := range a {
			a[i] = int32(i)
		}
		for i := range b {
			b[i] = int32(cut + i)
		}
		Order(msgs, a, crit)
		Order(msgs, b, crit)
		got := Merge(msgs, a, b, crit)
		for i, k := range got {
			if msgs[k].UID != want[i].UID {
				t.Fatalf("round %d, %v: position %d is UID %d, Sort says %d", round, crit, i, msgs[k].UID, want[i].UID)
			}
			if i > 0 && Compare(&msgs[got[i-1]], &msgs[k], crit) >= 0 {
				t.Fatalf("round %d, %v: Compare disagrees at position %d", round, crit, i)
			}
		}
	}
}
