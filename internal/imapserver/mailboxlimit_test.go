package imapserver_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// TestMailboxLimit: an account's folders were unbounded (probe 38i: 3,000
// pipelined CREATEs of names up to 512 bytes all succeeded). Past the
// store's bound CREATE gets NO [LIMIT] and creates nothing, parents
// included; DELETE makes room again; RENAME of INBOX, which makes a
// folder, is bounded too; and sessions creating at once cannot pass the
// bound together, since the store counts in the creating transaction.
func TestMailboxLimit(t *testing.T) {
	const limit = 12
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := newEnvStore(t, openStoreWith(t, dir, sqlite.Options{MaxMailboxes: limit}), dir)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	name := func(i int) string {
		// Names of random length and case, as a client's folders are.
		b := []byte(fmt.Sprintf("f%03d-", i))
		for range rng.IntN(40) {
			b = append(b, "abcdefghijKLMNOP"[rng.IntN(16)])
		}
		return string(b)
	}
	count := func() int {
		t.Helper()
		mbs, err := e.st.Mailboxes(context.Background(), e.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(mbs)
	}
	start := count() // the default folders count
	c := e.login()
	var made []string
	for i := start; i < limit; i++ {
		n := name(i)
		c.ok(`CREATE "` + n + `"`)
		made = append(made, n)
	}
	c.want(`CREATE "`+name(limit)+`"`, "NO [LIMIT]")
	if got := c.tagLine(); !strings.Contains(got, "too many folders") {
		t.Errorf("NO text %q does not say why", got)
	}
	c.want(`RENAME INBOX "`+name(limit)+`"`, "NO [LIMIT]")
	// A rename makes no folder: allowed at the bound.
	c.ok(`RENAME "` + made[0] + `" "` + made[0] + `-renamed"`)
	made[0] += "-renamed"
	if n := count(); n != limit {
		t.Fatalf("%d folders, want %d", n, limit)
	}

	// Room for one: a name with two missing parents needs three, and
	// none of them is made.
	c.ok(`DELETE "` + made[0] + `"`)
	c.want(`CREATE "p/q/r"`, "NO [LIMIT]")
	if lines := c.ok(`LIST "" "p*"`); len(lines) != 0 {
		t.Errorf("parents left by a refused CREATE: %q", lines)
	}
	c.ok(`CREATE "` + made[0] + `"`)
	c.want(`CREATE "`+name(limit+1)+`"`, "NO [LIMIT]")

	// Sessions creating at once, pipelined, from room for limit-start.
	for _, n := range made {
		c.ok(`DELETE "` + n + `"`)
	}
	const sessions, each = 8, 6
	conns := make([]*conn, sessions)
	for i := range conns {
		conns[i] = e.login()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i, sc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b strings.Builder
			for j := range each {
				fmt.Fprintf(&b, "c%d CREATE \"s%d-%d\"\r\n", j, i, j)
			}
			sc.c.Write([]byte(b.String()))
			for j := range each {
				_, st := sc.until(fmt.Sprintf("c%d", j))
				switch {
				case strings.HasPrefix(st, "OK"):
					mu.Lock()
					created++
					mu.Unlock()
				case !strings.HasPrefix(st, "NO [LIMIT]"):
					t.Errorf("session %d CREATE %d: %q", i, j, st)
				}
			}
		}()
	}
	wg.Wait()
	if n := count(); n != limit || created != limit-start {
		t.Errorf("%d sessions each creating %d at once: %d created, %d folders; want %d and %d",
			sessions, each, created, n, limit-start, limit)
	}
	if _, err := e.st.CreateMailbox(context.Background(), e.account.ID, "direct", ""); err == nil {
		t.Errorf("the store created a folder past its bound")
	} else if !errors.Is(err, store.ErrLimit) {
		t.Errorf("the store past its bound: %v, want ErrLimit", err)
	}
}
