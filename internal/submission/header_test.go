package submission

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestHeaderCompleter(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	const date = "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
	for _, c := range []struct {
		name, in, want string // want: "" means unchanged; "MID" marks the generated field
	}{
		{"complete", "From: a@x.test\r\nMessage-ID: <1@x>\r\nDate: Fri, 4 Dec 2026 1:00:00 +0000\r\n\r\nbody\r\n", ""},
		{"case and space", "message-id : <1@x>\r\ndATE: whatever\r\n\r\nbody\r\n", ""},
		{"no date", "From: a@x.test\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n",
			"From: a@x.test\r\nMessage-ID: <1@x>\r\n" + date + "\r\nbody\r\n"},
		{"neither", "From: a@x.test\r\n\r\nbody\r\nMessage-ID: <in body>\r\n",
			"From: a@x.test\r\nMID" + date + "\r\nbody\r\nMessage-ID: <in body>\r\n"},
		{"resent and folded do not count", "Resent-Message-ID: <r@x>\r\nSubject: a\r\n Message-ID: <fold>\r\n\r\nb",
			"Resent-Message-ID: <r@x>\r\nSubject: a\r\n Message-ID: <fold>\r\nMID" + date + "\r\nb"},
		{"header only", "From: a@x.test\r\nMessage-ID: <1@x>", "From: a@x.test\r\nMessage-ID: <1@x>\r\n" + date},
		{"empty", "", "MID" + date},
		{"long line", "X-Long: " + strings.Repeat("y", 5000) + "\r\nMessage-ID: <1@x>\r\n\r\nb",
			"X-Long: " + strings.Repeat("y", 5000) + "\r\nMessage-ID: <1@x>\r\n" + date + "\r\nb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == "" {
				want = c.in
			}
			got := string(completeHeader([]byte(c.in), "example.test", "", now))
			if i := strings.Index(want, "MID"); i >= 0 {
				mid := got[i:]
				end := strings.Index(mid, ">\r\n")
				if !strings.HasPrefix(mid, "Message-ID: <") || !strings.HasSuffix(mid[:end], "@example.test") {
					t.Fatalf("no generated Message-ID at %d in %q", i, got)
				}
				want = want[:i] + mid[:end+3] + want[i+3:]
			}
			if got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			// Streamed in random pieces, the same result.
			rng := rand.New(rand.NewPCG(uint64(len(c.in)), 7))
			for range 50 {
				var out bytes.Buffer
				h := newHeaderCompleter(&out, "example.test", "", now)
				rest := []byte(c.in)
				for len(rest) > 0 {
					n := 1 + rng.IntN(len(rest))
					h.Write(rest[:n])
					rest = rest[n:]
				}
				h.Close()
				g := out.String()
				if strings.Contains(want, "Message-ID: <") && strings.Count(g, "@example.test>") != strings.Count(want, "@example.test>") {
					t.Fatalf("streamed: %q", g)
				}
				if len(g) != len(want) {
					t.Fatalf("streamed: %d bytes, want %d: %q", len(g), len(want), g)
				}
			}
		})
	}
}

