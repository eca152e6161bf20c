package storetest

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testThrottles covers the failed sign-in counters: a key never failed
// has none; each failure drains the level by the time since the last
// one, then adds one; an earlier time never moves the last failure
// back; concurrent failures all count; purge drops drained keys only.
func testThrottles(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	const drain = 0.5 // failures forgiven per second
	level := func(key string) (float64, time.Time, bool) {
		t.Helper()
		l, last, ok, err := s.ThrottleLevel(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return l, last, ok
	}
	fail := func(key string, at time.Time) {
		t.Helper()
		if err := s.ThrottleFailure(ctx, key, at, drain); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok := level("k"); ok {
		t.Fatal("a key never failed has a level")
	}
	fail("k", t0)
	fail("k", t0)
	fail("k", t0.Add(2*time.Second)) // 2 - 1 + 1
	if l, last, ok := level("k"); !ok || math.Abs(l-2) > 1e-9 || !last.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("level %v at %v (%t), want 2 at t0+2s", l, last, ok)
	}
	fail("k", t0) // a node whose clock is behind
	if l, last, _ := level("k"); math.Abs(l-3) > 1e-9 || !last.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after an earlier failure: level %v at %v", l, last)
	}
	fail("k", t0.Add(time.Hour)) // drained to 0, then 1
	if l, _, _ := level("k"); math.Abs(l-1) > 1e-9 {
		t.Fatalf("after an hour: level %v, want 1", l)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { fail("c", t0) })
	}
	wg.Wait()
	if l, _, _ := level("c"); math.Abs(l-8) > 1e-9 {
		t.Fatalf("8 concurrent failures left level %v", l)
	}
	// At t0+1h+1s "k" is at 0.5, "c" long drained.
	n, err := s.PurgeThrottles(ctx, t0.Add(time.Hour+time.Second))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v, want 1", n, err)
	}
	if _, _, ok := level("c"); ok {
		t.Fatal("a drained key survived the purge")
	}
	if _, _, ok := level("k"); !ok {
		t.Fatal("a key still filled was purged")
	}
}
