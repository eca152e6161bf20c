package queue

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestQueueMetricsByResult (issue 13 part 8): attempts are counted by
// result (delivered, deferred, bounced, expired), and the queue's size and
// its oldest entry's age follow the store, down to 0 when it is empty.
func TestQueueMetricsByResult(t *testing.T) {
	s := newMX(t)
	s.sink.set(func() {
		s.sink.rcptHook = func(rcpt string) error {
			switch {
			case strings.HasPrefix(rcpt, "later"):
				return errTemp
			case strings.HasPrefix(rcpt, "nobody"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		}
	})
	reg := prometheus.NewRegistry()
	w := New(s.cfg, s.st, nil, NewMetrics(reg, s.st, s.clock.Now))
	attempts := func(result string) float64 {
		return testutil.ToFloat64(w.metrics.attempts.WithLabelValues(result))
	}
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net", "later@example.net", "nobody@example.net")
	s.clock.Set(t0.Add(time.Minute))
	if n, age := gauge(t, reg, "xtramail_queue_entries"), gauge(t, reg, "xtramail_queue_oldest_age_seconds"); n != 3 || age != 60 {
		t.Fatalf("before delivery: %v entries, oldest %v s; want 3 and 60", n, age)
	}
	runOnce(t, w)
	if d, df, b, e := attempts("delivered"), attempts("deferred"), attempts("bounced"), attempts("expired"); d != 1 || df != 1 || b != 1 || e != 0 {
		t.Fatalf("after one pass: delivered %v deferred %v bounced %v expired %v; want 1 1 1 0", d, df, b, e)
	}
	s.clock.Set(t0.Add(2 * time.Hour))
	if n, age := gauge(t, reg, "xtramail_queue_entries"), gauge(t, reg, "xtramail_queue_oldest_age_seconds"); n != 1 || age != 7200 {
		t.Fatalf("one deferred entry: %v entries, oldest %v s; want 1 and 7200", n, age)
	}
	// Past the lifetime the next temporary failure gives up.
	s.clock.Set(t0.Add(w.cfg.Lifetime))
	runOnce(t, w)
	if df, e := attempts("deferred"), attempts("expired"); df != 1 || e != 1 {
		t.Fatalf("past the lifetime: deferred %v expired %v; want 1 and 1", df, e)
	}
	if n, age := gauge(t, reg, "xtramail_queue_entries"), gauge(t, reg, "xtramail_queue_oldest_age_seconds"); n != 0 || age != 0 {
		t.Fatalf("empty queue: %v entries, oldest %v s; want 0 and 0", n, age)
	}
}

// BenchmarkMetricsAttempt is what counting one settled entry costs.
func BenchmarkMetricsAttempt(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry(), nil, time.Now)
	b.ReportAllocs()
	for b.Loop() {
		m.attempt("delivered")
	}
}
