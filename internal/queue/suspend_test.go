package queue

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSilentRelaySuspended: a relay that takes connections and never
// answers costs one greeting timeout, not one per session: once a
// connection to it timed out, the messages that come to it are deferred
// at once with that reason ("delivery temporarily suspended"), no
// connection made, until half the first backoff has passed; then it is
// dialled again. Before, every session waited out its own timeout (5
// minutes), holding its delivery slot, and the messages behind showed no
// attempt and no reason.
func TestSilentRelaySuspended(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	var now atomic.Pointer[time.Time]
	clock := func() time.Time { return *now.Load() }
	set := func(at time.Time) { now.Store(&at) }
	set(t0)
	st, acc := newStore(t)
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: "none"},
		CommandTimeout: 300 * time.Millisecond, MinBackoff: 10 * time.Minute, Concurrency: 4,
		Now: clock, Rand: func() float64 { return 0.5 }}, st, nil, nil)

	// The first pass's sessions each wait out the greeting timeout.
	for i := range 8 {
		enqueue(t, st, acc, t0, fmt.Sprintf("first%d", i), fmt.Sprintf("r%d@far.test", i))
	}
	runOnce(t, w)
	first := accepted.Load()
	if first < 1 || first > 4 {
		t.Fatalf("first pass: %d connections, want 1 to 4 (its sessions)", first)
	}
	for _, e := range queued(t, st) {
		if e.Attempts != 1 || !strings.Contains(e.LastError, "timeout") {
			t.Errorf("after the first pass: %s attempts %d, error %q", e.Rcpt, e.Attempts, e.LastError)
		}
	}

	// Messages that come meanwhile are deferred with the reason, and no
	// connection is made.
	set(t0.Add(time.Minute))
	for i := range 8 {
		enqueue(t, st, acc, t0.Add(time.Minute), fmt.Sprintf("second%d", i), fmt.Sprintf("s%d@far.test", i))
	}
	runOnce(t, w)
	if n := accepted.Load(); n != first {
		t.Errorf("second pass, within the suspension: %d new connections, want none", n-first)
	}
	second := 0
	for _, e := range queued(t, st) {
		if !strings.HasPrefix(e.Rcpt, "s") {
			continue
		}
		second++
		if e.Attempts != 1 || !strings.Contains(e.LastError, "delivery temporarily suspended") || !strings.Contains(e.LastError, "timeout") {
			t.Errorf("within the suspension: %s attempts %d, error %q", e.Rcpt, e.Attempts, e.LastError)
		}
	}
	if second != 8 {
		t.Errorf("%d entries of the second pass queued, want 8", second)
	}

	// After half the first backoff the relay is dialled again.
	later := t0.Add(w.suspendFor() + time.Second)
	set(later)
	enqueue(t, st, acc, later, "third", "t@far.test")
	runOnce(t, w)
	if n := accepted.Load(); n <= first {
		t.Errorf("after the suspension: no new connection")
	}
}
