// Package service builds xtramail from its configuration and runs it: the
// store, every listener and the background workers. It is the only
// package that picks store backends.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/capture"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/retention"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// OpenStore opens the store of a data directory. The CLI uses it too, on
// the same files while the server runs.
func OpenStore(cfg *config.Config, log *slog.Logger) (store.Store, error) {
	blobs, err := fs.Open(cfg.BlobDir())
	if err != nil {
		return nil, err
	}
	return sqlite.Open(cfg.DBPath(), blobs, sqlite.Options{Logger: log})
}

// Service is a running xtramail.
type Service struct {
	cfg   config.Config
	log   *slog.Logger
	Store store.Store
	TLS   *tls.Config

	capture   *capture.Server
	imap      *imapserver.Server
	metrics   *http.Server
	acme      *http.Server // HTTP-01 challenges, when ACME is on
	retention *retention.Worker

	// Addresses actually listened on (useful with port 0).
	CaptureAddr net.Addr
	IMAPAddr    net.Addr // IMAP over implicit TLS
	MetricsAddr net.Addr

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// New opens the store and prepares the listeners without starting them.
func New(cfg config.Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, acmeHandler, err := loadTLS(&cfg)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(&cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, Store: st, TLS: tlsCfg, errc: make(chan error, 4)}
	if acmeHandler != nil {
		s.acme = &http.Server{Handler: acmeHandler, ReadHeaderTimeout: 10 * time.Second}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(storeCollector{st})

	nets, _ := cfg.Capture.AllowNets() // checked by Validate
	s.capture = capture.New(capture.Config{
		Hostname:        cfg.Hostname,
		MaxMessageBytes: cfg.Capture.MaxMessageBytes,
		MaxRecipients:   cfg.Capture.MaxRecipients,
		ReadTimeout:     cfg.Capture.ReadTimeout.Duration,
		WriteTimeout:    cfg.Capture.WriteTimeout.Duration,
		MaxConns:        cfg.Capture.MaxConns,
		MaxConnsPerIP:   cfg.Capture.MaxConnsPerIP,
		AllowNets:       nets,
		TLS:             tlsCfg,
	}, st, log.With("listener", "capture"), capture.NewMetrics(reg))

	authn := auth.NewAuthenticator(AccountLookup(st), auth.Options{})
	s.imap = imapserver.New(imapserver.Config{
		TLS:           tlsCfg,
		Hostname:      cfg.Hostname,
		MaxConns:      cfg.IMAP.MaxConns,
		MaxConnsPerIP: cfg.IMAP.MaxConnsPerIP,
	}, st, authn, log.With("listener", "imap"))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	s.retention = &retention.Worker{
		Store:    st,
		Log:      log.With("worker", "retention"),
		Interval: cfg.Retention.Interval.Duration,
		Batch:    cfg.Retention.Batch,
		LogDays:  cfg.Retention.LogDays,
		Now:      time.Now,
	}
	return s, nil
}

// loadTLS returns the certificate source and, for ACME, the handler of
// its HTTP-01 challenges.
func loadTLS(cfg *config.Config) (*tls.Config, http.Handler, error) {
	switch {
	case cfg.TLS.CertFile != "":
		c, err := tlsutil.FromFiles(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		return c, nil, err
	case len(cfg.TLS.ACMEHosts) > 0:
		c, h, err := tlsutil.ACME(filepath.Join(cfg.Data, "acme"), cfg.TLS.ACMEHosts, cfg.TLS.ACMEEmail)
		if err != nil {
			return nil, nil, err
		}
		// autocert's config lists HTTP protocols for ALPN; mail listeners
		// negotiate none.
		c = c.Clone()
		c.NextProtos = nil
		return c, h, nil
	default:
		c, err := tlsutil.SelfSigned(cfg.Data, []string{cfg.Hostname})
		return c, nil, err
	}
}

// Start listens on every configured address and serves in the background.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	serve := func(name, addr string, run func(net.Listener) error) (net.Addr, error) {
		if addr == "" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s listener: %w", name, err)
		}
		s.log.Info("listening", "listener", name, "addr", ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := run(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, imapserver.ErrServerClosed) {
				s.errc <- fmt.Errorf("%s listener: %w", name, err)
			}
		}()
		return ln.Addr(), nil
	}
	var err error
	if s.CaptureAddr, err = serve("capture", s.cfg.Capture.Listen, s.capture.Serve); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	if s.IMAPAddr, err = serve("imap", s.cfg.IMAP.Listen, s.imap.Serve); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	if s.MetricsAddr, err = serve("metrics", s.cfg.Metrics.Listen, s.metrics.Serve); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	if s.acme != nil {
		if _, err = serve("acme", s.cfg.TLS.ACMEListen, s.acme.Serve); err != nil {
			s.Shutdown(context.Background())
			return err
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.retention.Run(ctx)
	}()
	return nil
}

// Err reports a listener that stopped on its own.
func (s *Service) Err() <-chan error { return s.errc }

// Shutdown stops accepting, lets open transactions finish until ctx ends,
// stops the workers and closes the store.
func (s *Service) Shutdown(ctx context.Context) error {
	errs := []error{
		s.capture.Shutdown(ctx),
		s.imap.Shutdown(ctx),
		s.metrics.Shutdown(ctx),
	}
	if s.acme != nil {
		errs = append(errs, s.acme.Shutdown(ctx))
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	errs = append(errs, s.Store.Close())
	var out []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, net.ErrClosed) && !errors.Is(e, http.ErrServerClosed) && !errors.Is(e, imapserver.ErrServerClosed) && e.Error() != "smtp: server already closed" {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// AccountLookup finds sign-in credentials in the store, for the
// Authenticator of every front end.
func AccountLookup(st store.Store) auth.LookupFunc {
	return func(ctx context.Context, username string) (auth.Credential, error) {
		a, err := st.Account(ctx, username)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return auth.Credential{}, fmt.Errorf("%w: %s", auth.ErrUnknownUser, username)
		}
		if err != nil {
			return auth.Credential{}, err
		}
		if a.PasswordHash == "" {
			// Added without a password: nothing can match until an
			// administrator sets one.
			return auth.Credential{}, fmt.Errorf("%w: %s has no password", auth.ErrUnknownUser, username)
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}
}

// storeCollector exports store counters at each scrape.
type storeCollector struct{ st store.Store }

var (
	descMessages = prometheus.NewDesc("xtramail_store_messages", "Message copies held (not deleted).", nil, nil)
	descBytes    = prometheus.NewDesc("xtramail_store_bytes", "Bytes of message copies held.", nil, nil)
	descAccounts = prometheus.NewDesc("xtramail_store_accounts", "Protected addresses.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMessages
	ch <- descBytes
	ch <- descAccounts
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.st.Stats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(st.Messages))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descAccounts, prometheus.GaugeValue, float64(st.Accounts))
}
