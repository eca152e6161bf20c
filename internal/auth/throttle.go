package auth

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// ThrottlePolicy says how many failed logins a key (an address or a client
// IP) may have before it must wait, and for how long.
//
// Failures fill a leaky bucket: each adds one, and the bucket drains by
// Burst every Window (one failure forgiven every Window/Burst). While the
// level is below Burst, attempts are free. From Burst on, each attempt
// must come at least BaseDelay·2^(level−Burst) after the last failure,
// capped at MaxDelay. So with the defaults (5 per 15 minutes, 1 s to
// 5 min) a burst of 5 typos is free, a 6th attempt waits 1 s, then 2 s,
// 4 s…; a patient attacker gets about one guess every 3 minutes per key.
// Unlike a counter reset after a quiet period, the bucket also empties
// under a steady trickle of failures, which matters for an IP shared by a
// whole office behind NAT.
type ThrottlePolicy struct {
	Burst     int           // failures free of delay
	Window    time.Duration // time to drain Burst failures
	BaseDelay time.Duration // first delay once Burst is reached
	MaxDelay  time.Duration // delay cap
	MaxKeys   int           // memory bound: keys tracked at most
}

// DefaultThrottlePolicy is the policy for login addresses.
func DefaultThrottlePolicy() ThrottlePolicy {
	return ThrottlePolicy{Burst: 5, Window: 15 * time.Minute, BaseDelay: time.Second, MaxDelay: 5 * time.Minute, MaxKeys: 100000}
}

// DefaultIPThrottlePolicy is the policy for client IPs: more lenient than
// for addresses, since many users may share one IP (NAT, a webmail proxy),
// yet still bounding password spraying across many addresses.
func DefaultIPThrottlePolicy() ThrottlePolicy {
	p := DefaultThrottlePolicy()
	p.Burst = 20
	return p
}

// Throttle tracks failed logins per key. Times are passed in (rather than
// read from the clock) so tests and callers control them. It runs no
// goroutine: drained keys are dropped when touched or when the table is
// full.
//
// A Throttle is safe for concurrent use.
type Throttle struct {
	policy ThrottlePolicy
	rate   float64 // drain, in failures per second
	// durable, when set, keeps the counters across restarts and nodes
	// (NewStoreThrottle); prefix is put before each key there.
	durable ThrottleStore
	prefix  string

	mu        sync.Mutex
	keys      map[string]*throttleEntry
	lastPurge time.Time // of the durable store
}

type throttleEntry struct {
	level float64   // bucket level just after the last failure
	last  time.Time // time of the last failure
}

// ThrottleStore keeps a Throttle's counters durable; store.Throttles is
// one. Its contract: ThrottleFailure drains the key's level at drain per
// second since its last failure, adds one and moves the time forward, in
// one atomic write; ThrottleLevel reads what it wrote; PurgeThrottles
// drops the keys drained at now.
type ThrottleStore interface {
	ThrottleLevel(ctx context.Context, key string) (level float64, last time.Time, ok bool, err error)
	ThrottleFailure(ctx context.Context, key string, now time.Time, drain float64) error
	PurgeThrottles(ctx context.Context, now time.Time) (int, error)
}

// throttlePurgeEvery is how often a durable Throttle drops drained keys
// from its store (on a failure, at most this often per process).
const throttlePurgeEvery = 10 * time.Minute

// NewStoreThrottle returns a Throttle with policy p whose counters are
// also kept in st under prefix+key, so that a restart or another node
// sharing st does not reset them. Each attempt that memory allows costs
// one read of st, and each failure one write. Memory keeps counting
// this node's failures when st fails.
func NewStoreThrottle(p ThrottlePolicy, st ThrottleStore, prefix string) *Throttle {
	t := NewThrottle(p)
	t.durable, t.prefix = st, prefix
	return t
}

// NewThrottle returns a Throttle with policy p; zero fields take the
// values of [DefaultThrottlePolicy].
func NewThrottle(p ThrottlePolicy) *Throttle {
	d := DefaultThrottlePolicy()
	if p.Burst <= 0 {
		p.Burst = d.Burst
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxKeys <= 0 {
		p.MaxKeys = d.MaxKeys
	}
	return &Throttle{
		policy: p,
		rate:   float64(p.Burst) / p.Window.Seconds(),
		keys:   map[string]*throttleEntry{},
	}
}

// Allow reports whether an attempt for key may proceed at now, and if not,
// how long until it may.
func (t *Throttle) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	return t.allow(context.Background(), key, now)
}

