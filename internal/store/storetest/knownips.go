package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testKnownIPs covers the known sign-in IPs: recorded and found per
// address and IP, moved only forward, bounded per address (the most
// recent kept), expired entries dropped by the next touch and by purge,
// forgotten per address without touching others, and concurrent touches
// of one address never exceed the bound.
func testKnownIPs(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	never := time.Time{}
	known := func(addr, ip string) (time.Time, bool) {
		t.Helper()
		seen, ok, err := s.KnownIP(ctx, addr, ip)
		if err != nil {
			t.Fatalf("KnownIP(%s, %s): %v", addr, ip, err)
		}
		return seen, ok
	}
	touch := func(addr, ip string, seen, expired time.Time, keep int) {
		t.Helper()
		if err := s.TouchKnownIP(ctx, addr, ip, seen, expired, keep); err != nil {
			t.Fatalf("TouchKnownIP(%s, %s): %v", addr, ip, err)
		}
	}

	if _, ok := known("a@example.org", "192.0.2.1"); ok {
		t.Fatal("an IP is known before any sign-in")
	}
	touch("a@example.org", "192.0.2.1", t0, never, 4)
	touch("a@example.org", "2001:db8::/64", t0.Add(time.Minute), never, 4)
	if seen, ok := known("a@example.org", "192.0.2.1"); !ok || !seen.Equal(t0) {
		t.Fatalf("known IP read back as %v %v, want %v", seen, ok, t0)
	}
	if _, ok := known("b@example.org", "192.0.2.1"); ok {
		t.Fatal("another address's IP is known for b@")
	}
	if _, ok := known("a@example.org", "192.0.2.2"); ok {
		t.Fatal("an IP a@ never used is known")
	}
	// Moved forward only.
	touch("a@example.org", "192.0.2.1", t0.Add(time.Hour), never, 4)
	touch("a@example.org", "192.0.2.1", t0.Add(time.Minute), never, 4)
	if seen, _ := known("a@example.org", "192.0.2.1"); !seen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("last seen %v, want the later %v", seen, t0.Add(time.Hour))
	}

	// Bounded: with keep 3, the least recent go.
	for i := range 5 {
		touch("c@example.org", fmt.Sprintf("198.51.100.%d", i), t0.Add(time.Duration(i)*time.Minute), never, 3)
	}
	for i := range 5 {
		_, ok := known("c@example.org", fmt.Sprintf("198.51.100.%d", i))
		if ok != (i >= 2) {
			t.Errorf("c@ IP %d known %v after 5 touches keeping 3", i, ok)
		}
	}
	// Expired entries of the address go with its next touch.
	touch("c@example.org", "198.51.100.9", t0.Add(time.Hour), t0.Add(3*time.Minute+time.Second), 3)
	for i, want := range map[int]bool{2: false, 3: false, 4: true, 9: true} {
		if _, ok := known("c@example.org", fmt.Sprintf("198.51.100.%d", i)); ok != want {
			t.Errorf("c@ IP %d known %v after a touch expiring before +3m1s, want %v", i, ok, want)
		}
	}

	// Forget one address; others stay.
	if err := s.ForgetKnownIPs(ctx, "a@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, ok := known("a@example.org", "192.0.2.1"); ok {
		t.Fatal("a@'s IP still known after ForgetKnownIPs")
	}
	if _, ok := known("c@example.org", "198.51.100.9"); !ok {
		t.Fatal("forgetting a@ dropped c@'s IP")
	}

	// Purge by age across addresses.
	touch("d@example.org", "203.0.113.1", t0, never, 3)
	n, err := s.PurgeKnownIPs(ctx, t0.Add(30*time.Minute))
	if err != nil || n != 2 { // d@'s and c@'s 198.51.100.4 (t0+4m)
		t.Fatalf("PurgeKnownIPs removed %d (%v), want 2", n, err)
	}
	if _, ok := known("c@example.org", "198.51.100.9"); !ok {
		t.Fatal("purge dropped an entry seen after its cut-off")
	}

	// Concurrent touches of one address keep the bound.
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			errs <- s.TouchKnownIP(ctx, "e@example.org", fmt.Sprintf("192.0.2.%d", i), t0.Add(time.Duration(i)*time.Second), never, 5)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	count := 0
	for i := range 24 {
		if _, ok := known("e@example.org", fmt.Sprintf("192.0.2.%d", i)); ok {
			count++
		}
	}
	if count != 5 {
		t.Fatalf("%d known IPs for e@ after 24 concurrent touches keeping 5", count)
	}
}
