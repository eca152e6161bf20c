package service

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/submission"
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

// TestQueueMetricsInHoldMode: with [queue] mode = "hold" no worker runs,
// but the queue fills all the same; /metrics shows its size and age, and
// attempts at zero.
func TestQueueMetricsInHoldMode(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Queue.Mode = "hold"
	svc := startService(t, cfg)
	if svc.Queue != nil {
		t.Fatal("queue worker built in hold mode")
	}
	ctx := context.Background()
	if _, err := svc.Store.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	acc, err := svc.Store.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	body := "From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: held\r\nMessage-ID: <held1@example.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nheld\r\n"
	res, err := svc.Submitter.Submit(ctx, submission.Message{Account: acc, MailFrom: acc.Address, Rcpts: []string{"bob@remote.test"}, Body: []byte(body)})
	if err != nil || res.Queued != 1 {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	resp, err := http.Get("http://" + svc.MetricsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := string(b)
	for _, want := range []string{
		"\nxtramail_queue_entries 1\n",
		"\nxtramail_queue_oldest_age_seconds ",
		"\nxtramail_queue_attempts_total{result=\"deferred\"} 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
}
