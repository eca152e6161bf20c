// Package clocktest is a settable clock for tests: code under test takes
// its Now (a func() time.Time option) or the whole clock (a clock.Clock:
// Now and At), and the test moves time on with Advance instead of
// sleeping.
package clocktest

import (
	"slices"
	"sync"
	"time"
)

// Clock is a time source safe for concurrent use; it moves only when told.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

// waiter is a channel waiting for the clock to reach at.
type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At returns a channel that receives the clock's time once Advance or
// Set moved it to t or later; at once when it stands there already.
func (c *Clock) At(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !c.now.Before(t) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: t, ch: ch})
	return ch
}

// Waiting returns the times that At calls still wait for, earliest first:
// a test's hook to see that the code under test is asleep until a given
// moment before it moves the clock there.
func (c *Clock) Waiting() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, w := range c.waiters {
		out = append(out, w.at)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t, for tests that name the times of their steps.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

// set moves the clock and wakes the waiters it reached; c.mu is held.
func (c *Clock) set(t time.Time) {
	c.now = t
	c.waiters = slices.DeleteFunc(c.waiters, func(w waiter) bool {
		if t.Before(w.at) {
			return false
		}
		w.ch <- t
		return true
	})
}
