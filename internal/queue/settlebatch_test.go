package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// gatedSettles holds the first settle write before it runs, as a store
// writer busy with another commit does, and counts the writes and the
// settles they carried.
type gatedSettles struct {
	Store
	release chan struct{}
	calls   atomic.Int64
	settled atomic.Int64
}

func (g *gatedSettles) SettleQueue(ctx context.Context, settles []store.QueueSettle, events ...store.LogEvent) error {
	g.calls.Add(1)
	g.settled.Add(int64(len(settles)))
	return g.Store.SettleQueue(ctx, settles, events...)
}

func (g *gatedSettles) SettleQueueFrom(ctx context.Context, take func() ([]store.QueueSettle, []store.LogEvent)) error {
	if g.calls.Add(1) == 1 {
		<-g.release
	}
	return g.Store.(settlerFrom).SettleQueueFrom(ctx, func() ([]store.QueueSettle, []store.LogEvent) {
		s, e := take()
		g.settled.Add(int64(len(s)))
		return s, e
	})
}

// TestSettlesOfSessionsJoined guards the number of store writes per
// delivered message: settles that arrive while a settle write waits to
// run join it, and each caller returns only once its own is durable.
func TestSettlesOfSessionsJoined(t *testing.T) {
	st, acc := newStore(t)
	const n = 8
	for i := range n {
		enqueue(t, st, acc, time.Now(), fmt.Sprintf("m%d", i), fmt.Sprintf("r%d@remote.test", i))
	}
	ctx := context.Background()
	entries, err := st.ClaimQueue(ctx, time.Now(), time.Minute, n)
	if err != nil || len(entries) != n {
		t.Fatalf("claimed %d: %v", len(entries), err)
	}
	g := &gatedSettles{Store: st, release: make(chan struct{})}
	w := New(Config{Hostname: "queue.example.org"}, g, nil, nil)
	done := make(chan int, n)
	for i, e := range entries {
		go func() {
			w.settle(ctx, &outMsg{entries: []store.QueueEntry{e}},
				[]result{{outcome: store.QueueDelivered, reply: "250 ok", host: "relay"}})
			done <- i
		}()
	}
	// The first write is held before it runs; the seven others join it.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		w.settles.mu.Lock()
		waiting := len(w.settles.pending)
		w.settles.mu.Unlock()
		if waiting == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d settles waiting, want %d", waiting, n)
		}
	}
	select {
	case i := <-done:
		t.Fatalf("settle %d returned before its write", i)
	default:
	}
	close(g.release)
	for range n {
		<-done
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d store writes for %d settles, want 1", c, n)
	}
	if s := g.settled.Load(); s != n {
		t.Errorf("%d settles written, want %d", s, n)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Errorf("%d entries left in the queue", len(q))
	}
	if ev := events(t, st, msglog.Delivered); len(ev) != n {
		t.Errorf("%d delivered events, want %d", len(ev), n)
	}
}
