package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/disktest"
)

// TestHealthReportsFullDisk guards issue 12 part 5 at the service: once
// capture has answered 452 4.3.1 for want of disk space, /healthz answers
// 503 and says so, so a load balancer or monitor takes the node out. The
// data directory is a real 8 MiB tmpfs filled by real SMTP copies.
func TestHealthReportsFullDisk(t *testing.T) {
	dir, ok := disktest.Mount(t, "8m")
	if !ok {
		return
	}
	cfg := quietConfig(t)
	cfg.Data = dir
	st, err := OpenStore(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, "bob@example.test", ""); err != nil {
		t.Fatal(err)
	}
	st.Close()

	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.1/32"}
	svc := startService(t, cfg)
	health := func() (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + svc.MetricsAddr.String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := health(); code != http.StatusOK {
		t.Fatalf("healthz before the disk fills: %d %q", code, body)
	}

	c, err := smtp.Dial(svc.CaptureAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := "Subject: fill\r\n\r\n" + strings.Repeat(strings.Repeat("x", 998)+"\r\n", 300) // 300 KB
	var refused error
	for i := 0; refused == nil; i++ {
		if i > 60 {
			t.Fatal("an 8 MiB disk took 18 MB of copies without a refusal")
		}
		if err := c.Mail("a@outside.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("bob@example.test"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
		refused = w.Close()
	}
	var reply *textproto.Error
	if !errors.As(refused, &reply) || reply.Code != 452 || !strings.HasPrefix(reply.Msg, "4.3.1 ") {
		t.Fatalf("full disk: %v, want 452 4.3.1", refused)
	}
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "storage full") {
		t.Fatalf("healthz on a full disk: %d %q, want 503 saying storage full", code, body)
	}
}
