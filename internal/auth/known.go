package auth

import (
	"slices"
	"sync"
	"time"
)

// KnownIPs remembers, per address, the client IPs (throttle keys: an
// IPv6 client's /64) from which the address signed in successfully. From
// such an IP a login whose password verifies passes the address's
// lock-out, so that the owner's phone and desktop keep working while
// others guess the password from elsewhere (issue 11 part 4). It is in
// memory: after a restart, or on another node, an IP is known again after
// its first successful sign-in there.
//
// A KnownIPs is safe for concurrent use.
type KnownIPs struct {
	ttl     time.Duration
	perUser int
	max     int // addresses at most

	mu    sync.Mutex
	users map[string]map[string]time.Time // address → IP key → last success
}

// Defaults for [NewKnownIPs].
const (
	DefaultKnownIPTTL     = 30 * 24 * time.Hour
	DefaultKnownIPPerUser = 16
	DefaultKnownIPUsers   = 100000
)

// NewKnownIPs returns a set that keeps an IP for ttl after its last
// successful sign-in, perUser IPs per address (the most recent) and max
// addresses; zero or negative values mean the defaults.
func NewKnownIPs(ttl time.Duration, perUser, max int) *KnownIPs {
	if ttl <= 0 {
		ttl = DefaultKnownIPTTL
	}
	if perUser <= 0 {
		perUser = DefaultKnownIPPerUser
	}
	if max <= 0 {
		max = DefaultKnownIPUsers
	}
	return &KnownIPs{ttl: ttl, perUser: perUser, max: max, users: map[string]map[string]time.Time{}}
}

// Has reports whether user signed in from ip within the TTL before now.
func (k *KnownIPs) Has(user, ip string, now time.Time) bool {
	if ip == "" {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.users[user][ip]
	return ok && now.Sub(t) < k.ttl
}

// Add records a successful sign-in of user from ip at now.
func (k *KnownIPs) Add(user, ip string, now time.Time) {
	if ip == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	ips := k.users[user]
	if ips == nil {
		if len(k.users) >= k.max {
			k.evict(now)
		}
		ips = map[string]time.Time{}
		k.users[user] = ips
	}
	ips[ip] = now
	if len(ips) > k.perUser {
		// Forget the IP used least recently.
		var oldest string
		for key, t := range ips {
			if oldest == "" || t.Before(ips[oldest]) {
				oldest = key
			}
		}
		delete(ips, oldest)
	}
}

// Forget drops what is known of user: after a password change the old
// sign-ins prove nothing.
func (k *KnownIPs) Forget(user string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.users, user)
}

// evict drops expired entries and, if the table is still full, the
// addresses whose newest sign-in is oldest, down to 7/8 of the bound.
func (k *KnownIPs) evict(now time.Time) {
	type ul struct {
		user string
		last time.Time
	}
	var live []ul
	for user, ips := range k.users {
		var last time.Time
		for ip, t := range ips {
			if now.Sub(t) >= k.ttl {
				delete(ips, ip)
			} else if t.After(last) {
				last = t
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
