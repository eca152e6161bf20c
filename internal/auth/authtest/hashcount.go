// Package authtest helps tests of the packages that sign people in
// check what a sign-in costs.
package authtest

import (
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
)

// HashCounter records the argon2 computations of the Hasher it returns
// (auth.Hasher.Observed): a decoy-hash test counts hashing work instead
// of timing it, so that it holds on a loaded machine and a quiet one.
type HashCounter struct {
	mu   sync.Mutex
	seen []auth.Params
}

// NewHashCounter returns a Hasher with params and limit slots whose
// computations c records.
func NewHashCounter(t testing.TB, params auth.Params, limit int) (*auth.Hasher, *HashCounter) {
	t.Helper()
	h, err := auth.NewHasher(params, limit)
	if err != nil {
		t.Fatal(err)
	}
	c := &HashCounter{}
	return h.Observed(func(p auth.Params) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.seen = append(c.seen, p)
	}), c
}

// Reset forgets what was recorded.
func (c *HashCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = nil
}

// CheckOne reports an error unless exactly one computation, at params'
// cost (memory, time and threads), was recorded since the last Reset.
func (c *HashCounter) CheckOne(t testing.TB, what string, params auth.Params) {
	t.Helper()
	c.mu.Lock()
	got := c.seen
	c.mu.Unlock()
	if len(got) != 1 || got[0].Memory != params.Memory || got[0].Time != params.Time || got[0].Threads != params.Threads {
		t.Errorf("%s: argon2 computations %+v, want one at %+v", what, got, params)
	}
}
