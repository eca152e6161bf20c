package store

import (
	"context"
	"time"
)

// Throttles keeps failed sign-in counters (auth.Throttle's leaky buckets)
// so that a restart or another node sharing the store does not reset
// them: the console's administrator sign-in uses them (issue 15), and
// IMAP and submission may later. Keys are opaque to the store (the
// caller prefixes them by use: "admin-user:", "admin-ip:").
type Throttles interface {
	// ThrottleLevel returns key's bucket level just after its last
	// failure and the time of that failure; ok is false when the store
	// keeps none (never failed, or drained and purged).
	ThrottleLevel(ctx context.Context, key string) (level float64, last time.Time, ok bool, err error)
	// ThrottleFailure records a failure of key at now in one atomic
	// write, so that concurrent failures on several nodes all count: the
	// level drains by drain per second since the last failure (not below
	// 0), then rises by one; the last failure's time only moves forward.
	ThrottleFailure(ctx context.Context, key string, now time.Time, drain float64) error
	// PurgeThrottles drops the keys fully drained at now and returns how
	// many went.
	PurgeThrottles(ctx context.Context, now time.Time) (int, error)
}
