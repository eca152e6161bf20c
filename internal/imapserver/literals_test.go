package imapserver_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// Before sign-in a command that needs it is refused before its literal:
// no "+", nothing read (issue 11 part 4: "a APPEND INBOX {52428800}" got
// "+" and the server buffered 50 MiB per anonymous connection).
func TestPreAuthLiteralRefusedBeforeData(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.send("a APPEND INBOX {52428800}")
	if l := c.line(); !strings.HasPrefix(l, "a BAD command not allowed in this state") {
		t.Fatalf("APPEND before sign-in: %q, want BAD before any +", l)
	}
	c.ok("NOOP")
	// A non-synchronising literal is on its way: over the pre-auth
	// bound it is not read, the connection ends.
	c.send("b APPEND INBOX {52428800+}")
	if l := c.line(); !strings.HasPrefix(l, "b BAD") {
		t.Fatalf("APPEND {n+} before sign-in: %q", l)
	}
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("after a refused {n+} literal too big to skip: %q, want BYE", l)
	}
	// Literals of commands allowed before sign-in are bounded too.
	c = e.dial()
	c.send("c LOGIN {70000}")
	if l := c.line(); !strings.HasPrefix(l, "c BAD [TOOBIG]") {
		t.Fatalf("LOGIN with a 70000-byte literal: %q", l)
	}
	c.ok("NOOP")
	// And a signed-in session may still APPEND large messages.
	c = e.login()
	big := msg("big", strings.Repeat("x", 200<<10))
	c.send(fmt.Sprintf("d APPEND INBOX {%d}", len(big)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND after sign-in: %q", l)
	}
	c.c.Write([]byte(big + "\r\n"))
	if _, st := c.until("d"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND: %s", st)
	}
}

// The literals that sessions hold in memory share one budget: over it a
// synchronising literal gets NO [UNAVAILABLE] instead of "+", a
// non-synchronising one is read and dropped with the same NO, and once
// memory is free again the command goes through. The literals are kept
// under 64 KiB, below which APPEND holds them in memory; larger ones go to
// the spool and count against the in-flight budget (TestAppendOverBudget).
func TestLiteralMemoryBudget(t *testing.T) {
	e := newEnv(t)
	e.stop()
	e.start(imapserver.Config{MaxLiteral: 100 << 10, MaxLiteralMemory: 100 << 10})
	a, b := e.login(), e.login()
	m := msg("budget", strings.Repeat("y", 50<<10))
	if len(m) >= 64<<10 || 2*len(m) <= 100<<10 {
		t.Fatalf("literal of %d bytes: want one in memory, two over the budget", len(m))
	}
	a.send(fmt.Sprintf("a1 APPEND INBOX {%d}", len(m)))
	if l := a.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("first APPEND: %q", l)
	}
	// a holds half the budget while its data is on its way.
	b.send(fmt.Sprintf("b1 APPEND INBOX {%d}", len(m)))
	if l := b.line(); !strings.HasPrefix(l, "b1 NO [UNAVAILABLE]") {
		t.Fatalf("second APPEND over the budget: %q, want NO [UNAVAILABLE] without +", l)
	}
	b.send(fmt.Sprintf("b2 APPEND INBOX {%d+}\r\n%s", len(m), m))
	if l := b.line(); !strings.HasPrefix(l, "b2 NO [UNAVAILABLE]") {
		t.Fatalf("non-synchronising APPEND over the budget: %q", l)
	}
	b.ok("NOOP") // in step after the dropped literal
	io.WriteString(a.c, m+"\r\n")
	a.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, st := a.until("a1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("first APPEND: %s", st)
	}
	// Freed when a's command ended.
	b.send(fmt.Sprintf("b3 APPEND INBOX {%d}", len(m)))
	if l := b.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND after memory was freed: %q", l)
	}
	io.WriteString(b.c, m+"\r\n")
	if _, st := b.until("b3"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("b3: %s", st)
	}
}

// TestLiteralMemoryShare: one account's sessions, each in a MULTIAPPEND
// of many small literals (held in memory until the command ends) that
// stalls, hold at most the account's share of the literal memory: past
// it their next literal gets NO [UNAVAILABLE] before its "+", while
// another account's APPEND and a LOGIN's literal before sign-in go on.
// Before, ten such sessions held all of it and every other session's
// literal, a password sent as one included, was refused.
func TestLiteralMemoryShare(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 36))
	e := newEnv(t)
	e.stop()
	const memory = 8 << 20
	e.start(imapserver.Config{MaxLiteral: 100 << 10, MaxLiteralMemory: memory})
	const bob = "bob@example.org"
	e.addUser(bob)

	// Each of alice's sessions sends up to 20 literals of 40 to 60 KB,
	// under its command limit, and stalls: ten would hold 10 MB.
	var held, refused int
	for i := range 10 {
		c := e.login()
		defer c.c.Close()
		n := 40_000 + rng.IntN(20_000)
		c.send(fmt.Sprintf("m%d APPEND INBOX {%d}", i, n))
		mine := 0 // what this session's command holds
		for k := 0; ; k++ {
			l := c.line()
			if strings.HasPrefix(l, fmt.Sprintf("m%d NO [UNAVAILABLE]", i)) {
				refused++ // and the command's literals are given back
				break
			}
			if !strings.HasPrefix(l, "+") {
				t.Fatalf("session %d, literal %d: %q", i, k, l)
			}
			mine += n
			if k == 19 {
				held += mine // stalls with 20 literals held
				break
			}
			m := msg(fmt.Sprintf("part %d", k), strings.Repeat("z", n))[:n]
			next := 40_000 + rng.IntN(20_000)
			fmt.Fprintf(c.c, "%s {%d}\r\n", m, next)
			n = next
		}
	}
	t.Logf("alice's stalled sessions hold %d bytes of literals; %d refused", held, refused)
	if refused == 0 || held > memory/4 {
		t.Errorf("alice holds %d of %d bytes of literal memory, %d refused: want her share only", held, memory, refused)
	}

	b := e.loginAs(bob)
	m := msg("bob's", strings.Repeat("b", 50<<10))
	b.send(fmt.Sprintf("b1 APPEND INBOX {%d}", len(m)))
	if l := b.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("bob's APPEND while alice's sessions hold their literals: %q, want +", l)
	}
	io.WriteString(b.c, m+"\r\n")
	if _, st := b.until("b1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("bob's APPEND: %s", st)
	}
	c := e.dial()
	c.send(fmt.Sprintf("l1 LOGIN %s {%d}", bob, len(testPassword)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("LOGIN with the password as a literal: %q, want +", l)
	}
	io.WriteString(c.c, testPassword+"\r\n")
	if _, st := c.until("l1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("LOGIN: %s", st)
	}
}
