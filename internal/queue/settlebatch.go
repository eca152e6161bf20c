package queue

import (
	"context"
	"errors"
	"sync"

	"github.com/xtramail/xtramail/internal/store"
)

// settlerFrom is a store that takes what to settle when the write runs
// (the SQLite store).
type settlerFrom interface {
	SettleQueueFrom(ctx context.Context, take func() ([]store.QueueSettle, []store.LogEvent)) error
}

// settleBatch joins the settles of sessions that finish a message at
// about the same time into one store write request, without making any
// wait longer: a settle that finds a request queued and not yet running
// joins it (the request takes every settle waiting when it runs); one that
// finds none queues a new one at once, as a request of its own would have
// been. Each caller returns only once its own settle is durable, so a
// session sends its next message only after the last one is recorded
// (what TestKillMidQueueDeliversOnce guards). What it saves is the
// requests: each a savepoint, its release and a hand-over to the store's
// writer (about one per message before).
type settleBatch struct {
	mu      sync.Mutex
	queued  bool // a request is queued and has not taken the pending yet
	pending []*settleReq
}

type settleReq struct {
	settles []store.QueueSettle
	events  []store.LogEvent
	done    chan error
}

// settle records settles and events durably, with those of other
// sessions that join.
func (b *settleBatch) settle(ctx context.Context, st store.Queue, settles []store.QueueSettle, events []store.LogEvent) error {
	sf, ok := st.(settlerFrom)
	if !ok {
		return st.SettleQueue(ctx, settles, events...)
	}
	r := &settleReq{settles: settles, events: events, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if b.queued {
		b.mu.Unlock()
		return <-r.done
	}
	b.queued = true
	b.mu.Unlock()

	var taken []*settleReq
	err := sf.SettleQueueFrom(ctx, func() ([]store.QueueSettle, []store.LogEvent) {
		taken = b.take()
		var all []store.QueueSettle
		var evs []store.LogEvent
		for _, x := range taken {
			all = append(all, x.settles...)
			evs = append(evs, x.events...)
		}
		return all, evs
	})
	if taken == nil {
		// The write failed before it ran: answer what waits for it.
		if err == nil {
			err = errors.New("settle queue entries: the write did not run")
		}
		taken = b.take()
	}
	for _, x := range taken {
		x.done <- err
	}
	return <-r.done
}

// take empties the pending settles; the next to come queues a request.
func (b *settleBatch) take() []*settleReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	taken := b.pending
	b.pending, b.queued = nil, false
	return taken
}
