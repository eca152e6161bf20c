package auth

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestThrottlePolicy(t *testing.T) {
	th := NewThrottle(DefaultThrottlePolicy())
	const key = "alice@example.com"
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	// Four quick failures are free.
	for i := range 4 {
		th.Failure(key, at(time.Duration(i)*time.Millisecond))
		if ok, _ := th.Allow(key, at(time.Duration(i)*time.Millisecond)); !ok {
			t.Fatalf("refused after %d failures", i+1)
		}
	}
	// The fifth starts back-off: 1 s, then doubling. (Later waits drain
	// the bucket noticeably, one failure per 3 minutes; see
	// TestThrottleDrains.)
	last := at(4 * time.Millisecond)
	for i, wantWait := range []time.Duration{1, 2, 4, 8, 16, 32, 64, 128} {
		wantWait *= time.Second
		th.Failure(key, last)
		ok, retry := th.Allow(key, last)
		if ok || retry != wantWait {
			t.Fatalf("after failure %d: Allow = %v, %v; want false, %v", 5+i, ok, retry, wantWait)
		}
		if ok, retry := th.Allow(key, last.Add(wantWait-time.Millisecond)); ok || retry != time.Millisecond {
			t.Fatalf("1ms before retry time: Allow = %v, %v", ok, retry)
		}
		last = last.Add(wantWait)
		if ok, _ := th.Allow(key, last); !ok {
			t.Fatalf("after failure %d, at retry time: refused", 5+i)
		}
	}

	// The delay is capped.
	for range 30 {
		th.Failure(key, last)
	}
	if ok, retry := th.Allow(key, last); ok || retry != 5*time.Minute {
		t.Fatalf("after a burst of 30 more: Allow = %v, %v; want false, 5m", ok, retry)
	}

	// Success clears the key.
	th.Failure(key, last)
	th.Success(key)
	if ok, _ := th.Allow(key, last); !ok || th.Len() != 0 {
		t.Errorf("after Success: Allow = %v, Len = %d", ok, th.Len())
	}
}

// TestThrottleDrains checks failures are forgiven over time: Burst per
// Window, so one every 3 minutes with the defaults.
func TestThrottleDrains(t *testing.T) {
	th := NewThrottle(DefaultThrottlePolicy())
	const key = "203.0.113.9"
	for range 5 {
		th.Failure(key, t0)
	}
	if ok, retry := th.Allow(key, t0); ok || retry != time.Second {
		t.Fatalf("after 5 failures: Allow = %v, %v", ok, retry)
	}
	// After 3 minutes one failure has drained: a new failure brings the
	// level back to 5, not 6, so the wait is 1 s again, not 2 s.
	th.Failure(key, t0.Add(3*time.Minute))
	if ok, retry := th.Allow(key, t0.Add(3*time.Minute)); ok || retry != time.Second {
		t.Errorf("failure after 3 min: Allow = %v, %v; want false, 1s", ok, retry)
	}
	// A steady trickle slower than the drain never throttles (an office
	// behind NAT with the odd typo).
	th2 := NewThrottle(DefaultThrottlePolicy())
	for i := range 100 {
		now := t0.Add(time.Duration(i) * 4 * time.Minute)
		if ok, _ := th2.Allow(key, now); !ok {
			t.Fatalf("trickle: refused at failure %d", i)
		}
		th2.Failure(key, now)
	}
	// Fully drained keys are dropped.
	th.Allow(key, t0.Add(time.Hour))
	if n := th.Len(); n != 0 {
		t.Errorf("Len after drain = %d, want 0", n)
	}
}

func TestThrottleKeysIndependent(t *testing.T) {
	th := NewThrottle(ThrottlePolicy{Burst: 1})
	th.Failure("a", t0)
	if ok, _ := th.Allow("a", t0); ok {
		t.Error("a not throttled")
	}
	if ok, _ := th.Allow("b", t0); !ok {
		t.Error("b throttled by a's failure")
	}
}

func TestThrottleBounded(t *testing.T) {
	const max = 80
	th := NewThrottle(ThrottlePolicy{MaxKeys: max})
	// The attacked address has many failures; then a flood of fresh keys
	// with one failure each must not evict it.
	for range 20 {
		th.Failure("victim@example.com", t0)
	}
	for i := range 1000 {
		th.Failure(fmt.Sprintf("flood%d", i), t0)
		if n := th.Len(); n > max {
			t.Fatalf("Len = %d > %d", n, max)
		}
	}
	if ok, _ := th.Allow("victim@example.com", t0); ok {
		t.Error("victim's failures evicted by the flood")
	}
	// Once everything has drained, a prune empties the table.
	for i := range max {
		th.Failure(fmt.Sprintf("later%d", i), t0.Add(24*time.Hour))
	}
	if n := th.Len(); n != max {
		t.Errorf("Len = %d, want %d", n, max)
	}
}
