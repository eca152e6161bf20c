package imapserver_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// TestConnectionLimitAnswersInsideTLS: a connection over the limits on
// the implicit-TLS listener was closed without a word, no log line and
// no metric, and the client saw a TLS EOF (probe 38i), where the README
// promises "* BYE". It now reads "* BYE [UNAVAILABLE]" inside TLS, as an
// SMTP client of port 465 reads its 421 (smtpserver.Refuser, shared);
// the refusal is logged with the limit and counted by reason. A client
// from another address is still served.
func TestConnectionLimitAnswersInsideTLS(t *testing.T) {
	e := newEnv(t)
	e.stop()
	logs := &lockedBuffer{}
	e.log = slog.New(slog.NewJSONHandler(logs, nil))
	reg := prometheus.NewRegistry()
	dialTLS := func(from net.IP) string {
		t.Helper()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: from}, Timeout: time.Minute}
		c, err := tls.DialWithDialer(d, "tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS from %s: %v", from, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("TLS from %s: read: %q %v", from, line, err)
		}
		return line
	}
	a, b := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)

	e.start(imapserver.Config{MaxConnsPerIP: 2, MaxConns: 3, Metrics: imapserver.NewMetrics(reg)})
	for i := range 2 {
		if l := dialTLS(a); !strings.HasPrefix(l, "* OK") {
			t.Fatalf("connection %d: %q", i+1, l)
		}
	}
	if l := dialTLS(a); !strings.HasPrefix(l, "* BYE [UNAVAILABLE] too many connections") {
		t.Errorf("over the per-IP limit on implicit TLS: %q", l)
	}
	// The plaintext listener counts the same connections.
	raw, err := net.Dial("tcp", e.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetReadDeadline(time.Now().Add(time.Minute))
	if l, _ := bufio.NewReader(raw).ReadString('\n'); !strings.HasPrefix(l, "* BYE [UNAVAILABLE]") {
		t.Errorf("over the per-IP limit on the plaintext listener: %q", l)
	}
	if l := dialTLS(b); !strings.HasPrefix(l, "* OK") {
		t.Errorf("another address under the limits: %q", l)
	}
	if l := dialTLS(b); !strings.HasPrefix(l, "* BYE [UNAVAILABLE] too many connections") {
		t.Errorf("over the total limit on implicit TLS: %q", l)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "xtramail_imap_connections_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			refused[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if refused["max_conns_per_ip"] != 2 || refused["max_conns"] != 1 {
		t.Errorf("refusals counted %v, want 2 max_conns_per_ip and 1 max_conns", refused)
	}
	// Logged at most a line a second (each with the count of those
	// left unlogged before it): the first at once, with its limit.
	e.stop()
	var accounted int
	var reasons []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Msg, Remote, Reason string
			Unlogged            int `json:"refused_unlogged"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil || rec.Msg != "connection refused" {
			continue
		}
		accounted += 1 + rec.Unlogged
		reasons = append(reasons, rec.Remote+" "+rec.Reason)
	}
	if accounted == 0 || reasons[0] != "127.0.0.1 max_conns_per_ip" {
		t.Errorf("refusals logged: %q", reasons)
	}
	t.Logf("logged: %q, accounting for %d", reasons, accounted)
}
