package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// testAccountChanges: disabling, enabling, a new password and removal
// tell the account's subscribers (store.ChangeAccount) before the call
// returns, and only that account's.
func testAccountChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	var mu sync.Mutex
	got := map[int64]int{}
	for _, a := range accts {
		defer s.Subscribe(a.ID, func(c store.Change) {
			if c.Kind == store.ChangeAccount {
				mu.Lock()
				got[c.AccountID]++
				mu.Unlock()
			}
		})()
	}
	bob := accts[0]
	steps := []func() error{
		func() error { return s.SetEnabled(ctx, bob.Address, false) },
		func() error { return s.SetEnabled(ctx, bob.Address, true) },
		func() error { return s.SetPassword(ctx, bob.Address, "x") },
		func() error { return s.DeleteAccount(ctx, bob.Address) },
	}
	for i, step := range steps {
		must(0, step())
		mu.Lock()
		n, other := got[bob.ID], got[accts[1].ID]
		mu.Unlock()
		if n != i+1 || other != 0 {
			t.Fatalf("after step %d: bob told %d times, eve %d", i+1, n, other)
		}
	}
}
