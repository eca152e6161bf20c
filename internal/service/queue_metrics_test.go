package service

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestQueueMetricsExposed: with outbound delivery on, /metrics shows the
// queue's size, its oldest entry's age and the attempts by result (issue
// 13 part 8), each result present from the start.
func TestQueueMetricsExposed(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Queue.Mode, cfg.Queue.RelayHost, cfg.Queue.RelayPort, cfg.Queue.RelayTLS = "relay", "127.0.0.1", 1, "none"
	svc := startService(t, cfg)
	resp, err := http.Get("http://" + svc.MetricsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		"\nxtramail_queue_entries 0\n",
		"\nxtramail_queue_oldest_age_seconds 0\n",
		"\nxtramail_queue_attempts_total{result=\"delivered\"} 0\n",
		"\nxtramail_queue_attempts_total{result=\"deferred\"} 0\n",
		"\nxtramail_queue_attempts_total{result=\"bounced\"} 0\n",
		"\nxtramail_queue_attempts_total{result=\"expired\"} 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}
