package queue

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// suspensions are the addresses whose last connection timed out, not to be
// dialled again for a while: each attempt at one waits a dial timeout (30
// s) or a greeting timeout (5 min, RFC 5321 4.5.3.2.1), so a relay that
// accepts connections and never answers held every delivery slot for
// minutes at a time, and the messages behind them showed no attempt and
// no reason for as long. Those that come to a suspended address meanwhile
// are deferred at once with the timeout's reason, as Postfix defers mail
// to a dead destination. A failure that is answered fast (refused, a 4xx
// greeting) suspends nothing: trying again costs little.
type suspensions struct {
	mu sync.Mutex
	m  map[string]suspension // by pool key and address
}

type suspension struct {
	until time.Time
	why   result
}

// suspendFor is how long an address that timed out is suspended: half
// the first backoff, so that the messages deferred meanwhile, retried
// after at least that (Worker.backoff), find it dialled again.
func (w *Worker) suspendFor() time.Duration { return w.cfg.MinBackoff / 2 }

// check returns the reason an address is suspended now, if it is.
func (s *suspensions) check(key string, now time.Time) (result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.m[key]
	if !ok {
		return result{}, false
	}
	if !now.Before(sp.until) {
		delete(s.m, key)
		return result{}, false
	}
	return sp.why, true
}

// failed records a failed connection to an address: a timeout suspends
// it until until.
func (s *suspensions) failed(key string, err error, why result, until time.Time) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return
	}
	why.outcome = store.QueueDeferred
	why.reply = "delivery temporarily suspended: " + why.reply
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]suspension{}
	}
	s.m[key] = suspension{until: until, why: why}
}

// reached forgets an address's suspension once a connection to it works.
func (s *suspensions) reached(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
