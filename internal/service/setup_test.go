package service

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
)

// quietConfig is the production defaults over a fresh data directory with
// every listener off but /metrics on 127.0.0.1:0: a test turns on the
// listeners it exercises.
func quietConfig(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Capture.Listen = ""
	cfg.IMAP.Listen = ""
	cfg.TLS.ACMEListen = ""
	cfg.Web.Listen = ""
	cfg.Submission.Listen, cfg.Submission.ListenTLS = "", ""
	cfg.Metrics.Listen = "127.0.0.1:0"
	return cfg
}

// startService builds and starts the service on cfg, and shuts it down
// when the test ends (its cleanups registered before run after that, so
// a data directory mounted for the test is unmounted once the service
// has let go of it).
func startService(t testing.TB, cfg config.Config) *Service {
	t.Helper()
	svc, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			// What the test checked stands; a slow drain is no failure of it.
			t.Logf("shutdown: %v", err)
		}
	})
	return svc
}
