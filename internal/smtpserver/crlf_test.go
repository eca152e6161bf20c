package smtpserver

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/xtramail/xtramail/internal/message/messagetest"
)

// referenceCRLF is the rule spelled out byte by byte: CRLF stays, a bare
// CR or a bare LF becomes CRLF.
func referenceCRLF(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case b[i] == '\r', b[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b[i])
		}
	}
	return out
}

func TestNormalizeCRLFCases(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\rb\r", "a\r\nb\r\n"},
		{"\n.\n", "\r\n.\r\n"},
		{"a\r\r\nb", "a\r\n\r\nb"},
		{"a\n\rb", "a\r\n\r\nb"},
		{"\r", "\r\n"},
	} {
		if got := NormalizeCRLF([]byte(c.in)); string(got) != c.want {
			t.Errorf("NormalizeCRLF(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Already CRLF: no copy.
	in := []byte("x\r\ny\r\n")
	if got := NormalizeCRLF(in); &got[0] != &in[0] {
		t.Error("NormalizeCRLF copied a message already in CRLF")
	}
}

// TestCRLFWriterSplitsAnywhere: the streaming writer, fed random chunks
// of random bodies rich in CR and LF, gives the reference result, and so
// does NormalizeCRLF (the one rule of capture, submission and APPEND).
func TestCRLFWriterSplitsAnywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\r\n.")
	for range 3000 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want := referenceCRLF(b)
		if got := NormalizeCRLF(b); !bytes.Equal(got, want) {
			t.Fatalf("NormalizeCRLF(%q) = %q, want %q", b, got, want)
		}
		var out bytes.Buffer
		w := NewCRLFWriter(&out)
		rest := b
		for len(rest) > 0 {
			n := 1 + rng.IntN(len(rest))
			if rng.IntN(8) == 0 {
				n = 0 // an empty write changes nothing, even after a CR
			}
			if _, err := w.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("CRLFWriter(%q) = %q, want %q", b, out.Bytes(), want)
		}
		if n := testing.AllocsPerRun(1, func() {
			w := NewCRLFWriter(io.Discard)
			w.Write(b)
			w.Close()
		}); len(b) > 0 && n > 1 {
			// CRLF runs pass through uncopied; only the writer itself
			// is allocated.
			t.Fatalf("CRLFWriter(%q) allocated %v times", b, n)
		}
	}
}

// benchText is about 10 KiB of short lines, as most mail is.
func benchText(eol string) []byte {
	return append([]byte("From: a@example.test"+eol+"Subject: s"+eol+eol), messagetest.Words(10<<10, eol)...)
}

// BenchmarkCRLFWriter passes a 10 KiB body through the writer in one
// write, as a DATA body arrives: already CRLF (most mail), and with bare
// LF line endings.
func BenchmarkCRLFWriter(b *testing.B) {
	for _, eol := range []string{"\r\n", "\n"} {
		text := benchText(eol)
		b.Run(map[string]string{"\r\n": "crlf", "\n": "bare-lf"}[eol], func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				w := NewCRLFWriter(io.Discard)
				w.Write(text)
				w.Close()
			}
		})
	}
}

func BenchmarkNormalizeCRLF(b *testing.B) {
	text := benchText("\r\n")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		NormalizeCRLF(text)
	}
}
