package store

import (
	"context"
	"time"
)

// KnownIPs keeps, per sign-in address, the client IPs (the throttle's IP
// keys: an IPv6 client's /64) from which a verified password was used,
// with when each was last used. The authenticator lets a verified password
// from such an IP pass the address's lock-out, so that the owner's
// working clients are not locked out by someone else's guesses (issue 11
// part 4); keeping the set here makes that hold after a restart and on
// every node. Addresses are lowercase; the store does not interpret IPs.
type KnownIPs interface {
	// TouchKnownIP records that address signed in from ip at seen (a
	// later seen than the one kept moves it forward, an earlier one
	// changes nothing). In the same write it drops the address's entries
	// last seen before expired and all but its keep most recent ones, so
	// that an address holds a bounded number.
	TouchKnownIP(ctx context.Context, address, ip string, seen, expired time.Time, keep int) error
	// KnownIP returns when address last signed in from ip, and false when
	// it never did (or the entry was dropped).
	KnownIP(ctx context.Context, address, ip string) (time.Time, bool, error)
	// ForgetKnownIPs drops every entry of address (its password changed,
	// or it was removed).
	ForgetKnownIPs(ctx context.Context, address string) error
	// PurgeKnownIPs drops the entries of every address last seen before
	// before, and returns how many went.
	PurgeKnownIPs(ctx context.Context, before time.Time) (int, error)
}
