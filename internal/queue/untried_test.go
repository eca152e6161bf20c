package queue

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestSessionErrorNotChargedToUntried (class: when a session broke, every
// message still pending for its domain was deferred with that session's
// error, an attempt counted and a deferred record logged, though only the
// one on the wire had been tried): four messages to one domain, whose
// only MX takes one transaction and then drops the connection at the next
// MAIL, or drops it after the first message's data before its reply, and
// for the rest of the pass drops every session at its first MAIL. The
// message the session broke on is deferred with the drop, once; one whose
// data went unanswered is, as before, deferred as possibly delivered, to
// be sent again. The messages never tried are back in the queue as they
// were, no attempt counted, no error, no deferred record, but due only
// after the first backoff: a pass before then opens no connection (due
// at once, each pass opened one per queued message to a server that
// throttles, found by a probe). The pass at their due time, with the
// server mended, delivers them all. With and without PIPELINING.
func TestSessionErrorNotChargedToUntried(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop string // "mail": at the MAIL after one transaction; "data": after the first data
		// tried is the message deferred; delivered, those delivered in
		// the first pass.
		tried     string
		delivered []string
		reason    string // in the tried one's error
	}{
		// EOF, or a reset when the server closed with commands unread.
		{"drop at the next MAIL", "mail", "m1", []string{"m0"}, "mx.one.test[127.0.0.1]: "},
		{"drop after the data", "data", "m0", nil, "may arrive twice"},
	} {
		for _, ext := range [][]string{{"PIPELINING"}, nil} {
			t.Run(fmt.Sprint(tc.name, " ", ext), func(t *testing.T) {
				var mu sync.Mutex
				mended, accepted, sessions := false, 0, 0
				raw := startRawSMTP(t, ext, func(s *rawSession) error {
					mu.Lock()
					sessions++
					mu.Unlock()
					return s.relay(func(string) (string, bool) {
						mu.Lock()
						defer mu.Unlock()
						if !mended && (accepted > 0 || tc.drop == "data" && s.n > 1) {
							s.nc.Close()
							return "", true
						}
						return "250 2.1.0 ok", false
					}, func([]byte) bool {
						mu.Lock()
						defer mu.Unlock()
						if !mended && tc.drop == "data" {
							s.nc.Close()
							return true
						}
						accepted++
						return false
					})
				})
				s := newMX(t, "one.test. 300 IN MX 10 mx.one.test.", "mx.one.test. 300 IN A 127.0.0.1")
				s.cfg.MXPort = raw.port
				for i := range 4 {
					enqueue(t, s.st, s.acc, t0, fmt.Sprint("m", i), "bob@one.test")
				}
				w := New(s.cfg, s.st, nil, nil)
				runOnce(t, w)
				byID := func() map[string]store.QueueEntry {
					q := map[string]store.QueueEntry{}
					for _, e := range queued(t, s.st) {
						q[strings.TrimSuffix(e.MessageID, "@example.org")] = e
					}
					return q
				}
				q := byID()
				if len(q) != 4-len(tc.delivered) {
					t.Fatalf("after the first pass: %+v, want all but %v queued", q, tc.delivered)
				}
				for id, e := range q {
					switch {
					case id == tc.tried:
						if e.Attempts != 1 || !strings.Contains(e.LastError, tc.reason) {
							t.Errorf("%s, on the wire when the session broke: attempts %d, error %q; want 1 and %q", id, e.Attempts, e.LastError, tc.reason)
						}
					case !untouched(e):
						t.Errorf("%s, never tried: attempts %d, error %q, next %v, lease %v; want it as queued, due after a backoff", id, e.Attempts, e.LastError, e.NextAttempt, e.LeaseUntil)
					}
				}
				if d := events(t, s.st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, tc.reason) {
					t.Errorf("deferred records %+v, want one, for %s", d, tc.tried)
				}
				mu.Lock()
				opened := sessions
				mu.Unlock()
				runOnce(t, w)
				mu.Lock()
				if sessions != opened {
					t.Errorf("a pass before the backoff opened %d more connections", sessions-opened)
				}
				mended = true
				mu.Unlock()

				s.clock.Set(latestDue(t, s.st))
				runOnce(t, w)
				raw.check(t)
				if q := byID(); len(q) != 0 {
					t.Fatalf("after the pass at their due time: %+v, want none queued", q)
				}
				if d := events(t, s.st, msglog.Deferred); len(d) != 1 {
					t.Errorf("deferred records after the second pass %+v, want the one", d)
				}
				if got := len(events(t, s.st, msglog.Delivered)); got != 4 {
					t.Errorf("%d delivered records, want 4", got)
				}
			})
		}
	}
}

