package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestAdminThrottleSharedByNodesAndRestarts: two services on one
// database file (two nodes), and a third opened after the first closed
// (a restart), share the admin sign-in throttle: failures on one node
// lock the address out on the other and after the restart, even with
// the right password from an IP the address never used; once the
// bucket has drained (the clock moves on), the right password works.
func TestAdminThrottleSharedByNodesAndRestarts(t *testing.T) {
	open := reopenable(t)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	h := ok[*auth.Hasher](t)(auth.NewHasher(cheapParams, 4))
	ctx := context.Background()
	stA, stB := open(), open()
	defer stB.Close()
	a := New(stA, Options{Hasher: h, Now: clock})
	b := New(stB, Options{Hasher: h, Now: clock})
	ok[AdminInfo](t)(a.AddAdmin(ctx, CLI(), "ops@provider.test", testPassword, store.RoleProvider, 0))

	// Each failure from its own IP: only the address's counter fills.
	for i := range auth.DefaultThrottlePolicy().Burst {
		ip := "192.0.2." + string(rune('1'+i))
		if _, err := a.SignIn(ctx, "ops@provider.test", "wrong password", ip); !errors.Is(err, ErrUnauthenticated) || errors.Is(err, auth.ErrThrottled) {
			t.Fatalf("failure %d on node A: %v", i+1, err)
		}
	}
	if _, err := b.SignIn(ctx, "ops@provider.test", testPassword, "198.51.100.7"); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("node B after 5 failures on node A: %v, want throttled", err)
	}
	check(t, stA.Close())
	c := New(open(), Options{Hasher: h, Now: clock})
	if _, err := c.SignIn(ctx, "ops@provider.test", testPassword, "198.51.100.8"); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("after a restart: %v, want throttled", err)
	}
	// The per-IP counter is shared too: 20 failures for other
	// addresses from one IP on node B, then node C refuses that IP.
	for i := range auth.DefaultIPThrottlePolicy().Burst {
		b.SignIn(ctx, "guess"+string(rune('a'+i))+"@provider.test", "wrong password", "203.0.113.9")
	}
	if _, err := c.SignIn(ctx, "other@provider.test", "wrong password", "203.0.113.9"); !errors.Is(err, auth.ErrThrottled) {
		t.Fatalf("the spraying IP on another node: %v, want throttled", err)
	}
	now = now.Add(time.Hour) // drained
	if _, err := c.SignIn(ctx, "ops@provider.test", testPassword, "198.51.100.8"); err != nil {
		t.Fatalf("after the bucket drained: %v", err)
	}
}