// allow is Allow with the durable store asked too (when there is one and
// memory allows): the stricter answer wins, and a store that cannot
// answer leaves memory's, which still counts this node's failures.
func (t *Throttle) allow(ctx context.Context, key string, now time.Time) (bool, time.Duration) {
	ok, retry := t.allowMemory(key, now)
	if !ok || t.durable == nil {
		return ok, retry
	}
	level, last, found, err := t.durable.ThrottleLevel(ctx, t.prefix+key)
	if err != nil || !found {
		return true, 0
	}
	e := throttleEntry{level: level, last: last}
	if t.drained(&e, now) <= 0 {
		return true, 0
	}
	if wait := t.delay(e.level); wait > 0 {
		if retry := e.last.Add(wait).Sub(now); retry > 0 {
			return false, retry
		}
	}
	return true, 0
}

func (t *Throttle) allowMemory(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		return true, 0
	}
	if t.drained(e, now) <= 0 {
		delete(t.keys, key)
		return true, 0
	}
	wait := t.delay(e.level)
	if wait == 0 {
		return true, 0
	}
	if retry := e.last.Add(wait).Sub(now); retry > 0 {
		return false, retry
	}
	return true, 0
}

// Failure records a failed attempt for key at now.
func (t *Throttle) Failure(key string, now time.Time) {
	t.failure(context.Background(), key, now)
}

// failure is Failure written to the durable store too. A failed write
// is not the sign-in's error: memory still counts it on this node.
func (t *Throttle) failure(ctx context.Context, key string, now time.Time) {
	t.failureMemory(key, now)
	if t.durable == nil {
		return
	}
	_ = t.durable.ThrottleFailure(ctx, t.prefix+key, now, t.rate)
	t.mu.Lock()
	purge := now.Sub(t.lastPurge) >= throttlePurgeEvery
	if purge {
		t.lastPurge = now
	}
	t.mu.Unlock()
	if purge {
		// Keys that fail once and never again would otherwise stay.
		_, _ = t.durable.PurgeThrottles(ctx, now)
	}
}

func (t *Throttle) failureMemory(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		if len(t.keys) >= t.policy.MaxKeys {
			t.prune(now)
		}
		e = &throttleEntry{}
		t.keys[key] = e
	}
	e.level = t.drained(e, now) + 1
	if now.After(e.last) { // Callers' clocks may interleave slightly.
		e.last = now
	}
}

// Success forgets key's failures: its owner has shown the password.
func (t *Throttle) Success(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// Len returns the number of keys tracked.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// drained returns e's level at now.
func (t *Throttle) drained(e *throttleEntry, now time.Time) float64 {
	elapsed := now.Sub(e.last).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return max(0, e.level-elapsed*t.rate)
}

// delay returns the wait after the last failure for a bucket at level.
func (t *Throttle) delay(level float64) time.Duration {
	// ceil: 5 failures a few ms apart leave 4.99…, which is still 5.
	exp := int(math.Ceil(level)) - t.policy.Burst
	if exp < 0 {
		return 0
	}
	if exp >= 32 {
		return t.policy.MaxDelay
	}
	return min(t.policy.BaseDelay<<exp, t.policy.MaxDelay)
}

// prune drops drained keys and, if the table is still full, the keys with
// the lowest levels down to 7/8 of MaxKeys. Keeping the highest levels
// means flooding the table with fresh keys (which costs the flooder one
// argon2 computation each) does not reset the counter of an address under
// attack.
func (t *Throttle) prune(now time.Time) {
	type kl struct {
		key   string
		level float64
	}
	var live []kl
	for k, e := range t.keys {
		if l := t.drained(e, now); l <= 0 {
			delete(t.keys, k)
		} else {
			live = append(live, kl{k, l})
		}
	}
	target := t.policy.MaxKeys - t.policy.MaxKeys/8
	if target >= t.policy.MaxKeys {
		target = t.policy.MaxKeys - 1
	}
	if len(live) <= target {
		return
	}
	slices.SortFunc(live, func(a, b kl) int {
		return cmp.Or(cmp.Compare(a.level, b.level), strings.Compare(a.key, b.key))
	})
	for _, x := range live[:len(live)-target] {
		delete(t.keys, x.key)
	}
}
