package imapwire

import (
	"errors"
	"iter"
	"slices"
	"strconv"
)

// Star is the value of a NumRange end written as "*" (RFC 9051 section 9,
// seq-number): the largest number in use, known only to the session. Zero is
// never a valid message sequence number or UID, so it is free to mean "*".
const Star uint32 = 0

// NumRange is one element of a sequence set: First:Last, or a single number
// when First == Last. Either end may be Star. First may exceed Last: RFC 9051
// section 9 says "4:2" means the same as "2:4".
type NumRange struct {
	First, Last uint32
}

// NumSet is a sequence set of message sequence numbers or UIDs (RFC 9051
// sequence-set), kept as the ranges the client sent, in order. Dollar marks
// the SEARCHRES reference "$" (RFC 5182), which replaces a whole set and is
// resolved by the session against its saved result. The zero NumSet is empty.
type NumSet struct {
	Ranges []NumRange
	Dollar bool
}

// ErrBadNumSet is returned by ParseNumSet.
var ErrBadNumSet = errors.New("invalid sequence set")

// ParseNumSet parses a sequence set such as "1:3,5,7:*" or "$".
func ParseNumSet(s string) (NumSet, error) {
	p := parser{line: []byte(s)}
	set := p.numSet(true)
	if p.err != nil || p.pos != len(p.line) {
		return NumSet{}, ErrBadNumSet
	}
	return set, nil
}

// IsEmpty reports whether the set has no ranges and is not "$".
func (s NumSet) IsEmpty() bool { return len(s.Ranges) == 0 && !s.Dollar }

// HasStar reports whether any range uses "*", so the set depends on the
// mailbox's current size.
func (s NumSet) HasStar() bool {
	for _, r := range s.Ranges {
		if r.First == Star || r.Last == Star {
			return true
		}
	}
	return false
}

// AddNum appends n, extending the last range when n follows it. Sessions use
// it to build sets in a chosen order, e.g. the source and destination sets of
// COPYUID, which must correspond element by element (RFC 4315 section 3).
func (s *NumSet) AddNum(n uint32) { s.AddRange(n, n) }

// AddRange appends first:last, merging with the last range when they are
// ascending and adjacent.
func (s *NumSet) AddRange(first, last uint32) {
	if k := len(s.Ranges); k > 0 && first != Star && first <= last {
		prev := &s.Ranges[k-1]
		if prev.First != Star && prev.Last != Star && prev.First <= prev.Last && prev.Last < first && first-prev.Last == 1 {
			prev.Last = last
			return
		}
	}
	s.Ranges = append(s.Ranges, NumRange{first, last})
}

// resolve returns r with Star replaced by max and the ends ordered. With an
// empty mailbox (max 0) "*" has no number; such ranges become 1:n or
// disappear (ok false), so "1:*" on an empty mailbox matches nothing.
func (r NumRange) resolve(max uint32) (NumRange, bool) {
	if r.First == Star {
		r.First = max
	}
	if r.Last == Star {
		r.Last = max
	}
	if r.First > r.Last {
		r.First, r.Last = r.Last, r.First
	}
	if r.First == 0 {
		r.First = 1
	}
	return r, r.Last != 0
}

// Contains reports whether n is in the set, with "*" meaning max. It is
// always false for "$", which only the session can resolve.
func (s NumSet) Contains(n, max uint32) bool {
	for _, r := range s.Ranges {
		if rr, ok := r.resolve(max); ok && n >= rr.First && n <= rr.Last {
			return true
		}
	}
	return false
}

// Resolve returns the set with "*" replaced by max, ranges ordered, sorted
// and merged. RFC 9051 section 9: "*" is the largest number in use, so with
// max 3, "5:*" is 3:5 and includes 3 and 5; the session clips to what exists.
func (s NumSet) Resolve(max uint32) []NumRange {
	out := make([]NumRange, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		if rr, ok := r.resolve(max); ok {
			out = append(out, rr)
		}
	}
	slices.SortFunc(out, func(a, b NumRange) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, r := range out {
		if k := len(merged); k > 0 && uint64(r.First) <= uint64(merged[k-1].Last)+1 {
			merged[k-1].Last = max32(merged[k-1].Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// Nums iterates over every number in the set in ascending order, each once,
// with "*" meaning max. Callers should clip the set to the mailbox first (a
// UID set like 1:4294967295 is legal and long).
func (s NumSet) Nums(max uint32) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range s.Resolve(max) {
			for n := uint64(r.First); n <= uint64(r.Last); n++ {
				if !yield(uint32(n)) {
					return
				}
			}
		}
	}
}

func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// String returns the set in compact wire form: ranges in their order,
// single numbers without ":", runs of ascending adjacent ranges merged, and
// "*" for Star. An empty set gives "" (never valid on the wire).
func (s NumSet) String() string {
	return string(s.AppendTo(nil))
}

// AppendTo appends the String form to b without allocating beyond b.
func (s NumSet) AppendTo(b []byte) []byte {
	if s.Dollar {
		return append(b, '$')
	}
	appendNum := func(b []byte, n uint32) []byte {
		if n == Star {
			return append(b, '*')
		}
		return strconv.AppendUint(b, uint64(n), 10)
	}
	sep := false
	for i := 0; i < len(s.Ranges); {
		r := s.Ranges[i]
		i++
		// Merge following ascending adjacent ranges: 1,2,3:5 is 1:5.
		if r.First != Star && r.Last != Star && r.First <= r.Last {
			for i < len(s.Ranges) {
				n := s.Ranges[i]
				if n.First == Star || n.Last == Star || n.First > n.Last || uint64(n.First) != uint64(r.Last)+1 {
					break
				}
				r.Last = n.Last
				i++
			}
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = appendNum(b, r.First)
		if r.Last != r.First {
			b = append(b, ':')
			b = appendNum(b, r.Last)
		}
	}
	return b
}
