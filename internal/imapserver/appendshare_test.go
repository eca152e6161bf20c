package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/smtpserver"
)

// TestAppendShareOfBudget guards the in-flight share on IMAP: one account whose
// sessions each start an APPEND of a large literal and stall in it holds
// at most its share of the in-flight budget however many sessions it
// opens: past it, its APPENDs are answered NO [UNAVAILABLE] before the
// "+", while another account's APPEND is stored. Before, its sessions
// held the whole budget and everyone's APPENDs were refused. Once its
// sessions end, the budget holds nothing.
func TestAppendShareOfBudget(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 35))
	e := newEnv(t)
	e.stop()
	se := &spoolEnv{env: e, spool: t.TempDir(), budget: smtpserver.NewBudget(8 << 20)}
	e.start(imapserver.Config{SpoolDir: se.spool, Inflight: se.budget, MaxLiteral: 1 << 20})
	share := se.budget.Share()
	if share < 1<<20 || share > 2<<20 {
		t.Fatalf("share %d, want a little more than the 1 MiB APPENDLIMIT", share)
	}
	const bob, bobPw = "bob@example.org", "bob's password"
	hash, err := auth.HashParams(bobPw, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateAccount(context.Background(), bob, hash); err != nil {
		t.Fatal(err)
	}

	// Alice's sessions each start a literal of 300 to 400 KB, send part
	// of it and stall: 24 of them would be more than the budget.
	var started int64
	var refused int
	var alice []*conn
	for i := range 24 {
		c := se.login()
		alice = append(alice, c)
		n := 300_000 + rng.IntN(100_000)
		c.send(fmt.Sprintf("s%d APPEND INBOX {%d}", i, n))
		l := c.line()
		switch {
		case strings.HasPrefix(l, "+"):
			started += int64(n)
			if _, err := c.c.Write(bigMessage(rng, n)[:n/2]); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(l, fmt.Sprintf("s%d NO [UNAVAILABLE]", i)):
			refused++
		default:
			t.Fatalf("APPEND %d: %q", i, l)
		}
	}
	if started > share || refused == 0 {
		t.Errorf("alice's stalled APPENDs took %d, her share is %d; %d refused", started, share, refused)
	}
	if got := se.budget.Used(); got != started {
		t.Errorf("budget holds %d, alice's literals %d", got, started)
	}

	// Bob's APPEND is stored meanwhile.
	b := e.dial()
	b.ok("LOGIN " + bob + ` "` + bobPw + `"`)
	if st := appendRaw(t, b, "INBOX", "", bigMessage(rng, 900<<10)); !strings.HasPrefix(st, "OK") {
		t.Errorf("bob's APPEND while alice stalls: %s", st)
	}
	b.c.Close()

	// Her sessions end: the budget holds nothing.
	for _, c := range alice {
		c.c.Close()
	}
	se.settled(t)
}
