package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
)

// cheapParams make test hashes fast; the work they stand for is counted,
// not timed.
var cheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// openTestStore opens the store of a fresh data directory as the service
// does, closed when the test ends.
func openTestStore(t *testing.T) (store.Store, config.Config) {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	st, err := OpenStore(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, cfg
}

// TestAccountLookup checks how store accounts become sign-in credentials:
// unknown addresses and addresses without a password are refused like a
// wrong password, never as a server error.
func TestAccountLookup(t *testing.T) {
	st, _ := openTestStore(t)
	ctx := context.Background()
	st.CreateDomain(ctx, "example.test", 0)
	hash, _ := auth.HashParams("right password", cheapParams)
	st.CreateAccount(ctx, "bob@example.test", hash)
	st.CreateAccount(ctx, "nopass@example.test", "")
	a := auth.NewAuthenticator(AccountLookup(st, nil), auth.Options{})
	if _, err := a.Authenticate(ctx, "Bob@example.test", "right password", "192.0.2.1"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, c := range []struct{ user, pass string }{
		{"bob@example.test", "wrong"},
		{"nobody@example.test", "x"},
		{"nopass@example.test", "anything"},
		{"not an address", "x"},
	} {
		if _, err := a.Authenticate(ctx, c.user, c.pass, "192.0.2.2"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q): %v, want ErrInvalidCredentials", c.user, err)
		}
	}
}

// TestListenerFailuresNeverBlock guards issue 12 part 4: any number of
// listeners failing on their own report the first failure on Err and
// never block, so Shutdown still completes.
func TestListenerFailuresNeverBlock(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Hostname = "localhost"
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.1"}
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.Metrics.Listen = ""
	cfg.Web.Listen = "127.0.0.1:0"
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// More listeners than any channel buffer, each failing at once, as
	// submission and web will be added beside capture and IMAP.
	for i := range 10 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.listeners = append(s.listeners, &boundListener{name: fmt.Sprintf("failing-%d", i), ln: ln,
			serve: func(net.Listener) error { return errors.New("disk on fire") }})
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.Err():
		if !strings.Contains(err.Error(), "failing-") || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("Err: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no failure reported")
	}
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Shutdown blocked: a failing listener's goroutine is stuck on the error channel")
	}
}

// TestSecondInstanceNamesTakenPort: New binds before it opens the store,
// and says which address is taken.
func TestSecondInstanceNamesTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Capture.Allow = []string{"127.0.0.1"}
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = taken.Addr().String()
	cfg.Metrics.Listen = ""
	cfg.Web.Listen = "127.0.0.1:0"
	_, err = New(cfg, slog.New(slog.DiscardHandler))
	want := "imap listener: " + taken.Addr().String() + " is already in use (is another xtramail running?)"
	if err == nil || err.Error() != want {
		t.Fatalf("New with a taken port: %v, want %q", err, want)
	}
	if ents, _ := os.ReadDir(cfg.Data); len(ents) != 0 {
		t.Errorf("New touched the data directory before failing: %v", ents)
	}
}

// TestHealthAndSpool checks the health endpoint beside /metrics (issue 12
// part 5: a full disk must show there; capture's test fills a real disk)
// and that capture spools large bodies inside the data directory.
func TestHealthAndSpool(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.1/32"}
	svc := startService(t, cfg)
	resp, err := http.Get("http://" + svc.MetricsAddr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	if fi, err := os.Stat(filepath.Join(cfg.Data, "spool")); err != nil || !fi.IsDir() {
		t.Fatalf("spool directory in the data directory: %v", err)
	}
}
