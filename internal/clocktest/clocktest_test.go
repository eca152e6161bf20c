package clocktest

import (
	"sync"
	"testing"
	"time"
)

// TestAdvanceFromManyGoroutines: every Advance counts once, whatever
// reads and moves the clock at the same time (run with -race).
func TestAdvanceFromManyGoroutines(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	c := New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("New(%v).Now() = %v", t0, got)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(800*time.Second); !got.Equal(want) {
		t.Fatalf("after 800 advances of 1s: %v, want %v", got, want)
	}
}
