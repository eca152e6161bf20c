package queue

import (
	"strings"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
)

// TestRemoteClosingMidSession: a relay that answers MAIL with 421 and
// hangs up defers the message with its 421 reply in the queue and the
// message log (not the EOF that followed it); a relay that hangs up after
// the whole message, before its reply, defers it with a reason that says
// it may have been delivered, and the retry sends it again (the relay
// then has it twice, which is what RFC 5321 6.1 prefers to a loss). With
// and without PIPELINING: the queue speaks each way.
func TestRemoteClosingMidSession(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, nil} {
		name := "one command at a time"
		if ext != nil {
			name = "pipelined"
		}
		t.Run(name, func(t *testing.T) {
			st, acc := newStore(t)
			var mu sync.Mutex
			mode, received := "421", 0
			set := func(m string) {
				mu.Lock()
				mode = m
				mu.Unlock()
			}
			current := func() string {
				mu.Lock()
				defer mu.Unlock()
				return mode
			}
			raw := startRawSMTP(t, ext, func(s *rawSession) error {
				return s.relay(func(string) (string, bool) {
					if current() == "421" {
						return "421 4.3.2 shutting down for maintenance", true
					}
					return "250 2.1.0 ok", false
				}, func([]byte) bool {
					mu.Lock()
					received++
					mu.Unlock()
					return current() == "close" // the message is here; the reply never leaves
				})
			})
			clk := clocktest.New(t0)
			w := relayWorker(t, st, raw.port, clk.Now)
			enqueue(t, st, acc, t0, "m1", "bob@remote.test")

			runOnce(t, w)
			q := queued(t, st)
			if len(q) != 1 || !strings.Contains(q[0].LastError, "421 4.3.2 shutting down for maintenance") {
				t.Fatalf("after a 421 to MAIL: %+v, want it deferred with the 421", q)
			}
			if d := events(t, st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, "421 4.3.2 shutting down") {
				t.Fatalf("deferred events after the 421: %+v", d)
			}

			set("close")
			clk.Set(q[0].NextAttempt)
			runOnce(t, w)
			q = queued(t, st)
			if len(q) != 1 || !strings.Contains(q[0].LastError, "after the message was sent") ||
				!strings.Contains(q[0].LastError, "may arrive twice") {
				t.Fatalf("after a close that followed the data: %+v, want it deferred saying it may be a duplicate", q)
			}
			if d := events(t, st, msglog.Deferred); len(d) != 2 || !strings.Contains(d[1].Detail, "may have been delivered") {
				t.Fatalf("deferred events after the close: %+v", d)
			}

			set("ok")
			clk.Set(q[0].NextAttempt)
			runOnce(t, w)
			w.pool.closeAll()
			raw.check(t)
			if q := queued(t, st); len(q) != 0 {
				t.Fatalf("not delivered on the third attempt: %+v", q)
			}
			mu.Lock()
			defer mu.Unlock()
			if received != 2 {
				t.Errorf("the relay received the message %d times, want 2 (the unanswered one and the retry)", received)
			}
		})
	}
}