// TestHeaderCompleterSender: a From of several mailboxes without a
// Sender gets "Sender: <signed-in address>" at the end of the header,
// however the From is folded, split or long (past lineStart; past
// maxFromValue it is taken for several), written whole or in random
// pieces (seeded); anything else is left as it is.
func TestHeaderCompleterSender(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	const tail = "Message-ID: <1@x>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
	const sender = "Sender: me@x.test\r\n"
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))
	long := strings.Repeat("n", 3000)
	for _, c := range []struct {
		name, head string
		add        bool
	}{
		{"two", "From: a@x.test, b@x.test\r\n", true},
		{"folded", "From: A <a@x.test>,\r\n\tB <b@x.test>\r\n", true},
		{"long line", "From: \"" + long + "\" <a@x.test>, b@x.test\r\n", true},
		{"past the bound", "From: \"" + strings.Repeat(long+"\r\n ", 30) + "\" <a@x.test>\r\n", true},
		{"one, long", "From: \"" + long + ", " + long + "\" <a@x.test>\r\n", false},
		{"one", "From: a@x.test\r\n", false},
		{"own Sender", "From: a@x.test, b@x.test\r\nsender : b@x.test\r\n", false},
		{"first From of two decides", "From: a@x.test\r\nFrom: a@x.test, b@x.test\r\n", false},
		{"a field after", "From: a@x.test,\r\n b@x.test\r\nX-From: c@x.test, d@x.test\r\n", true},
	} {
		in := c.head + tail + "\r\nFrom: in the body, c@x.test\r\n"
		want := in
		if c.add {
			want = c.head + tail + sender + "\r\nFrom: in the body, c@x.test\r\n"
		}
		if got := string(completeHeader([]byte(in), "x.test", "me@x.test", now)); got != want {
			t.Errorf("%s: got %q", c.name, got)
		}
		for range 20 {
			var out bytes.Buffer
			h := newHeaderCompleter(&out, "x.test", "me@x.test", now)
			for rest := []byte(in); len(rest) > 0; {
				n := 1 + rng.IntN(min(len(rest), 2000))
				h.Write(rest[:n])
				rest = rest[n:]
			}
			h.Close()
			if out.String() != want {
				t.Fatalf("%s, streamed: got %q", c.name, out.String())
			}
		}
	}
}

func TestHasBcc(t *testing.T) {
	for in, want := range map[string]bool{
		"From: a\r\nBcc: b@x\r\n\r\nbody":                               true,
		"From: a\r\nbcc :\r\n\r\nbody":                                  true,
		"From: a\r\nResent-Bcc: r@x\r\n\r\nbody":                        true,
		"From: a\r\n\r\nBcc: in body\r\n":                               false,
		"From: a\r\nX-Bcc: b\r\n Bcc: fold\r\n\r\n":                     false,
		"X-Long: " + strings.Repeat("z", 100000) + "\r\nBcc: c\r\n\r\n": true,
		// White space before the colon (obs-syntax), past a 4 KiB
		// window: still a Bcc field, which the copy removes.
		"Bcc" + strings.Repeat(" ", 5000) + ": c\r\n\r\n": true,
		"": false,
	} {
		if got := hasBcc([]byte(in)); got != want {
			t.Errorf("hasBcc(%.40q) = %v, want %v", in, got, want)
		}
	}
}

// TestHasBccAgreesWithCopy: hasField(isUnsentName), which decides
// whether what is sent is copied without Bcc and Return-Path fields,
// finds one in every header where copyWithoutUnsent removes one, and in
// no other: random headers of Bcc, Resent-Bcc, Return-Path and
// look-alike fields, continuation lines, bare CRs and
// LFs, and lines on either side of the copy's 64 KiB fragment.
func TestHasBccAgreesWithCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"Bcc:", "bcc :", "Resent-Bcc: x", "X-Bcc: y", "Return-Path: <f@x>", "X-Return-Path: z", "From: a", " Bcc: fold", "\tcont", "\r\n", "\n", "\r",
		"Subject", ":", " ", "b@x", "\r\r\n"}
	for i := range 4000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(3) > 0 {
				b.WriteString("\r\n")
			}
		}
		if i%50 == 0 {
			// A line whose colon is near the end of the copy's fragment.
			pad := bccFragment - 8 + rng.IntN(16)
			b.WriteString([]string{"Bcc", "X-Long", " "}[rng.IntN(3)] + strings.Repeat(" ", pad) + ": z\r\n")
			if rng.IntN(2) == 0 {
				b.WriteString("Bcc: after\r\n")
			}
		}
		if rng.IntN(2) == 0 {
			b.WriteString("\r\nbody\r\nBcc: in the body\r\n")
		}
		msg := []byte(b.String())
		found, err := copyWithoutUnsent(io.Discard, bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		if got := hasField(msg, isUnsentName); got != found {
			t.Fatalf("hasField(%.80q..., isUnsentName) = %v, copyWithoutUnsent removed a field: %v", msg, got, found)
		}
	}
}
