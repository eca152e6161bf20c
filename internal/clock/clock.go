// Package clock is the time source of the workers that wait for a
// moment to come (the webmail's undo windows: a delete expunged, a held
// message sent): the system clock, or a test's (clocktest.Clock), which
// moves only when the test moves it, so that a test advances time instead
// of sleeping through a window.
package clock

import "time"

// Clock tells the time and wakes a waiter at a time.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reads t or
	// later (at once when it does already). A deadline rather than a
	// duration: a clock moved between reading Now and asking cannot
	// push the wake-up later.
	At(t time.Time) <-chan time.Time
}

// System is the system clock.
type System struct{}

// Now is time.Now.
func (System) Now() time.Time { return time.Now() }

// At is time.After until t.
func (System) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// Or returns c, or the system clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}
