package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Cache remembers, for a short time, which (username, password) pairs
// verified against which stored hash, so that IMAP clients that reconnect
// every few seconds, and each SMTP submission, do not each pay ~25 ms of
// argon2 and 19 MiB of memory.
//
// The password itself is never stored: entries are keyed by
// HMAC-SHA256(password) under a random key made per Cache (so per
// process). Someone able to read process memory could still test guesses
// against those MACs far faster than against argon2; we accept that, as
// such an attacker also sees passwords in flight, and entries live only
// for the TTL.
//
// A hit requires the stored hash to be unchanged, so a password change
// invalidates cached entries even without [Cache.Forget]. Only successful
// verifications are stored: a wrong password never hits.
//
// A Cache is safe for concurrent use.
type Cache struct {
	ttl time.Duration
	max int
	key [32]byte // HMAC key, random per Cache

	mu    sync.Mutex
	users map[string]map[[sha256.Size]byte]cacheEntry
	n     int // entries over all users
}

type cacheEntry struct {
	encoded string // the hash the password verified against
	expires time.Time
}

// Defaults for [NewCache].
const (
	DefaultCacheTTL  = 2 * time.Minute
	DefaultCacheSize = 10000
)

// NewCache returns a Cache whose entries live for ttl and that holds at
// most max entries; zero or negative values mean the defaults.
func NewCache(ttl time.Duration, max int) *Cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if max <= 0 {
		max = DefaultCacheSize
	}
	c := &Cache{ttl: ttl, max: max, users: map[string]map[[sha256.Size]byte]cacheEntry{}}
	rand.Read(c.key[:]) // Never fails (crypto/rand, Go 1.24+).
	return c
}

func (c *Cache) mac(password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(password))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	return sum
}

// Lookup reports whether password was verified for username against the
// hash encoded less than the TTL before now.
func (c *Cache) Lookup(username, password, encoded string, now time.Time) bool {
	k := c.mac(password)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.users[username][k]
	if !ok {
		return false
	}
	if !now.Before(e.expires) {
		c.delete(username, k)
		return false
	}
	// Not secret: encoded is in the database and e.encoded came from it.
	return e.encoded == encoded
}

// Store records that password verified for username against encoded at
// now.
func (c *Cache) Store(username, password, encoded string, now time.Time) {
	k := c.mac(password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.users[username][k]; !ok {
		if c.n >= c.max {
			c.evict(now)
		}
		c.n++
	}
	// Fetched after evict, which may have dropped username's map.
	entries := c.users[username]
	if entries == nil {
		entries = map[[sha256.Size]byte]cacheEntry{}
		c.users[username] = entries
	}
	entries[k] = cacheEntry{encoded: encoded, expires: now.Add(c.ttl)}
}

// Forget drops every entry for username; call it when the account's
// password or status changes so that the change takes effect at once.
func (c *Cache) Forget(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n -= len(c.users[username])
	delete(c.users, username)
}

// Len returns the number of entries, expired or not.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *Cache) delete(username string, k [sha256.Size]byte) {
	entries := c.users[username]
	if _, ok := entries[k]; !ok {
		return
	}
	delete(entries, k)
	c.n--
	if len(entries) == 0 {
		delete(c.users, username)
	}
}

// evict makes room for one entry: first by dropping expired entries, and
// if none had expired, by dropping arbitrary ones (Go randomises map
// order) down to 7/8 of max so the next inserts do not scan again. The
// scan is O(max) under the lock, but entries are only added after a
// successful argon2 verification, which costs far more.
func (c *Cache) evict(now time.Time) {
	for u, entries := range c.users {
		for k, e := range entries {
			if !now.Before(e.expires) {
				c.delete(u, k)
			}
		}
	}
	target := c.max - c.max/8
	if target >= c.max {
		target = c.max - 1
	}
	for u, entries := range c.users {
		if c.n <= target {
			return
		}
		for k := range entries {
			c.delete(u, k)
			if c.n <= target {
				return
			}
		}
	}
}
