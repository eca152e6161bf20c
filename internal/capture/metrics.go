package capture

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the capture listener's Prometheus series.
type Metrics struct {
	stored       prometheus.Counter
	duplicates   prometheus.Counter
	refused      prometheus.Counter
	bytes        prometheus.Counter
	latency      prometheus.Histogram
	conns        prometheus.Gauge
	connsRefused prometheus.Counter
	storageFull  prometheus.Gauge
	isFull       atomic.Bool
}

// setFull records whether the last store attempt found the disk full.
func (m *Metrics) setFull(full bool) {
	if m.isFull.Swap(full) != full {
		if full {
			m.storageFull.Set(1)
		} else {
			m.storageFull.Set(0)
		}
	}
}

func (m *Metrics) full() bool { return m.isFull.Load() }

// NewMetrics creates the series and registers them with reg when it is not
// nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xtramail_capture_stored_total", Help: "Message copies stored by the capture listener.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xtramail_capture_duplicates_total", Help: "Message copies not stored again because their mailbox held them (issue 13 part 5).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xtramail_capture_refused_total", Help: "Recipients and messages refused by the capture listener.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xtramail_capture_bytes_total", Help: "Bytes of messages captured.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xtramail_capture_ingest_seconds", Help: "Time from end of DATA to durable storage.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xtramail_capture_connections", Help: "Open capture connections.",
		}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xtramail_capture_connections_refused_total", Help: "Connections refused at the greeting: over the limits or from outside the allow-list.",
		}),
		storageFull: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xtramail_capture_storage_full",
			Help: "1 while the last attempt to store a captured message found the disk full (answered 452 4.3.1).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.stored, m.duplicates, m.refused, m.bytes, m.latency, m.conns, m.connsRefused, m.storageFull)
	}
	return m
}
