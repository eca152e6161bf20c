package submission

import (
	"sync"
	"time"
)

// rateLimit counts each account's submissions over the last hour. It
// reserves a slot before the message is stored and gives it back when
// storing fails, so that concurrent sessions of one account cannot all
// pass the check at once.
type rateLimit struct {
	perHour int // 0: no limit

	mu   sync.Mutex
	sent map[int64][]time.Time // per account, oldest first, within the hour
}

func newRateLimit(perHour int) *rateLimit {
	return &rateLimit{perHour: perHour, sent: map[int64][]time.Time{}}
}

// prune drops what is older than an hour; the caller holds mu.
func (r *rateLimit) prune(account int64, now time.Time) []time.Time {
	ts := r.sent[account]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= time.Hour {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(r.sent, account)
		return nil
	}
	r.sent[account] = ts
	return ts
}

// allow reports whether the account may submit one more message now,
// without reserving.
func (r *rateLimit) allow(account int64, now time.Time) bool {
	if r.perHour <= 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.prune(account, now)) < r.perHour
}

// reserve takes a slot for one message; release gives it back.
func (r *rateLimit) reserve(account int64, now time.Time) (release func(), ok bool) {
	if r.perHour <= 0 {
		return func() {}, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.prune(account, now)
	if len(ts) >= r.perHour {
		return nil, false
	}
	r.sent[account] = append(ts, now)
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		ts := r.sent[account]
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].Equal(now) {
				r.sent[account] = append(ts[:i:i], ts[i+1:]...)
				break
			}
		}
	}, true
}
