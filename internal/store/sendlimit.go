package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sending limits (issue 13 part 3). The per-user messages-per-hour limit
// is counted in the store, not in a process's memory, so that a restart
// or a second node does not reset it. A delivery that carries a
// SendLimit counts as one message sent by its account at
// Delivery.Received; the backend checks the count and records the send in
// the delivery's own transaction, so that concurrent submissions of one
// account (8 connections racing past the limit) get exactly Max accepted,
// and a failed delivery counts nothing.
//
// The window slides: a send counts while it is younger than Window.

// ErrSendLimit is the kind of *SendLimitError.
var ErrSendLimit = errors.New("sending limit reached")

// SendLimit caps what one account sends in a sliding window.
type SendLimit struct {
	AccountID int64
	Max       int           // sends allowed in any window; must be > 0
	Window    time.Duration // e.g. time.Hour; must be > 0
}

// SendLimitError reports a delivery refused by its SendLimit. RetryAt is
// when the oldest send of the window leaves it, so one more fits.
type SendLimitError struct {
	Limit   SendLimit
	RetryAt time.Time
}

func (e *SendLimitError) Error() string {
	return fmt.Sprintf("account %d sent %d messages in %s; next at %s", e.Limit.AccountID, e.Limit.Max, e.Limit.Window,
		e.RetryAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrSendLimit) true.
func (e *SendLimitError) Is(target error) bool { return target == ErrSendLimit }

// SendCounts is the read side of the sending limit, for an early answer
// (at SMTP MAIL) before a message is received; the delivery checks again.
type SendCounts interface {
	// SendsSince returns how many sends of the account the store holds
	// at or after since, and the time of the oldest of them (zero when
	// n is 0).
	SendsSince(ctx context.Context, accountID int64, since time.Time) (n int, oldest time.Time, err error)
}

// CheckSendLimit is the early check of a SendLimit at now: nil when one
// more send fits, else a *SendLimitError.
func CheckSendLimit(ctx context.Context, sc SendCounts, l SendLimit, now time.Time) error {
	n, oldest, err := sc.SendsSince(ctx, l.AccountID, now.Add(-l.Window))
	if err != nil {
		return fmt.Errorf("count sends of account %d: %w", l.AccountID, err)
	}
	if n < l.Max {
		return nil
	}
	return &SendLimitError{Limit: l, RetryAt: oldest.Add(l.Window)}
}
