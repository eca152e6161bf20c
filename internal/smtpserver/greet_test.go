package smtpserver

import (
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestGreetingNameBounded: no reply line is longer than RFC 5321's 512
// octets whatever name a client greets with. go-smtp echoed the name
// whole ("250-Hello " and 100,000 octets): a name past a domain's 255
// octets is refused 501 5.5.2 at the first HELO or EHLO, the session
// going on, and ends the session at a later one, which go-smtp answers
// 250 whatever the session says.
func TestGreetingNameBounded(t *testing.T) {
	ln, _ := serveTest(t, Config{MaxMessageBytes: 1 << 20})

	// greet sends cmd and returns every line of its reply, failing on a
	// line over 512 octets.
	greet := func(cl *client, cmd string) []string {
		t.Helper()
		cl.send(cmd + "\r\n")
		var lines []string
		for {
			l, err := cl.br.ReadString('\n')
			if len(l) > 512 {
				t.Fatalf("%.30s… (%d octets): a reply line of %d octets", cmd, len(cmd), len(l))
			}
			if err != nil {
				t.Fatalf("%.30s… (%d octets): %v", cmd, len(cmd), err)
			}
			lines = append(lines, strings.TrimRight(l, "\r\n"))
			if len(l) < 4 || l[3] != '-' {
				return lines
			}
		}
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	name := func(n int) string {
		const chars = "abcdefghijklmnopqrstuvwxyz0123456789-."
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	lengths := []int{1, 254, 255, 256, 257, 1000, 100_000}
	for range 20 {
		lengths = append(lengths, 1+rng.IntN(8000))
	}
	for _, n := range lengths {
		for _, verb := range []string{"EHLO", "HELO"} {
			cl := dial(t, ln.Addr().String())
			lines := greet(cl, verb+" "+name(n))
			last := lines[len(lines)-1]
			if n > maxGreetingName {
				if !strings.HasPrefix(last, "501 5.5.2 ") {
					t.Fatalf("%s of %d octets: %q, want 501 5.5.2", verb, n, last)
				}
				// The session goes on: a greeting with a real name works.
				lines = greet(cl, verb+" client.test")
				last = lines[len(lines)-1]
			}
			if !strings.HasPrefix(last, "250") {
				t.Fatalf("%s of %d octets: %q, want 250", verb, n, lines)
			}
			cl.c.Close()
		}
	}

	// A second EHLO: the session is there already, and go-smtp answers
	// 250 after Reset whatever it does, so the connection ends instead.
	cl := dial(t, ln.Addr().String())
	greet(cl, "EHLO client.test")
	cl.send("EHLO " + name(100_000) + "\r\n")
	cl.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	rest, err := io.ReadAll(cl.br)
	if err != nil {
		t.Fatalf("after a second EHLO too long: %v (read %q)", err, rest)
	}
	if len(rest) > 512 {
		t.Fatalf("after a second EHLO too long: %d octets, starting %.60q", len(rest), rest)
	}
}
