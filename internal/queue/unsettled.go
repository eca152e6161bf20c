package queue

import (
	"context"
	"slices"
	"sync"
)

// unsettled keeps the settlements the store could not write (a full
// disk, say), until a later pass writes them. Left to the lease, an entry
// whose message a remote server had acknowledged would be sent again
// once its lease ran out: a duplicate at the recipient. While its
// settlement waits here an entry is not attempted, whoever claims it.
// They are lost with the process, as a lease's attempt is.
type unsettled struct {
	mu      sync.Mutex
	writes  []*settlement
	entries map[int64]bool
}

// settlement is one settle's store write, made again until it is done.
type settlement struct {
	ids   []int64
	write func(context.Context) error
}

// keep holds s for the next pass.
func (u *unsettled) keep(s *settlement) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.entries == nil {
		u.entries = map[int64]bool{}
	}
	u.writes = append(u.writes, s)
	for _, id := range s.ids {
		u.entries[id] = true
	}
}

// has reports whether entry id's settlement is waiting.
func (u *unsettled) has(id int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.entries[id]
}

// retry writes what waits, in order, and keeps what fails again; it
// returns how many settlements still wait.
func (u *unsettled) retry(ctx context.Context) (waiting int, err error) {
	u.mu.Lock()
	writes := slices.Clone(u.writes)
	u.mu.Unlock()
	for _, s := range writes {
		if err = s.write(ctx); err != nil {
			break
		}
		u.mu.Lock()
		u.writes = slices.DeleteFunc(u.writes, func(x *settlement) bool { return x == s })
		for _, id := range s.ids {
			delete(u.entries, id)
		}
		u.mu.Unlock()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.writes), err
}
