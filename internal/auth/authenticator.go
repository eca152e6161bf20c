package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Credential is what authentication needs to know about an account.
type Credential struct {
	AccountID    int64
	Username     string // login address, lowercase
	PasswordHash string // PHC string made by [Hash] or [Hasher.Hash]
	Enabled      bool
	// Pending, when set, stands for PasswordHash: the account's
	// password was given in clear (a bulk import) and is not hashed yet.
	Pending *PendingPassword
}

// PendingPassword is a password not yet hashed, as a [LookupFunc] found
// it. Authenticate compares it with the one presented in constant time
// and then hashes the presented one once, match or not: the same work
// as verifying a stored hash, so that neither the answer nor its time
// tells a pending address from a hashed or an unknown one. On a match
// it calls Store with the new hash, so the next sign-in verifies as
// usual.
type PendingPassword struct {
	Clear string
	Store func(ctx context.Context, hash string) error
}

// LookupFunc fetches the credential for a lowercased username. For an
// address with no account it must return an error wrapping
// [ErrUnknownUser]; any other error is treated as a failure of the lookup
// itself (database down, ctx done) and passed on wrapped.
type LookupFunc func(ctx context.Context, username string) (Credential, error)

var (
	// ErrUnknownUser is returned by a [LookupFunc] for an address with no
	// account. Authenticate never returns it: callers see
	// ErrInvalidCredentials.
	ErrUnknownUser = errors.New("auth: unknown user")
	// ErrInvalidCredentials means the login failed: unknown user, wrong
	// password, or disabled account. The wrapping error says which, for
	// the log only.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrThrottled means too many recent failures for the address or the
	// client IP. The error is a *[ThrottledError] saying for how long.
	ErrThrottled = errors.New("auth: too many failed logins")
)

// ThrottledError is returned by Authenticate when an attempt is refused
// without checking the password. errors.Is(err, ErrThrottled) holds.
type ThrottledError struct {
	Key        string        // the throttled address, or client IP (IPv6: its /64)
	RetryAfter time.Duration // how long until an attempt is allowed
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v for %s, retry after %v", ErrThrottled, e.Key, e.RetryAfter.Round(time.Millisecond))
}

func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// Options configures an [Authenticator]. Nil fields get defaults.
type Options struct {
	Hasher       *Hasher   // default: DefaultParams, runtime.NumCPU() slots
	Cache        *Cache    // default: NewCache(DefaultCacheTTL, DefaultCacheSize)
	UserThrottle *Throttle // default: DefaultThrottlePolicy
	IPThrottle   *Throttle // default: DefaultIPThrottlePolicy
	PairThrottle *Throttle // per address and IP; default: DefaultThrottlePolicy
	KnownIPs     *KnownIPs // default: NewKnownIPs(0, 0, 0, KnownIPStore)
	// KnownIPStore keeps the default KnownIPs across restarts and nodes
	// (the service passes its store); nil keeps them in memory only.
	KnownIPStore KnownIPStore
	Now          func() time.Time // default: time.Now
}

// Authenticator checks logins for every front end, combining the lookup,
// the verified-credentials cache, the bounded [Hasher] and throttling.
//
// Failures are counted per address, per client IP and per address and IP,
// each in a leaky bucket that only time drains: a successful sign-in
// resets none of them, so how fast someone may guess an address's
// password does not depend on how often its owner signs in (issue 11 part
// 4: resetting on success gave an attacker on 60 IPs 100 guesses in 200 s
// instead of 12 while the owner's phone signed in every 10 s). An
// attempt is refused unchecked when its address and IP pair is locked
// out, and when the address or the IP is, unless the address signed in
// successfully from this IP before ([KnownIPs]) or the password matches a
// cached verification: the owner's working clients are never locked out
// by someone else's guesses, and those guesses gain nothing from it,
// since a cache hit needs the right password and the pair's own bucket
// still bounds guesses from a known IP.
//
// An Authenticator is safe for concurrent use.
type Authenticator struct {
	lookup LookupFunc
	hasher *Hasher
	cache  *Cache
	users  *Throttle
	ips    *Throttle
	pairs  *Throttle
	known  *KnownIPs
	now    func() time.Time
}

