package imapmsg

import (
	"context"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// SearchMemory bounds the bytes of message content that searches hold in
// memory at once, over every session of every front end that shares it
// (IMAP SEARCH, SORT and THREAD, the webmail's search box). A search that
// must read a message (TEXT, BODY, a header key the index cannot answer)
// takes three times its size, for the message and the text made from it,
// up to the whole bound, and waits while others hold the rest: twenty
// sessions searching the TEXT of a 20 MB message held 1.2 GB.
type SearchMemory struct {
	sem *semaphore.Weighted
	max int64
}

// NewSearchMemory returns a bound of max bytes.
func NewSearchMemory(max int64) *SearchMemory {
	return &SearchMemory{sem: semaphore.NewWeighted(max), max: max}
}

// Take waits until a message of size bytes may be read, and returns what
// gives its share back once the message and what was made from it are
// no longer used. A nil SearchMemory bounds nothing.
func (m *SearchMemory) Take(ctx context.Context, size int64) (release func(), err error) {
	if m == nil {
		return func() {}, nil
	}
	n := min(3*max(size, 0), m.max)
	if err := m.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("wait for search memory: %w", err)
	}
	return func() { m.sem.Release(n) }, nil
}
