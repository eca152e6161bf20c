// Package testserver starts the whole xtramail service in-process for
// end-to-end tests: every listener on a loopback :0 port, a real SQLite
// store in t.TempDir(), the self-signed certificate of a fresh data
// directory, a protected domain and users. Front ends' end-to-end tests
// use it instead of wiring the service themselves:
//
//	srv := testserver.Start(t, testserver.Options{Users: map[string]string{"bob@example.test": "bob-password"}})
//	c, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
//
// The service is shut down (and must drain cleanly) when the test ends.
package testserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"github.com/xtramail/xtramail/internal/clock"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
	"github.com/xtramail/xtramail/internal/store"
)

// DefaultDomain is the protected domain of a server started without one.
const DefaultDomain = "example.test"

// Options configure Start. The zero value serves capture, IMAP,
// submission (587 and 465 style) and metrics on loopback with DefaultDomain and no users.
type Options struct {
	// Domain is created at start; DefaultDomain when empty.
	Domain string
	// Users are created at start, enabled, address → password.
	Users map[string]string
	// Configure adjusts the configuration before the service is built
	// (listeners, limits, timeouts). Set a listener to "" to turn it off.
	Configure func(*config.Config)
	// LogLevel of the service's log, written to the test log: debug,
	// info, warn or error; warn when empty.
	LogLevel string
	// Data, when set, is the data directory to use instead of a new one:
	// a restart of an earlier Server (shut down first) on its Data. The
	// domain and users it holds already are kept as they are.
	Data string
	// Log, when set, also gets the service's log lines (JSON, one a
	// line), for tests that read the log.
	Log io.Writer
	// Clock, when set, is the service's clock (service.WithClock): a
	// clocktest.Clock that the test advances through an undo window.
	Clock clock.Clock
}

// Server is a running service.
type Server struct {
	// Listener addresses (host:port), "" when off.
	Capture string // capture SMTP (plain, STARTTLS offered)
	IMAP    string // IMAP over implicit TLS
	Metrics string // GET /metrics
	// Submission is SMTP submission with STARTTLS (587), Submissions
	// over implicit TLS (465).
	Submission  string
	Submissions string
	// Web is the base URL of the HTTPS listener (webmail, console, API):
	// "https://127.0.0.1:PORT". HTTPClient trusts its certificate.
	Web string
	// Data is the data directory; Config the configuration in effect.
	Data   string
	Config config.Config
	// Store is the service's own store. It lives as long as the test:
	// use it to prepare and check state, not after the test ends.
	Store store.Store
	// Domain is the protected domain created at start.
	Domain string

	svc   *service.Service
	roots *x509.CertPool
	log   *testLog

	stopOnce sync.Once
	stopErr  error
}

