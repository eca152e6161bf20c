package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testClaimRecent: ClaimRecent gives each UID to exactly one caller, even
// racing, never lowers the claim, and is scoped by account.
func testClaimRecent(t *testing.T, s store.Store) {
	ctx := context.Background()
	bobAcct, eveAcct, in := bobAndEve(t, s)
	bob, eve := bobAcct.ID, eveAcct.ID
	if in.RecentUID != 0 {
		t.Fatalf("new INBOX RecentUID %d", in.RecentUID)
	}
	for i := range 10 {
		deliver(t, s, Raw(string(rune('a'+i)), "x"), time.Now(), store.Copy{AccountID: bob, Mailbox: store.Inbox})
	}
	if _, err := s.ClaimRecent(ctx, eve, in.ID, 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim in bob's INBOX as eve: %v", err)
	}
	var mu sync.Mutex
	got := map[uint32]int{}
	var wg sync.WaitGroup
	for w := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for upTo := uint32(w + 1); upTo <= 10; upTo += 2 {
				first, err := s.ClaimRecent(ctx, bob, in.ID, upTo)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for u := first; u <= upTo; u++ {
					got[u]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for u := uint32(1); u <= 10; u++ {
		if got[u] != 1 {
			t.Errorf("UID %d claimed %d times", u, got[u])
		}
	}
	if first := must(s.ClaimRecent(ctx, bob, in.ID, 3)); first != 11 {
		t.Errorf("claim below the mark returned %d, want 11", first)
	}
	if mb := must(s.Mailbox(ctx, bob, store.Inbox)); mb.RecentUID != 10 {
		t.Errorf("RecentUID %d, want 10", mb.RecentUID)
	}
}
