package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestHasher(t testing.TB, limit int) *Hasher {
	t.Helper()
	h, err := NewHasher(cheap, limit)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHasherRoundTrip(t *testing.T) {
	h := newTestHasher(t, 2)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(ctx, encoded, "pw"); !ok || err != nil {
		t.Errorf("Verify(right) = %v, %v", ok, err)
	}
	if ok, err := h.Verify(ctx, encoded, "nope"); ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v", ok, err)
	}
	if _, err := h.Verify(ctx, "garbage", "pw"); !errors.Is(err, ErrMalformedHash) {
		t.Errorf("Verify(garbage) error = %v, want ErrMalformedHash", err)
	}
}

func TestNewHasherRejectsParams(t *testing.T) {
	if _, err := NewHasher(Params{}, 1); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("NewHasher(zero Params) error = %v, want ErrUnsupportedHash", err)
	}
}

// TestHasherBound holds the only slot and checks that other computations
// wait for it, give up when their ctx ends, and run once it is freed.
func TestHasherBound(t *testing.T) {
	h := newTestHasher(t, 1)
	encoded := mustHash(t, "pw")

	release := make(chan struct{})
	held := make(chan struct{})
	go h.withSlot(context.Background(), func() error {
		close(held)
		<-release
		return nil
	})
	<-held

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Verify(ctx, encoded, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with busy slot and short ctx: error = %v, want DeadlineExceeded", err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := h.Hash(cancelled, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with cancelled ctx: error = %v, want Canceled", err)
	}

	done := make(chan bool)
	go func() {
		ok, _ := h.Verify(context.Background(), encoded, "pw")
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("Verify ran while the only slot was held")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case ok := <-done:
		if !ok {
			t.Error("Verify after release = false")
		}
	case <-time.After(time.Minute):
		t.Fatal("Verify did not run after the slot was released")
	}
}

func TestHasherNeverExceedsLimit(t *testing.T) {
	const limit = 3
	h := newTestHasher(t, limit)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			h.withSlot(context.Background(), func() error {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				return nil
			})
		})
	}
	wg.Wait()
	if p := peak.Load(); p > limit || p < 1 {
		t.Errorf("peak concurrency %d, want 1..%d", p, limit)
	}
}
