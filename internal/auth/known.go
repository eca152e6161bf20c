package auth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// KnownIPs remembers, per address, the client IPs (throttle keys: an
// IPv6 client's /64) from which the address signed in successfully. From
// such an IP a login whose password verifies passes the address's
// lock-out, so that the owner's phone and desktop keep working while
// others guess the password from elsewhere (issue 11 part 4).
//
// With a [KnownIPStore] the set is durable: an IP stays known across a
// restart and on every node that shares the store. Memory then caches the
// store: a lookup that misses memory asks the store once, and a sign-in
// writes to the store at most once per IP per refresh interval (a tenth
// of the TTL, at most an hour), so that frequent sign-ins cost no write
// each. Without one, the set is in memory only.
//
// A KnownIPs is safe for concurrent use.
type KnownIPs struct {
	ttl     time.Duration
	perUser int
	max     int // addresses at most (memory)
	durable KnownIPStore
	refresh time.Duration // how often a sign-in moves the store's entry forward

	mu        sync.Mutex
	users     map[string]map[string]knownIP // address → IP key → entry
	lastPurge time.Time
}

// knownIP is one remembered sign-in.
type knownIP struct {
	seen  time.Time // last successful sign-in
	saved time.Time // what the durable store holds (zero: not known to hold it)
}

// KnownIPStore keeps known IPs durably; store.KnownIPs is one. Its
// contract: TouchKnownIP moves an entry forward and bounds the address to
// its keep most recent entries not seen before expired; KnownIP finds
// one; ForgetKnownIPs drops an address's; PurgeKnownIPs drops those
// seen before a time.
type KnownIPStore interface {
	TouchKnownIP(ctx context.Context, address, ip string, seen, expired time.Time, keep int) error
	KnownIP(ctx context.Context, address, ip string) (time.Time, bool, error)
	ForgetKnownIPs(ctx context.Context, address string) error
	PurgeKnownIPs(ctx context.Context, before time.Time) (int, error)
}

// Defaults for [NewKnownIPs].
const (
	DefaultKnownIPTTL     = 30 * 24 * time.Hour
	DefaultKnownIPPerUser = 16
	DefaultKnownIPUsers   = 100000
)

// NewKnownIPs returns a set that keeps an IP for ttl after its last
// successful sign-in, perUser IPs per address (the most recent) and, in
// memory, max addresses; zero or negative values mean the defaults.
// durable, when not nil, keeps the set across restarts and nodes.
func NewKnownIPs(ttl time.Duration, perUser, max int, durable KnownIPStore) *KnownIPs {
	if ttl <= 0 {
		ttl = DefaultKnownIPTTL
	}
	if perUser <= 0 {
		perUser = DefaultKnownIPPerUser
	}
	if max <= 0 {
		max = DefaultKnownIPUsers
	}
	return &KnownIPs{ttl: ttl, perUser: perUser, max: max, durable: durable,
		refresh: min(time.Hour, ttl/10), users: map[string]map[string]knownIP{}}
}

// Has reports whether user signed in from ip within the TTL before now.
// A store that cannot answer makes it false: the lock-out then applies,
// which is the safe side.
func (k *KnownIPs) Has(ctx context.Context, user, ip string, now time.Time) bool {
	if ip == "" {
		return false
	}
	k.mu.Lock()
	e, ok := k.users[user][ip]
	k.mu.Unlock()
	if ok && now.Sub(e.seen) < k.ttl {
		return true
	}
	if k.durable == nil {
		return false
	}
	seen, ok, err := k.durable.KnownIP(ctx, user, ip)
	if err != nil || !ok || now.Sub(seen) >= k.ttl {
		return false
	}
	k.mu.Lock()
	k.put(user, ip, knownIP{seen: seen, saved: seen}, now)
	k.mu.Unlock()
	return true
}

// Add records a successful sign-in of user from ip at now. A failed
// store write is not the sign-in's failure: the IP stays known in memory
// and the next sign-in writes again.
func (k *KnownIPs) Add(ctx context.Context, user, ip string, now time.Time) {
	if ip == "" {
		return
	}
	k.mu.Lock()
	e := k.users[user][ip]
	e.seen = now
	write := k.durable != nil && now.Sub(e.saved) >= k.refresh
	purge := write && now.Sub(k.lastPurge) >= k.refresh
	if purge {
		k.lastPurge = now
	}
	k.put(user, ip, e, now)
	k.mu.Unlock()
	if !write {
		return
	}
	if err := k.durable.TouchKnownIP(ctx, user, ip, now, now.Add(-k.ttl), k.perUser); err != nil {
		return
	}
	k.mu.Lock()
	if e, ok := k.users[user][ip]; ok {
		e.saved = now
		k.users[user][ip] = e
	}
	k.mu.Unlock()
	if purge {
		// Addresses that never sign in again would otherwise keep
		// their expired entries.
		_, _ = k.durable.PurgeKnownIPs(ctx, now.Add(-k.ttl))
	}
}

// put stores an entry, within the bounds; k.mu is held.
func (k *KnownIPs) put(user, ip string, e knownIP, now time.Time) {
	ips := k.users[user]
	if ips == nil {
		if len(k.users) >= k.max {
			k.evict(now)
		}
		ips = map[string]knownIP{}
		k.users[user] = ips
	}
	ips[ip] = e
	if len(ips) > k.perUser {
		// Forget the IP used least recently.
		var oldest string
		for key, x := range ips {
			if oldest == "" || x.seen.Before(ips[oldest].seen) {
				oldest = key
			}
		}
		delete(ips, oldest)
	}
}

// Forget drops what is known of user, in memory and in the store: after
// a password change the old sign-ins prove nothing.
func (k *KnownIPs) Forget(ctx context.Context, user string) error {
	k.mu.Lock()
	delete(k.users, user)
	k.mu.Unlock()
	if k.durable == nil {
		return nil
	}
	return k.durable.ForgetKnownIPs(ctx, user)
}

// evict drops expired entries and, if the table is still full, the
// addresses whose newest sign-in is oldest, down to 7/8 of the bound.
// Only memory: the store keeps its own bounds.
func (k *KnownIPs) evict(now time.Time) {
	type ul struct {
		user string
		last time.Time
	}
	var live []ul
	for user, ips := range k.users {
		var last time.Time
		for ip, e := range ips {
			if now.Sub(e.seen) >= k.ttl {
				delete(ips, ip)
			} else if e.seen.After(last) {
				last = e.seen
			}
		}
		if len(ips) == 0 {
			delete(k.users, user)
			continue
		}
		live = append(live, ul{user, last})
	}
	target := k.max - k.max/8
	if target >= k.max {
		target = k.max - 1
	}
	if len(live) <= target {
		return
	}
	slices.SortFunc(live, func(a, b ul) int { return a.last.Compare(b.last) })
	for _, x := range live[:len(live)-target] {
		delete(k.users, x.user)
	}
}