// Start starts the service and registers its shutdown with t.Cleanup;
// the test fails if the shutdown does not drain cleanly.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Data = opts.Data
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	cfg.Hostname = "localhost"
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.0/8", "::1"}
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.Metrics.Listen = "127.0.0.1:0"
	cfg.Submission.Listen = "127.0.0.1:0"
	cfg.Submission.ListenTLS = "127.0.0.1:0"
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	// Nothing leaves unless a test says where: tests look at what waits
	// in the queue, and the default (mx) would look up real domains.
	cfg.Queue.Mode = "hold"
	if opts.LogLevel != "" {
		cfg.Log.Level = opts.LogLevel
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	tl := &testLog{t: t}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	log := slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: level}))
	if opts.Log != nil {
		log = slog.New(fanout{log.Handler(), slog.NewJSONHandler(opts.Log, &slog.HandlerOptions{Level: level})})
	}
	svc, err := service.New(cfg, log, service.WithClock(opts.Clock))
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	s := &Server{Data: cfg.Data, Config: cfg, Store: svc.Store, svc: svc, log: tl,
		Capture: addr(svc.CaptureAddr), IMAP: addr(svc.IMAPAddr), Metrics: addr(svc.MetricsAddr),
		Submission: addr(svc.SubmissionAddr), Submissions: addr(svc.SubmissionsAddr)}
	if svc.WebAddr != nil {
		s.Web = "https://" + svc.WebAddr.String()
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("testserver: shutdown: %v", err)
		}
		tl.close()
	})
	if len(svc.TLS.Certificates) > 0 && svc.TLS.Certificates[0].Leaf != nil {
		s.roots = x509.NewCertPool()
		s.roots.AddCert(svc.TLS.Certificates[0].Leaf)
	} else if cfg.TLS.CertFile != "" {
		// A certificate from a file is served through GetCertificate
		// (so that it can be renewed): trust the file.
		pemCerts, err := os.ReadFile(cfg.TLS.CertFile)
		if err != nil {
			t.Fatalf("testserver: %v", err)
		}
		s.roots = x509.NewCertPool()
		s.roots.AppendCertsFromPEM(pemCerts)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatalf("testserver: start: %v", err)
	}
	s.Domain = opts.Domain
	if s.Domain == "" {
		s.Domain = DefaultDomain
	}
	if _, err := s.Store.CreateDomain(context.Background(), s.Domain, 0); err != nil && (opts.Data == "" || !errors.Is(err, store.ErrExists)) {
		t.Fatalf("testserver: create domain: %v", err)
	}
	for _, a := range slices.Sorted(maps.Keys(opts.Users)) {
		if _, err := s.Store.Account(context.Background(), a); opts.Data != "" && err == nil {
			continue
		}
		s.AddUser(t, a, opts.Users[a])
	}
	return s
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// testParams make test hashes cheap: sign-in verifies with the hash's own
// parameters, so tests need not pay production's cost per login.
var testParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// AddUser protects an address (its domain must exist: see AddDomain),
// enabled, with password ("" for none), and returns the account.
func (s *Server) AddUser(t testing.TB, address, password string) store.Account {
	t.Helper()
	hash := ""
	if password != "" {
		var err error
		if hash, err = auth.HashParams(password, testParams); err != nil {
			t.Fatalf("testserver: hash password: %v", err)
		}
	}
	a, err := s.Store.CreateAccount(context.Background(), address, hash)
	if err != nil {
		t.Fatalf("testserver: add user %s: %v", address, err)
	}
	return a
}

// AddDomain protects another domain.
func (s *Server) AddDomain(t testing.TB, name string) store.Domain {
	t.Helper()
	d, err := s.Store.CreateDomain(context.Background(), name, 0)
	if err != nil {
		t.Fatalf("testserver: add domain %s: %v", name, err)
	}
	return d
}

// Bodies returns the raw messages of an address's mailbox, keyed by
// Message-ID (without angle brackets), read through the store as that
// address: what a test checks after a delivery.
func (s *Server) Bodies(t testing.TB, address, mailbox string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	a, msgs := s.messages(t, address, mailbox)
	out := make(map[string][]byte, len(msgs))
	for _, m := range msgs {
		rc, err := s.Store.OpenBody(ctx, a.ID, m.BodyID)
		if err != nil {
			t.Fatalf("testserver: body of message %d: %v", m.ID, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("testserver: read body of message %d: %v", m.ID, err)
		}
		out[m.MessageID] = b
	}
	return out
}

// ClientTLS returns a client configuration that trusts the server's
// self-signed certificate, for the name localhost.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// HTTPClient returns a client for Web that trusts the server's
// certificate and keeps cookies (the session) in a jar of its own; it
// does not follow redirects, so that tests see them. Each call gives a new
// client: another browser.
func (s *Server) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil) // no error without options
	tc := s.ClientTLS()
	tc.ServerName = "127.0.0.1"
	return &http.Client{
		Jar:     jar,
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			TLSClientConfig:   tc,
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// FlushLog waits until the message log records queued so far (sign-ins,
// refusals) are written, so that a test can read them back.
func (s *Server) FlushLog(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.svc.MessageLog.Flush(ctx); err != nil {
		t.Fatalf("flush message log: %v", err)
	}
}

// Shutdown stops the service as SIGTERM does (tests of the drain call it
// themselves; otherwise the test's cleanup does). Later calls return the
// first result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		s.stopErr = s.svc.Shutdown(ctx)
	})
	return s.stopErr
}

// Err reports a listener that failed on its own, as Service.Err.
func (s *Server) Err() <-chan error { return s.svc.Err() }

// testLog writes the service's log lines to the test log until the test
// ends (a late line from a goroutine must not reach a finished test).
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}

// fanout sends each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
