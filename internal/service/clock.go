package service

import "github.com/xtramail/xtramail/internal/clock"

// Option adjusts what New builds.
type Option func(*options)

type options struct {
	clock clock.Clock
}

// WithClock makes the service tell time by c wherever it waits a window
// out: the webmail's undo of a delete (the store expunges pending
// deletes when they fall due on c) and of a send (the outbox sends a held
// message when its hold ends on c), submission's hourly limits and
// retention's cut-off. The default is the system clock; tests pass a
// clocktest.Clock and advance it instead of sleeping.
func WithClock(c clock.Clock) Option {
	return func(o *options) { o.clock = c }
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.clock = clock.Or(o.clock)
	return o
}
