package queue

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xtramail/xtramail/internal/store"
)

// Metrics are the queue's Prometheus metrics.
type Metrics struct {
	attempts *prometheus.CounterVec
	// byResult holds attempts' counter of each result, looked up once
	// rather than hashed from its label at every settle.
	byResult map[string]prometheus.Counter
}

// StatsSource is where queue size and age come from at scrape time.
type StatsSource interface {
	QueueStats(ctx context.Context) (store.QueueStats, error)
}

// NewMetrics registers the queue's metrics on reg: attempts by result
// (counted by the worker), and the size and oldest entry's age, read from
// the store at each scrape so that they hold across restarts and nodes.
func NewMetrics(reg prometheus.Registerer, src StatsSource, now func() time.Time) *Metrics {
	m := &Metrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xtramail_queue_attempts_total",
		Help: "Outbound delivery attempts per recipient, by result (delivered, deferred, bounced, expired).",
	}, []string{"result"}), byResult: map[string]prometheus.Counter{}}
	for _, r := range []string{"delivered", "deferred", "bounced", "expired"} {
		m.byResult[r] = m.attempts.WithLabelValues(r)
	}
	reg.MustRegister(m.attempts, statsCollector{src, now})
	return m
}

func (m *Metrics) attempt(result string) {
	if m == nil {
		return
	}
	if c := m.byResult[result]; c != nil {
		c.Inc()
		return
	}
	m.attempts.WithLabelValues(result).Inc()
}

var (
	sizeDesc   = prometheus.NewDesc("xtramail_queue_entries", "Recipients waiting in the outbound queue.", nil, nil)
	oldestDesc = prometheus.NewDesc("xtramail_queue_oldest_age_seconds", "Age of the oldest outbound queue entry (0 when empty).", nil, nil)
)

type statsCollector struct {
	src StatsSource
	now func() time.Time
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sizeDesc; ch <- oldestDesc }

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.src.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(sizeDesc, err)
		return
	}
	age := 0.0
	if !st.Oldest.IsZero() {
		age = c.now().Sub(st.Oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(sizeDesc, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
}
