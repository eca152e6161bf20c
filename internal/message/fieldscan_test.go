package message

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// TestFieldScannerMatchesFields: over random headers built from every
// kind of line scanFields tells apart (fields with white space before
// the colon, continuations, orphan continuations, an mbox From line,
// blank lines of CRs, lines that are not fields, control and 8-bit bytes,
// bare LFs, a last line without a line break, names and lines longer
// than the scanner's buffer), the scanner yields exactly the fields
// Fields yields, at the same offsets, read one byte at a time or in
// large reads.
func TestFieldScannerMatchesFields(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	for i := range 3000 {
		h := randomHeader(rng)
		maxName := rng.IntN(12)
		if !checkScanner(t, h, maxName, i%2 == 0) {
			t.Fatalf("header %d (maxName %d): %q", i, maxName, h)
		}
	}
}

func checkScanner(t *testing.T, h []byte, maxName int, oneByte bool) bool {
	t.Helper()
	type span struct {
		name       string
		cut        bool
		start, end int64
	}
	var want []span
	for name, f := range Fields(h) {
		start := int64(cap(h) - cap(f)) // f is h[start:...]
		sp := span{name: name, start: start, end: start + int64(len(f))}
		if m := max(maxName, len("From")); len(name) > m {
			sp.name, sp.cut = name[:m], true
		}
		want = append(want, sp)
	}
	var r = bytes.NewReader(h)
	sc := NewFieldScanner(r, maxName)
	if oneByte {
		sc = NewFieldScanner(iotest.OneByteReader(r), maxName)
	}
	var got []span
	for {
		name, cut, start, end, ok := sc.Next()
		if !ok {
			break
		}
		got = append(got, span{string(name), cut, start, end})
	}
	if err := sc.Err(); err != nil {
		t.Errorf("Err = %v", err)
		return false
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scanner:\n%v\nFields:\n%v", got, want)
		return false
	}
	return true
}

func randomHeader(rng *rand.Rand) []byte {
	nl := func() string {
		return []string{"\r\n", "\r\n", "\r\n", "\n", "\r\r\n"}[rng.IntN(5)]
	}
	name := func() string {
		names := []string{"Subject", "From", "To", "X-A", "x", "Received", "DKIM-Signature", "A-Very-Long-Field-Name"}
		n := names[rng.IntN(len(names))]
		if rng.IntN(20) == 0 {
			n = strings.Repeat("N", 33000+rng.IntN(2000)) // past the read buffer
		}
		return n
	}
	value := func() string {
		v := []string{" value", "", " a b\tc", " \x00nul", " caf\xc3\xa9", " \xe9t\xe9", ":colon"}[rng.IntN(7)]
		if rng.IntN(30) == 0 {
			v = " " + strings.Repeat("v", 33000+rng.IntN(2000))
		}
		return v
	}
	var b strings.Builder
	if rng.IntN(10) == 0 {
		b.WriteString([]string{"From alice@x Tue Nov  4 10:00:00 2025", "From:x", "From\tx", "From  x"}[rng.IntN(4)] + nl())
	}
	for range rng.IntN(12) {
		switch rng.IntN(20) {
		case 0:
			b.WriteString([]string{" orphan", "\tcont", " ", "  "}[rng.IntN(4)] + nl())
		case 1:
			b.WriteString([]string{"not a field", ":empty name", "\x01ctl: x", "bad\x80: x", "Name \x01: x", "Name \r: x", "Name  "}[rng.IntN(7)] + nl())
		case 2:
			b.WriteString([]string{"\r\n", "\n", "\r\r\n", "\r"}[rng.IntN(4)])
		default:
			b.WriteString(name() + []string{":", " :", "\t:", " \t :"}[rng.IntN(4)] + value() + nl())
			for range rng.IntN(3) {
				b.WriteString([]string{" more", "\tmore", " ", "\t"}[rng.IntN(4)] + nl())
			}
		}
	}
	s := b.String()
	if rng.IntN(5) == 0 && len(s) > 0 {
		s = s[:rng.IntN(len(s))] // a header cut anywhere, last line without a break
	}
	return []byte(s)
}
