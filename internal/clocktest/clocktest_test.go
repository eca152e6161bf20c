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

// TestAtWakesWhenReached: a waiter receives once the clock reaches its
// time, not before, whether Advance or Set moves it; one already due
// receives at once; Waiting lists the ones not reached yet.
func TestAtWakesWhenReached(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	c := New(t0)
	early, late := c.At(t0.Add(time.Second)), c.At(t0.Add(time.Minute))
	select {
	case <-c.At(t0):
	default:
		t.Fatal("At(now) did not receive at once")
	}
	if w := c.Waiting(); len(w) != 2 || !w[0].Equal(t0.Add(time.Second)) || !w[1].Equal(t0.Add(time.Minute)) {
		t.Fatalf("Waiting() = %v", w)
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-early:
		t.Fatal("a waiter received before its time")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-early; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("early received %v", got)
	}
	c.Set(t0.Add(2 * time.Minute))
	if got := <-late; !got.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("late received %v", got)
	}
	if w := c.Waiting(); len(w) != 0 {
		t.Fatalf("Waiting() after both = %v", w)
	}
}
