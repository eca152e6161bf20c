package capture

import (
	"context"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// accountCache remembers address look-ups for a moment: an upstream
// sends many messages to the same addresses, and each MAIL and RCPT would
// otherwise query the store. An administrator's change (disable, remove)
// takes effect within accountTTL.
type accountCache struct {
	st  Store
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedAccount
}

type cachedAccount struct {
	acct    store.Account
	err     error // store.ErrNotFound is cached too; other errors are not
	expires time.Time
}

const (
	accountTTL        = 2 * time.Second
	accountCacheLimit = 10000
)

func newAccountCache(st Store, now func() time.Time) *accountCache {
	return &accountCache{st: st, now: now, entries: make(map[string]cachedAccount)}
}

// lookup returns the account of a normalised address, or an error
// wrapping store.ErrNotFound.
func (c *accountCache) lookup(ctx context.Context, addr string) (store.Account, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[addr]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.acct, e.err
	}
	a, err := c.st.Account(ctx, addr)
	if err == nil || isNotFound(err) {
		c.mu.Lock()
		if len(c.entries) >= accountCacheLimit {
			clear(c.entries)
		}
		c.entries[addr] = cachedAccount{acct: a, err: err, expires: now.Add(accountTTL)}
		c.mu.Unlock()
	}
	return a, err
}

// forget drops a cached look-up (an account just created).
func (c *accountCache) forget(addr string) {
	c.mu.Lock()
	delete(c.entries, addr)
	c.mu.Unlock()
}
