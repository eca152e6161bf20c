package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
)

// TestRunReusesRelaySessions: while Run works, messages queued in waves
// (as submissions come in) go over the sessions already open to the relay,
// not a new connection per wave, each exactly once; after Run ends no
// session is left open.
func TestRunReusesRelaySessions(t *testing.T) {
	st, acc := newStore(t)
	sk := startSink(t, nil, false)
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Concurrency: 2, IdleConn: time.Minute}, st, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	const waves, perWave = 6, 5
	for i := range waves {
		for j := range perWave {
			enqueue(t, st, acc, time.Now(), fmt.Sprintf("m%d", i*perWave+j), fmt.Sprintf("bob%d@remote.test", j))
		}
		w.Wake()
		want := (i + 1) * perWave
		for deadline := time.Now().Add(2 * time.Minute); len(sk.received()) < want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("wave %d: the relay has %d of %d messages", i, len(sk.received()), want)
			}
		}
	}
	// The relay counts a message before the worker has read its 250 and
	// settled the entry: stopping Run now could abandon that settle (on a
	// loaded machine it did). Every entry must be settled: wait for it.
	for deadline := time.Now().Add(2 * time.Minute); len(queued(t, st)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left", len(queued(t, st)))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := sk.received()
	seen := map[string]bool{}
	for _, m := range got {
		id := string(msgIDRe.FindSubmatch(m.data)[1])
		if seen[id] {
			t.Errorf("%s relayed twice", id)
		}
		seen[id] = true
	}
	if len(got) != waves*perWave {
		t.Errorf("relay got %d messages, want %d", len(got), waves*perWave)
	}
	sk.mu.Lock()
	conns := len(sk.conns)
	sk.mu.Unlock()
	if conns > 2 {
		t.Errorf("%d connections to the relay for %d waves, want at most 2 (Concurrency)", conns, waves)
	}
}

// TestLongSessionNotCutByLease: a session with more messages than it can
// send within their lease (a slow relay) is not cut off with the rest
// deferred by a backoff: what it could not reach in time is left to its
// lease and retried at once after, and every message arrives exactly
// once, with no deferral and no attempt counted. The relay is slow on the
// worker's clock, which each DATA moves on by a minute: on the real one, a
// loaded machine's pauses would add to the relay's and could cut an
// attempt short (then deferred, as an attempt cut off must be).
func TestLongSessionNotCutByLease(t *testing.T) {
	st, acc := newStore(t)
	clock := clocktest.New(time.Now())
	sk := startSink(t, nil, false)
	sk.set(func() {
		sk.dataHook = func([]byte) error { clock.Advance(time.Minute); return nil }
	})
	const total, lease = 30, 6 * time.Minute // 30 minutes of DATA over one session
	for i := range total {
		enqueue(t, st, acc, clock.Now(), fmt.Sprintf("m%d", i), "bob@remote.test")
	}
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Concurrency: 1, Lease: lease, Now: clock.Now}, st, nil, nil)
	for deadline := time.Now().Add(2 * time.Minute); len(queued(t, st)) > 0; clock.Advance(lease) {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still queued", len(queued(t, st)))
		}
		runOnce(t, w)
	}
	counts := map[string]int{}
	for _, m := range sk.received() {
		counts[string(msgIDRe.FindSubmatch(m.data)[1])]++
	}
	for i := range total {
		if n := counts[fmt.Sprintf("m%d", i)]; n != 1 {
			t.Errorf("m%d relayed %d times", i, n)
		}
	}
	if d := events(t, st, msglog.Deferred); len(d) != 0 {
		t.Errorf("deferred %d times: %+v", len(d), d[0])
	}
}
