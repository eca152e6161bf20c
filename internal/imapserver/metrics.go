package imapserver

import (
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the IMAP server's Prometheus series. A Server without
// Config.Metrics gets its own unregistered set, so the code never checks.
type Metrics struct {
	sessions prometheus.Gauge
	idle     prometheus.Gauge
	commands *prometheus.CounterVec   // command, result
	latency  *prometheus.HistogramVec // command
	bytes    *prometheus.CounterVec   // direction: in, out (on the wire)
	// compress counts the bytes of COMPRESS=DEFLATE sessions' responses
	// before ("uncompressed") and after ("compressed") deflate: their
	// ratio is the compression ratio (RFC 4978).
	compress *prometheus.CounterVec
	// refused counts connections turned away, by reason: max_conns,
	// max_conns_per_ip, shutdown.
	refused *prometheus.CounterVec
}

// NewMetrics creates the series and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xtramail_imap_sessions", Help: "Open IMAP connections.",
		}),
		idle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xtramail_imap_idle_sessions", Help: "IMAP sessions in IDLE.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtramail_imap_commands_total", Help: "IMAP commands by name and result (ok, no, bad).",
		}, []string{"command", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xtramail_imap_command_seconds", Help: "Time to run and answer an IMAP command (IDLE excluded).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"command"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtramail_imap_bytes_total", Help: "Bytes on IMAP connections (after TLS and compression).",
		}, []string{"direction"}),
		compress: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtramail_imap_compress_bytes_total",
			Help: "Response bytes of COMPRESS=DEFLATE sessions before (uncompressed) and after (compressed) deflate.",
		}, []string{"stage"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xtramail_imap_connections_refused_total",
			Help: "IMAP connections refused at once, by reason: max_conns, max_conns_per_ip (the limits) or shutdown.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.idle, m.commands, m.latency, m.bytes, m.compress, m.refused)
	}
	return m
}

// countingConn counts the bytes of a connection into the metrics, and
// gives each write writeTimeout from its start: a response is cut when
// the client stops taking it, not when it is long. One deadline for the
// whole command cut a FETCH of a large mailbox at 5 minutes however
// steadily the client read (a phone on a slow link), while a client
// that reads nothing is cut after one write's timeout wherever it is.
type countingConn struct {
	net.Conn
	in, out      prometheus.Counter
	writeTimeout time.Duration
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(float64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	n, err := c.Conn.Write(b)
	c.out.Add(float64(n))
	return n, err
}

// countingWriter counts what goes through an io.Writer.
type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n prometheus.Counter
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(float64(n))
	return n, err
}