// TestSessionErrorNotChargedToUnnamedRecipients: the same class within a
// message. A server announcing LIMITS RCPTMAX=2 (RFC 9422) that drops the
// connection at the DATA of a transaction for the first two of a
// message's four recipients has those two deferred with the drop; the
// two never named to it (left for the next transaction) are back in the
// queue as they were but for their due time (after the first backoff),
// and the pass at that time delivers them all. With and without
// PIPELINING.
func TestSessionErrorNotChargedToUnnamedRecipients(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING", "LIMITS RCPTMAX=2"}, {"LIMITS RCPTMAX=2"}} {
		t.Run(strings.Join(ext, " "), func(t *testing.T) {
			var mu sync.Mutex
			mended := false
			named := map[string]bool{} // recipients the server saw in a RCPT
			raw := startRawSMTP(t, ext, func(s *rawSession) error {
				for {
					l, err := s.line()
					if err != nil {
						return nil
					}
					mu.Lock()
					ok := mended
					if r, found := strings.CutPrefix(l, "RCPT TO:"); found {
						named[r] = true
					}
					mu.Unlock()
					switch {
					case strings.HasPrefix(l, "MAIL FROM:"), strings.HasPrefix(l, "RCPT TO:"), l == "RSET":
						s.say("250 2.1.0 ok")
					case l == "DATA" && !ok:
						s.nc.Close()
						return nil
					case l == "DATA":
						s.say("354 go ahead")
						if _, err := s.data(); err != nil {
							return err
						}
						s.say("250 2.0.0 queued")
					case l == "QUIT":
						s.say("221 bye")
						return nil
					default:
						return fmt.Errorf("unexpected %q", l)
					}
				}
			})
			s := newMX(t, "one.test. 300 IN MX 10 mx.one.test.", "mx.one.test. 300 IN A 127.0.0.1")
			s.cfg.MXPort = raw.port
			enqueue(t, s.st, s.acc, t0, "m0", "a@one.test", "b@one.test", "c@one.test", "d@one.test")
			w := New(s.cfg, s.st, nil, nil)
			runOnce(t, w)
			q := queued(t, s.st)
			if len(q) != 4 {
				t.Fatalf("after the first pass: %+v, want all four queued", q)
			}
			tried := 0
			for _, e := range q {
				mu.Lock()
				wasNamed := named["<"+e.Rcpt+">"]
				mu.Unlock()
				switch {
				case wasNamed:
					tried++
					if e.Attempts != 1 || !strings.Contains(e.LastError, "mx.one.test[127.0.0.1]: ") {
						t.Errorf("%s, named when the session broke: attempts %d, error %q; want 1 and the drop", e.Rcpt, e.Attempts, e.LastError)
					}
				case !untouched(e):
					t.Errorf("%s, never named: attempts %d, error %q, next %v, lease %v; want it as queued, due after a backoff", e.Rcpt, e.Attempts, e.LastError, e.NextAttempt, e.LeaseUntil)
				}
			}
			if tried != 2 {
				t.Errorf("%d recipients named before the drop, want 2", tried)
			}
			if d := events(t, s.st, msglog.Deferred); len(d) != 2 {
				t.Errorf("deferred records %+v, want the two named recipients'", d)
			}

			mu.Lock()
			mended = true
			mu.Unlock()
			s.clock.Set(latestDue(t, s.st))
			runOnce(t, w)
			raw.check(t)
			if q := queued(t, s.st); len(q) != 0 {
				t.Fatalf("after the pass at their due time: %+v, want none queued", q)
			}
			if got := len(events(t, s.st, msglog.Delivered)); got != 4 {
				t.Errorf("%d delivered records, want 4", got)
			}
		})
	}
}

// untouched reports whether an entry released untried (enqueued at t0,
// tried at t0) is as it was but for its due time, which is after t0.
func untouched(e store.QueueEntry) bool {
	return e.Attempts == 0 && e.LastError == "" && e.NextAttempt.After(t0) && !e.LeaseUntil.After(t0)
}

// latestDue is the latest due time of the queue's entries.
func latestDue(t *testing.T, st store.Store) time.Time {
	t.Helper()
	var due time.Time
	for _, e := range queued(t, st) {
		if e.NextAttempt.After(due) {
			due = e.NextAttempt
		}
	}
	return due
}