// NewAuthenticator returns an Authenticator that finds accounts with
// lookup, which must not be nil.
func NewAuthenticator(lookup LookupFunc, opts Options) *Authenticator {
	a := &Authenticator{
		lookup: lookup,
		hasher: opts.Hasher,
		cache:  opts.Cache,
		users:  opts.UserThrottle,
		ips:    opts.IPThrottle,
		pairs:  opts.PairThrottle,
		known:  opts.KnownIPs,
		now:    opts.Now,
	}
	if a.hasher == nil {
		// DefaultParams are within limits, so this cannot fail.
		a.hasher, _ = NewHasher(DefaultParams(), 0)
	}
	if a.cache == nil {
		a.cache = NewCache(0, 0)
	}
	if a.users == nil {
		a.users = NewThrottle(DefaultThrottlePolicy())
	}
	if a.ips == nil {
		a.ips = NewThrottle(DefaultIPThrottlePolicy())
	}
	if a.pairs == nil {
		a.pairs = NewThrottle(DefaultThrottlePolicy())
	}
	if a.known == nil {
		a.known = NewKnownIPs(0, 0, 0, opts.KnownIPStore)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

// Hasher returns the Hasher, so that setting a password shares the bound
// on concurrent argon2 computations with logins.
func (a *Authenticator) Hasher() *Hasher { return a.hasher }

// Forget drops cached verifications and known IPs for username; call it
// after changing an account's password or status. (A changed hash already
// misses the cache; Forget also frees the memory at once.) Its callers
// are change hooks without a context, so the store's part is bounded
// here; if it fails, the IPs stay known until they expire, which lets
// only a verified password through.
func (a *Authenticator) Forget(username string) {
	user := userKey(username)
	a.cache.Forget(user)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.known.Forget(ctx, user)
}

// userKey is the form of a user name that the throttles, the cache and
// the store share: the address normalised as stored, so that one
// address typed two ways ("anna@bücher.test", "anna@xn--bcher-kva.test")
// is one account with one count of failures; a name that is no address
// only lower-cased (it matches no account).
func userKey(username string) string {
	if a, err := store.NormalizeAddress(username); err == nil {
		return a
	}
	return strings.ToLower(username)
}

// Authenticate checks password for username (matched case-insensitively)
// connecting from remoteIP ("192.0.2.1", "[2001:db8::1]:993"; empty if
// unknown, which skips the per-IP throttle). Behind a proxy, pass the
// client's address, not the proxy's.
//
// It returns the credential on success, or an error for which errors.Is
// holds with [ErrInvalidCredentials] (unknown user, wrong password,
// disabled account — deliberately one answer) or [ErrThrottled]; any
// other error is a lookup, stored-hash or ctx problem, wrapped.
//
// For an unknown user a dummy argon2 computation runs, so that timing
// does not tell which addresses have accounts.
func (a *Authenticator) Authenticate(ctx context.Context, username, password, remoteIP string) (Credential, error) {
	user := userKey(username)
	ip := ipKey(remoteIP)
	pair := pairKey(user, ip)

	// The IP and the pair are checked before the database is touched.
	// A known IP passes the IP's lock-out: an office NAT shared with
	// someone spraying passwords does not lock out its users.
	known := a.known.Has(ctx, user, ip, a.now())
	if err := a.check(ctx, a.pairs, pair, a.now()); err != nil {
		return Credential{}, err
	}
	if !known {
		if err := a.check(ctx, a.ips, ip, a.now()); err != nil {
			return Credential{}, err
		}
	}
	if password == "" || len(password) > MaxPasswordLength {
		// Cannot match any hash (Hash refuses these), so nothing to
		// throttle or time.
		return Credential{}, fmt.Errorf("authenticate %s: empty or overlong password: %w", user, ErrInvalidCredentials)
	}

	cred, err := a.lookup(ctx, user)
	unknown := errors.Is(err, ErrUnknownUser)
	if err != nil && !unknown {
		return Credential{}, fmt.Errorf("authenticate %s: look up account: %w", user, err)
	}

	// A cache hit proves the password was right moments ago, so it
	// passes the address's lock-out; a wrong password never hits.
	if !unknown && cred.Enabled && a.cache.Lookup(user, password, cred.PasswordHash, a.now()) {
		a.known.Add(ctx, user, ip, a.now())
		return cred, nil
	}
	if !known {
		if err := a.check(ctx, a.users, user, a.now()); err != nil {
			return Credential{}, err
		}
	}

	var match bool
	err = a.hasher.withSlot(ctx, func() error {
		// Check again, holding the slot and until the outcome is
		// recorded: a burst of parallel attempts all passes the checks
		// above before any failure is recorded, but only as many as
		// there are slots can get past this point ahead of the records.
		now := a.now()
		if err := a.check(ctx, a.pairs, pair, now); err != nil {
			return err
		}
		if !known {
			if err := a.check(ctx, a.ips, ip, now); err != nil {
				return err
			}
			if err := a.check(ctx, a.users, user, now); err != nil {
				return err
			}
		}
		switch {
		case unknown:
			a.hasher.burn(password)
		case cred.Pending != nil:
			var err error
			if match, err = a.finishPending(ctx, &cred, password); err != nil {
				return err
			}
		default:
			var err error
			if match, err = a.hasher.verifyHeld(cred.PasswordHash, password); err != nil {
				return fmt.Errorf("stored password hash of account %d: %w", cred.AccountID, err)
			}
		}
		if !match || !cred.Enabled {
			a.users.failure(ctx, user, now)
			if ip != "" {
				a.ips.failure(ctx, ip, now)
				a.pairs.failure(ctx, pair, now)
			}
		}
		return nil
	})
	var terr *ThrottledError
	switch {
	case errors.As(err, &terr):
		return Credential{}, err
	case err != nil: // ctx ended while waiting, or a corrupt stored hash
		return Credential{}, fmt.Errorf("authenticate %s: %w", user, err)
	case unknown:
		return Credential{}, fmt.Errorf("authenticate %s: no such account: %w", user, ErrInvalidCredentials)
	case !match:
		return Credential{}, fmt.Errorf("authenticate %s: wrong password: %w", user, ErrInvalidCredentials)
	case !cred.Enabled:
		return Credential{}, fmt.Errorf("authenticate %s: account %d disabled: %w", user, cred.AccountID, ErrInvalidCredentials)
	}
	// No failure counter is reset: they drain with time alone, whoever
	// signs in meanwhile.
	a.known.Add(ctx, user, ip, a.now())
	a.cache.Store(user, password, cred.PasswordHash, a.now())
	return cred, nil
}

// finishPending checks password against cred's pending one and, on a
// match, stores its hash and puts it in cred; the caller holds a slot.
// The clear passwords are compared through SHA-256 so that the compare
// takes the same time whatever their lengths; the one hash runs on
// either outcome (see PendingPassword).
func (a *Authenticator) finishPending(ctx context.Context, cred *Credential, password string) (bool, error) {
	want, got := sha256.Sum256([]byte(cred.Pending.Clear)), sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	hash, err := a.hasher.hashHeld(password, a.hasher.params)
	if err != nil {
		return false, fmt.Errorf("hash pending password of account %d: %w", cred.AccountID, err)
	}
	if !match {
		return false, nil
	}
	if err := cred.Pending.Store(ctx, hash); err != nil {
		return false, fmt.Errorf("store pending password's hash of account %d: %w", cred.AccountID, err)
	}
	cred.PasswordHash, cred.Pending = hash, nil
	return true, nil
}

// pairKey is the throttle key of an address and a client IP key; empty
// when the IP is unknown.
func pairKey(user, ip string) string {
	if ip == "" {
		return ""
	}
	return user + " " + ip
}

// check returns a *ThrottledError if t refuses key at now. An empty key
// (unknown client IP) is never throttled.
func (a *Authenticator) check(ctx context.Context, t *Throttle, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	if ok, retry := t.allow(ctx, key, now); !ok {
		return &ThrottledError{Key: key, RetryAfter: retry}
	}
	return nil
}

// ipKey returns the throttle key for a client address, with or without
// port. An IPv6 client is keyed by its /64, since one host or customer
// commonly has a whole /64 to rotate through. Unparseable input is used
// as is.
func ipKey(remote string) string {
	if remote == "" {
		return ""
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		addr = ap.Addr()
	} else if addr, err = netip.ParseAddr(remote); err != nil {
		return remote
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64) // Cannot fail for a 128-bit address.
		return p.String()
	}
	return addr.String()
}
