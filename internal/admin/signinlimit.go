package admin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// How many sign-in link mails may go out. Each is mail From the system
// sender to an address the administrator types: without a limit an
// administrator, or whoever holds their API token, could have the service
// mail anyone again and again, and the system sender's reputation (which
// every tenant's links depend on) would pay. A locked-out user needs one
// link, maybe a second after a typo; an administrator helping a whole
// customer through an outage needs a few dozen.
//
// Each limit is a leaky bucket kept in the store (store.Throttles), so a
// restart or a second node does not reset it: a burst of that many, then
// one more each window/limit (12 minutes per address, 72 seconds per
// administrator).
const (
	signInLinksPerAddress = 5  // to one alternate address, from any administrator
	signInLinksPerAdmin   = 50 // by one administrator (or their tokens), to any addresses
	signInLinkWindow      = time.Hour
)

// ErrSignInLinkLimit is the kind of *SignInLinkLimitError.
var ErrSignInLinkLimit = errors.New("too many sign-in links")

// SignInLinkLimitError refuses a sign-in link over one of the limits;
// RetryAfter is how long until one more fits.
type SignInLinkLimitError struct {
	To         string // the alternate address
	PerAdmin   bool   // the administrator's limit, not the address's
	Max        int
	RetryAfter time.Duration
}

func (e *SignInLinkLimitError) Error() string {
	who := "to " + e.To
	if e.PerAdmin {
		who = "by this administrator"
	}
	return fmt.Sprintf("%d sign-in links %s in %s; the next in %s", e.Max, who, signInLinkWindow, e.RetryAfter.Round(time.Second))
}

// Explain says in plain words, for the console and the API alike, which
// limit was reached and when to try again.
func (e *SignInLinkLimitError) Explain() string {
	who := "to " + e.To
	if e.PerAdmin {
		who = "by you"
	}
	wait := e.RetryAfter.Round(time.Minute)
	in := fmt.Sprintf("%d minutes", int(wait.Minutes()))
	if wait <= time.Minute {
		in = "a minute"
	}
	return fmt.Sprintf("Too many sign-in links sent %s: at most %d an hour. Try again in %s.", who, e.Max, in)
}

// RetrySeconds is RetryAfter in whole seconds, rounded up: the value of
// an HTTP Retry-After field (RFC 9110 section 10.2.3).
func (e *SignInLinkLimitError) RetrySeconds() string {
	return strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))
}

// Is makes errors.Is(err, ErrSignInLinkLimit) true.
func (e *SignInLinkLimitError) Is(target error) bool { return target == ErrSignInLinkLimit }

// signInLinkAllowed counts one sign-in link mail by p to to, or refuses
// it with a *SignInLinkLimitError when it is over a limit.
func (s *Service) signInLinkAllowed(ctx context.Context, p Principal, to string) error {
	now := s.now()
	limits := []struct {
		key      string
		max      int
		perAdmin bool
	}{
		{"signin-link-to:" + to, signInLinksPerAddress, false},
		{"signin-link-admin:" + strconv.FormatInt(p.AdminID, 10), signInLinksPerAdmin, true},
	}
	over := func(key string, limit int, perAdmin bool, capacity float64) error {
		level, last, ok, err := s.st.ThrottleLevel(ctx, key)
		if err != nil {
			return fmt.Errorf("sign-in links sent (%s): %w", key, err)
		}
		if !ok {
			return nil
		}
		drain := float64(limit) / signInLinkWindow.Seconds()
		level -= max(0, now.Sub(last).Seconds()) * drain
		if level <= capacity {
			return nil
		}
		wait := time.Duration(math.Ceil((level-capacity)/drain)) * time.Second
		return &SignInLinkLimitError{To: to, PerAdmin: perAdmin, Max: limit, RetryAfter: wait}
	}
	// A request already over a limit is refused without counting, so
	// that waiting RetryAfter is enough.
	for _, l := range limits {
		if err := over(l.key, l.max, l.perAdmin, float64(l.max-1)); err != nil {
			return err
		}
	}
	// Count, then read again: of requests that raced past the first
	// read (two tabs, two nodes), none goes on once the count is over,
	// so at most the limit pass (a loser may be refused a link that
	// would have fitted; it counts, and says when to try again).
	for _, l := range limits {
		if err := s.st.ThrottleFailure(ctx, l.key, now, float64(l.max)/signInLinkWindow.Seconds()); err != nil {
			return fmt.Errorf("count sign-in link (%s): %w", l.key, err)
		}
	}
	for _, l := range limits {
		if err := over(l.key, l.max, l.perAdmin, float64(l.max)); err != nil {
			return err
		}
	}
	return nil
}
