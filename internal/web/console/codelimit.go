package console

import (
	"sync"
	"time"
)

// codeLimit bounds wrong second-factor codes per administrator: after
// codeTries wrong ones within codeWindow, further codes are refused until
// the window passes. A 6-digit code has a million values and three are
// right at any moment (the step and one on each side), so without a
// bound the password alone would let a script find one within hours.
// The password step has its own throttles (admin.SignIn, per address and
// IP); these are per administrator because the code is.
type codeLimit struct {
	now  func() time.Time
	mu   sync.Mutex
	seen map[int64]*codeTries
}

type codeTries struct {
	n     int
	first time.Time
}

const (
	codeTriesMax = 5
	codeWindow   = 15 * time.Minute
)

func newCodeLimit(now func() time.Time) *codeLimit {
	return &codeLimit{now: now, seen: map[int64]*codeTries{}}
}

// allow reports whether another code may be tried for the administrator.
func (c *codeLimit) allow(adminID int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.seen[adminID]
	if t == nil {
		return true
	}
	if c.now().Sub(t.first) >= codeWindow {
		delete(c.seen, adminID)
		return true
	}
	return t.n < codeTriesMax
}

// failed counts a wrong code.
func (c *codeLimit) failed(adminID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, t := range c.seen { // keep the map small: drop old windows
		if now.Sub(t.first) >= codeWindow {
			delete(c.seen, id)
		}
	}
	t := c.seen[adminID]
	if t == nil {
		t = &codeTries{first: now}
		c.seen[adminID] = t
	}
	t.n++
}

// reset forgets the failures of an administrator who signed in.
func (c *codeLimit) reset(adminID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, adminID)
}
