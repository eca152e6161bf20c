package dkim

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/xtramail/xtramail/internal/message/messagetest"
	"github.com/xtramail/xtramail/internal/store"
)

const msg = "From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nSubject: hello\r\n" +
	"Date: Sat, 05 Dec 2026 08:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: text/plain\r\n\r\nHello  Bob,\r\nsee you.\r\n"

// TestSignVerifies signs with each algorithm and verifies with
// go-msgauth's verifier against the TXT record Record publishes, also
// after a relay rewraps a header and re-spaces the body (relaxed), and
// fails after the body changes.
func TestSignVerifies(t *testing.T) {
	for _, alg := range []string{"ed25519", "rsa"} {
		t.Run(alg, func(t *testing.T) {
			k, err := GenerateKey(alg, "x20261205", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := Record(k)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(rec, "v=DKIM1; k="+alg+"; p=") {
				t.Fatalf("record %q", rec)
			}
			sig, err := Sign(k, "example.org", strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"c=relaxed/relaxed", "d=example.org", "s=x20261205", "h=From:From:Reply-To:Reply-To:Subject:Subject:Date:Date:To:To:Cc:Cc:Message-ID:Message-ID"} {
				if !strings.Contains(strings.ReplaceAll(sig, "\r\n ", ""), want) {
					t.Errorf("signature lacks %q: %s", want, sig)
				}
			}
			lookup := func(name string) ([]string, error) {
				if name != RecordName(k, "example.org") {
					t.Errorf("looked up %q", name)
				}
				return []string{rec}, nil
			}
			verify := func(m string) error {
				vs, err := dkim.VerifyWithOptions(strings.NewReader(m), &dkim.VerifyOptions{LookupTXT: lookup})
				if err != nil {
					return err
				}
				if len(vs) != 1 {
					t.Fatalf("%d verifications", len(vs))
				}
				return vs[0].Err
			}
			if err := verify(sig + msg); err != nil {
				t.Fatalf("signed message does not verify: %v", err)
			}
			relayed := strings.Replace(sig+msg, "Subject: hello", "Subject:\r\n  hello", 1)
			relayed = strings.Replace(relayed, "Hello  Bob,", "Hello Bob,", 1)
			if err := verify(relayed); err != nil {
				t.Fatalf("relaxed rewrap does not verify: %v", err)
			}
			if err := verify(strings.Replace(sig+msg, "see you", "send money", 1)); err == nil {
				t.Fatal("changed body verifies")
			}
			if err := verify(strings.Replace(sig+msg, "To: bob", "Cc: mallory@evil.test\r\nTo: bob", 1)); err == nil {
				t.Fatal("added Cc verifies")
			}
			// A second instance of a field the message has, above the
			// signed one, where readers look (oversigning).
			for _, added := range []string{"Subject: urgent: pay now", "From: CEO <ceo@example.org>", "To: all@example.org",
				"Date: Sun, 06 Dec 2026 08:00:00 +0000", "Message-ID: <2@example.org>", "Content-Type: text/html"} {
				if err := verify(sig + added + "\r\n" + msg); err == nil {
					t.Errorf("verifies with %q put above the signed field", added)
				}
			}
		})
	}
}

func TestGenerateKeyRefusesUnknownAlgorithm(t *testing.T) {
	if _, err := GenerateKey("dsa", "s", time.Now()); err == nil {
		t.Fatal("dsa accepted")
	}
	if _, err := Sign(storeKey([]byte("junk")), "example.org", bytes.NewReader(nil)); err == nil {
		t.Fatal("junk key signs")
	}
}

func storeKey(der []byte) (k store.DKIMKey) {
	k.PrivateKey = der
	k.Selector = "s"
	k.Algorithm = "rsa"
	return k
}

// TestNewSelector: every key of a domain gets a DNS name of its own, also
// several made the same day, so that a new key never takes the name of a
// record published for the old one.
func TestNewSelector(t *testing.T) {
	day := time.Date(2026, 12, 5, 14, 30, 7, 0, time.UTC)
	seen := map[string]bool{}
	cur := "x20261204" // yesterday's key
	for range 30 {
		sel := NewSelector(day, cur)
		if sel == cur || seen[sel] {
			t.Fatalf("NewSelector(%s) = %q: taken (%v)", cur, sel, seen)
		}
		if _, err := store.NormalizeDomain(sel); err != nil || !strings.HasPrefix(sel, "x20261205") {
			t.Fatalf("NewSelector(%s) = %q: not a selector of that day (%v)", cur, sel, err)
		}
		seen[sel] = true
		cur = sel
		day = day.Add(time.Second)
	}
	if got := NewSelector(day, ""); got != "x20261205" {
		t.Errorf("first key: %q", got)
	}
	if got := NewSelector(day, "x20261205"); got != "x20261205b" {
		t.Errorf("second key of the day: %q", got)
	}
	if _, err := GenerateKey("rsa", "", day); err == nil {
		t.Error("GenerateKey without a selector: no error")
	}
}

// BenchmarkSign signs a 10 KiB message, read from a file as the queue
// reads a stored body, with a parsed ed25519 key (Keys' Signer).
func BenchmarkSign(b *testing.B) {
	k, err := GenerateKey("ed25519", "x20261205", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSigner(k, "example.org")
	if err != nil {
		b.Fatal(err)
	}
	body := append([]byte(strings.SplitAfter(msg, "\r\n\r\n")[0]), messagetest.Words(10<<10, "\r\n")...)
	f, err := os.CreateTemp(b.TempDir(), "body")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(body); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(io.NewSectionReader(f, 0, int64(len(body)))); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSignBoundsHeader: a header section past MaxHeaderBytes or
// MaxHeaderLines, however it is read (one write or a few octets at a
// time) and whatever its line ends (CRLF, LF), is not signed:
// ErrHeaderTooLarge, before go-msgauth's signer, whose time grows with
// the square of a field's folded lines, gets more than the bounds. One
// at the bounds is signed and verifies; so is one whose body is past
// them, as the body is not bounded. Lengths are random, the seed logged.
func TestSignBoundsHeader(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	k, err := GenerateKey("ed25519", "s", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := Record(k)
	head := "From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\n"
	// folded is a Subject of n lines after its first, of width octets
	// each with the line end.
	folded := func(n, width int) string {
		return "Subject: s\r\n" + strings.Repeat(" "+strings.Repeat("w", width-3)+"\r\n", n)
	}
	body := "\r\nHello.\r\n"
	for _, tc := range []struct {
		name string
		msg  string
		ok   bool
	}{
		{"lines past the bound", head + folded(MaxHeaderLines+1+rnd.IntN(5000), 3+rnd.IntN(20)) + body, false},
		{"octets past the bound", head + folded(100+rnd.IntN(100), 1<<20/100) + body, false},
		{"one line past the octets", head + "X-Long: " + strings.Repeat("v", MaxHeaderBytes) + "\r\n" + body, false},
		{"no blank line", head + folded(MaxHeaderLines+10, 10), false},
		{"at the lines bound", head + folded(MaxHeaderLines-3, 3+rnd.IntN(100)) + body, true},
		{"near the octets bound", head + folded(MaxHeaderLines/2, (MaxHeaderBytes-200)/(MaxHeaderLines/2)) + body, true},
		{"a big body", head + "Subject: s\r\n" + body + strings.Repeat("body line\r\n", MaxHeaderLines+1+MaxHeaderBytes/11), true},
	} {
		for _, lf := range []bool{false, true} {
			m := tc.msg
			if lf {
				m = strings.ReplaceAll(m, "\r\n", "\n")
			}
			for _, r := range []io.Reader{strings.NewReader(m), iotest.HalfReader(strings.NewReader(m))} {
				sig, err := s.Sign(r)
				if !tc.ok {
					if !errors.Is(err, ErrHeaderTooLarge) {
						t.Errorf("%s (LF %t): signed %.40q, %v; want ErrHeaderTooLarge", tc.name, lf, sig, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s (LF %t): %v", tc.name, lf, err)
					continue
				}
				vs, err := dkim.VerifyWithOptions(strings.NewReader(sig+crlf(m)),
					&dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) { return []string{rec}, nil }})
				if err != nil || len(vs) != 1 || vs[0].Err != nil {
					t.Errorf("%s (LF %t): verification %v %+v", tc.name, lf, err, vs)
				}
			}
		}
	}
}

// crlf is m with its line ends CRLF, as a message goes out.
func crlf(m string) string {
	return strings.ReplaceAll(strings.ReplaceAll(m, "\r\n", "\n"), "\n", "\r\n")
}

// TestCheckHeader: what submission refuses is what the signer would not
// sign: a header section past MaxHeaderBytes or MaxHeaderLines, however
// its lines end; a body of any size after a small header is not read.
func TestCheckHeader(t *testing.T) {
	body := "\r\n" + strings.Repeat("body line\r\n", 100000)
	for _, c := range []struct {
		name string
		msg  string
		ok   bool
	}{
		{"small", msg, true},
		{"small, big body", "From: a\r\n" + body, true},
		{"lines at the bound", "From: a\r\n" + strings.Repeat(" x\r\n", MaxHeaderLines-1) + body, true},
		{"lines past the bound", "From: a\r\n" + strings.Repeat(" x\r\n", MaxHeaderLines) + body, false},
		{"LF lines past the bound", "From: a\n" + strings.Repeat(" x\n", MaxHeaderLines) + "\nbody\n", false},
		{"bytes past the bound", "X-Long: " + strings.Repeat("y ", MaxHeaderBytes/2) + "\r\n" + body, false},
		{"no empty line, small", "From: a\r\nSubject: b\r\n", true},
	} {
		err := CheckHeader([]byte(c.msg))
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrHeaderTooLarge) {
			t.Errorf("%s: CheckHeader = %v, want ok %v", c.name, err, c.ok)
		}
	}
}
