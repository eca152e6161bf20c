// Package service builds xtramail from its configuration and runs it: the
// store, every listener and the background workers. It is the only
// package that picks store backends.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/xtramail/xtramail/internal/clock"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/capture"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/hostport"
	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/mtasts"
	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/retention"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/submission"
	"github.com/xtramail/xtramail/internal/tlsutil"
	"github.com/xtramail/xtramail/internal/web"
)

// OpenStore opens the store of a data directory. The CLI uses it too, on
// the same files while the server runs.
func OpenStore(cfg *config.Config, log *slog.Logger) (store.Store, error) {
	if err := privateDataDir(cfg.Data, log); err != nil {
		return nil, err
	}
	return openStore(cfg, log, nil)
}

// openStore is OpenStore on the service's clock (nil: the system's).
func openStore(cfg *config.Config, log *slog.Logger, c clock.Clock) (store.Store, error) {
	blobs, err := fs.Open(cfg.BlobDir())
	if err != nil {
		return nil, err
	}
	return sqlite.Open(cfg.DBPath(), blobs, sqlite.Options{Logger: log, Clock: c, MaxMailboxes: cfg.IMAP.MaxMailboxes})
}

// Service is a running xtramail.
type Service struct {
	cfg   config.Config
	log   *slog.Logger
	Store store.Store
	TLS   *tls.Config

	capture *capture.Server
	submit  *submission.Server
	// storage hears from the SMTP listeners whether the disk is full,
	// for the health check.
	storage *smtpserver.Storage
	// inflight is the one budget of message bytes in flight (capture,
	// submission, IMAP APPEND, webmail uploads).
	inflight  *smtpserver.Budget
	imap      *imapserver.Server
	metrics   *http.Server
	acme      *http.Server // HTTP-01 challenges, when ACME is on
	web       *web.Server  // webmail, console and API over HTTPS
	retention *retention.Worker
	// Queue delivers outgoing mail; nil when outbound delivery is off
	// (queue.mode empty). Submission wakes it after queueing.
	Queue *queue.Worker

	// Addresses actually listened on (useful with port 0); nil when the
	// listener is off.
	CaptureAddr net.Addr
	IMAPAddr    net.Addr // IMAP over implicit TLS
	MetricsAddr net.Addr
	// SubmissionAddr is submission with STARTTLS (587), SubmissionsAddr
	// over implicit TLS (465).
	SubmissionAddr  net.Addr
	SubmissionsAddr net.Addr
	// WebAddr is the HTTPS listener of the webmail, console and API;
	// WebRedirectAddr the plain HTTP one that redirects to it.
	WebAddr         net.Addr
	WebRedirectAddr net.Addr
	// Submitter submits signed-in users' messages (the listener's and
	// webmail's one way to send).
	Submitter *submission.Submitter
	// Outbox sends the messages the webmail holds for "undo send" when
	// their hold ends, through Submitter; the webmail wakes it.
	Outbox *submission.Outbox
	// MessageLog is the one background writer of message log records
	// (sign-ins, refusals, moves) that every listener shares; Shutdown
	// drains it after the listeners, before the store closes.
	MessageLog *msglog.Writer
	// Admin runs the administrative operations (console, API): built
	// with IMAP's Authenticator hasher, so that bulk password work and
	// sign-ins share one bound; its usage worker runs with the service.
	Admin *admin.Service

	listeners []*boundListener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errc      chan error
	closing   atomic.Bool
	stopOnce  sync.Once
	stopErr   error
}

// boundListener is a listener bound by New and served by Start.
type boundListener struct {
	name  string
	ln    net.Listener
	serve func(net.Listener) error
}

// New binds every configured listener, opens the store and prepares the
// servers without serving yet. Binding comes first, so that a second
// instance on the same ports stops before it touches anything and says
// which port is taken.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := newOptions(opts)
	// Before anything is written in it: the TLS key, the database.
	if err := privateDataDir(cfg.Data, log); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, errc: make(chan error, 1)}
	acmeListen := "" // HTTP-01 challenges only when certificates come from ACME
	if cfg.TLS.CertFile == "" && len(cfg.TLS.ACMEHosts) > 0 && cfg.Web.RedirectListen == "" {
		// With a web redirect listener, it answers the challenges.
		acmeListen = cfg.TLS.ACMEListen
	}
	subListen, subListenTLS := cfg.SubmissionListen()
	if cfg.Submission.Listen == "auto" && subListen == "" {
		log.Info("submission (587, 465) off: no certificate configured (tls.cert_file or tls.acme_hosts); set submission.listen to serve it with the self-signed one")
	}
	for _, l := range []struct {
		name, addr string
		dst        *net.Addr
	}{
		{"capture", cfg.Capture.Listen, &s.CaptureAddr},
		{"imap", cfg.IMAP.Listen, &s.IMAPAddr},
		{"metrics", cfg.Metrics.Listen, &s.MetricsAddr},
		{"submission", subListen, &s.SubmissionAddr},
		{"submissions", subListenTLS, &s.SubmissionsAddr},
		{"acme", acmeListen, nil},
		{"web", cfg.Web.Listen, &s.WebAddr},
		{"web-redirect", cfg.Web.RedirectListen, &s.WebRedirectAddr},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeListeners()
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%s listener: %s is already in use (is another xtramail running?)", l.name, l.addr)
			}
			return nil, fmt.Errorf("%s listener: %w", l.name, err)
		}
		s.listeners = append(s.listeners, &boundListener{name: l.name, ln: ln})
		if l.dst != nil {
			*l.dst = ln.Addr()
		}
	}
	tlsCfg, acmeHandler, err := loadTLS(&cfg)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	st, err := openStore(&cfg, log, o.clock)
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.Store, s.TLS = st, tlsCfg
	if acmeHandler != nil {
		s.acme = &http.Server{Handler: acmeHandler, ReadHeaderTimeout: 10 * time.Second}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(storeCollector{st})

	s.MessageLog = msglog.NewWriter(st, log.With("worker", "msglog"))
	nets, _ := cfg.Capture.AllowNets() // checked by Validate
	// Large bodies wait in the data directory while they arrive: /tmp may
	// be a tmpfs, which is memory again.
	spool := filepath.Join(cfg.Data, "spool")
	if err := os.MkdirAll(spool, 0o750); err != nil {
		s.closeListeners()
		st.Close()
		return nil, fmt.Errorf("capture spool dir: %w", err)
	}
	// One budget of message bytes received and not yet stored, for
	// every way a message arrives (capture, submission, IMAP APPEND).
	// Each account may hold a share of it (smtpserver.Budget.FitMessage);
	// capture's upstreams are bound by the whole alone.
	inflight := smtpserver.NewBudget(cfg.Capture.MaxInflightBytes)
	s.inflight = inflight
	s.storage = new(smtpserver.Storage)
	// What the SMTP listeners share: one spool, budget and message log.
	smtpConfig := func(l config.SMTP) smtpserver.Config {
		return smtpserver.Config{
			Hostname:        cfg.Hostname,
			TLS:             tlsCfg,
			MaxMessageBytes: l.MaxMessageBytes,
			ReadTimeout:     l.ReadTimeout.Duration,
			WriteTimeout:    l.WriteTimeout.Duration,
			MaxConns:        l.MaxConns,
			MaxConnsPerIP:   l.MaxConnsPerIP,
			SpoolDir:        spool,
			Inflight:        inflight,
			MessageLog:      s.MessageLog,
			Storage:         s.storage,
		}
	}
	s.capture = capture.New(capture.Config{
		Config:        smtpConfig(cfg.Capture.SMTP),
		MaxRecipients: cfg.Capture.MaxRecipients,
		AllowNets:     nets,
	}, st, log.With("listener", "capture"), capture.NewMetrics(reg))

	// Known sign-in IPs live in the store, so that the owner's clients
	// pass the address lock-out after a restart too (issue 11 part 4).
	sealKey, err := LoadSealKey(cfg.Data)
	if err != nil {
		s.closeListeners()
		st.Close()
		return nil, err
	}
	// An imported password not hashed yet is checked and hashed at its
	// first sign-in (admin.PendingCredential).
	pending := func(ctx context.Context, address string) (string, *auth.PendingPassword, error) {
		return s.Admin.PendingCredential(ctx, address)
	}
	authn := auth.NewAuthenticator(AccountLookup(st, pending), auth.Options{KnownIPStore: st})
	// One admin service for the CLI's dev bootstrap, the usage worker,
	// the console and the API: the same hash slots as sign-ins, and a
	// changed address (new password, disabled) forgets its cached
	// credentials and ends its web sessions.
	sessions := web.NewSessions(st, web.SessionsConfig{Idle: cfg.Web.SessionIdle.Duration, Max: cfg.Web.SessionMax.Duration})
	s.Admin = admin.New(st, admin.Options{Hasher: authn.Hasher(), Forget: forgetAddress(st, authn, sessions, log), Issuer: cfg.Hostname, PasskeyRPID: cfg.Hostname,
		SystemSender: cfg.Web.SystemSender, Wake: s.wakeQueue, SealKey: sealKey, Now: o.clock.Now, Logger: log.With("component", "admin")})
	// One bound on the messages that searches read, IMAP's and the
	// webmail's.
	searchMemory := imapmsg.NewSearchMemory(256 << 20)
	s.imap = imapserver.New(imapserver.Config{
		TLS:           tlsCfg,
		Hostname:      cfg.Hostname,
		MaxConns:      cfg.IMAP.MaxConns,
		MaxConnsPerIP: cfg.IMAP.MaxConnsPerIP,
		QuotaStorage:  cfg.IMAP.QuotaBytes,
		QuotaByDomain: quotaDomains(cfg.IMAP.QuotaDomains),
		SpoolDir:      spool,
		Inflight:      inflight,
		Metrics:       imapserver.NewMetrics(reg),
		MessageLog:    s.MessageLog,
		SearchMemory:  searchMemory,
		Storage:       s.storage,
	}, st, authn, log.With("listener", "imap"))
	reg.MustRegister(s.imap.Collector())

	// The queue fills in hold mode too: its size and oldest entry's age
	// are read from the store, so they are exposed whether or not a
	// worker runs (its attempts stay at zero without one).
	queueMetrics := queue.NewMetrics(reg, st, time.Now)
	if cfg.Queue.EffectiveMode() != "hold" {
		s.Queue = queue.New(queueConfig(&cfg, st, log), st, log.With("worker", "queue"), queueMetrics)
	}
	var wake func()
	if s.Queue != nil {
		wake = s.Queue.Wake
	}
	s.Submitter = submission.NewSubmitter(st, submission.Limits{
		MaxRecipients:   cfg.Submission.MaxRecipients,
		PerHour:         cfg.Submission.MaxPerHour,
		FromAliases:     cfg.Submission.FromAliases,
		MaxMessageBytes: cfg.Submission.MaxMessageBytes,
	}, wake, o.clock.Now)
	s.Submitter.SetHostname(cfg.Hostname)
	s.Outbox = submission.NewOutbox(st, s.Submitter, log.With("worker", "outbox"), o.clock.Now)
	s.Outbox.UseClock(o.clock)
	s.Outbox.SpoolIn(spool, inflight)
	// The same Authenticator as IMAP: one set of throttles and one
	// credential cache for every sign-in.
	s.submit = submission.New(submission.Config{Config: smtpConfig(cfg.Submission.SMTP)},
		st, authn, s.Submitter, log.With("listener", "submission"))

	s.web = newWeb(&cfg, s.WebAddr, tlsCfg, acmeHandler, st, authn, sessions, s.Admin, s.composeOptions(&cfg, authn, spool, inflight), searchMemory, o.clock, log.With("listener", "web"))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.health)
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	for _, l := range s.listeners {
		switch l.name {
		case "capture":
			l.serve = s.capture.Serve
		case "imap":
			l.serve = s.imap.Serve
		case "metrics":
			l.serve = s.metrics.Serve
		case "submission":
			l.serve = s.submit.Serve
		case "submissions":
			l.serve = s.submit.ServeTLS
		case "acme":
			l.serve = s.acme.Serve
		case "web":
			l.serve = s.web.Serve
		case "web-redirect":
			l.serve = s.web.ServeRedirect
		}
	}

	s.retention = &retention.Worker{
		Store:    st,
		Log:      log.With("worker", "retention"),
		Interval: cfg.Retention.Interval.Duration,
		Batch:    cfg.Retention.Batch,
		LogDays:  cfg.Retention.LogDays,
		Now:      o.clock.Now,
	}
	return s, nil
}

// wakeQueue tells the outbound queue worker, when it runs, that entries
// were added (an administrator's redelivery or sign-in link mail).
func (s *Service) wakeQueue() {
	if s.Queue != nil {
		s.Queue.Wake()
	}
}

// queueConfig turns the queue settings into the worker's, with the
// system's resolver and certificate roots; MTA-STS policies are cached in
// the store.
func queueConfig(cfg *config.Config, cache mtasts.Cache, log *slog.Logger) queue.Config {
	q := cfg.Queue
	qc := queue.Config{
		Hostname:    cfg.Hostname,
		Lifetime:    q.Lifetime.Duration,
		DelayNotice: q.DelayNotice.Duration,
		MinBackoff:  q.MinBackoff.Duration,
		MaxBackoff:  q.MaxBackoff.Duration,
		Concurrency: q.Concurrency,
	}
	// Validate has checked them.
	qc.RouteNetworks, _ = q.RoutePrefixes()
	switch q.EffectiveMode() {
	case "relay":
		// In the form DNS looks up and a certificate names: an
		// internationalised name in its A-labels (Validate has
		// checked it reads).
		host, _ := hostport.Host(q.RelayHost)
		qc.Relay = &queue.Relay{Host: host, Port: q.RelayPort, TLS: q.RelayTLS,
			Username: q.RelayUsername, Password: q.RelayPassword}
	case "mx":
		if q.MTASTS {
			qc.MTASTS = mtasts.NewClient(net.DefaultResolver, queue.PolicyTransport(qc.RouteNetworks), cache, time.Now)
			qc.MTASTS.Log = log.With("worker", "queue")
		}
	}
	return qc
}

func (s *Service) closeListeners() {
	for _, l := range s.listeners {
		l.ln.Close()
	}
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

// Start serves every listener bound by New, and the background workers.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	for _, l := range s.listeners {
		s.log.Info("listening", "listener", l.name, "addr", l.ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			err := l.serve(l.ln)
			if s.closing.Load() || closedErr(err) {
				return
			}
			s.fail(fmt.Errorf("%s listener stopped: %w", l.name, err))
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.retention.Run(ctx)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Outbox.Run(ctx)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Admin.RunUsageSnapshots(ctx, 0)
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.Admin.RunPendingPasswords(ctx)
	}()
	if s.Queue != nil {
		// One service serves a data directory: an entry still leased
		// was claimed by a process that is gone (killed, say). It is
		// sent now, not after its lease (15 minutes); one that process
		// had sent and not yet recorded goes again, as it would then.
		if n, err := s.Store.ReleaseQueueLeases(ctx); err != nil {
			s.log.Warn("outbound queue: entries claimed before the restart wait out their lease", "err", err)
		} else if n > 0 {
			s.log.Info("outbound queue: took over entries claimed before the restart", "entries", n)
		}
		s.log.Info("outbound queue running", "mode", s.cfg.Queue.EffectiveMode())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.Queue.Run(ctx)
		}()
	} else {
		s.log.Warn("outbound queue on hold ([queue] mode = \"hold\"): submitted mail and delivery notices wait in the queue, nothing is sent out")
	}
	return nil
}

// health answers 200 "ok", or 503 with the reason while the service
// cannot do its job: today, a full disk that makes capture and
// submission answer 452, whichever of them met it last.
func (s *Service) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.storage.Full() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "storage full: mail is answered 452 4.3.1 until space is freed")
		return
	}
	fmt.Fprintln(w, "ok")
}

// closedErr reports the errors a server returns because it was shut down.
func closedErr(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) ||
		errors.Is(err, imapserver.ErrServerClosed) || errors.Is(err, smtp.ErrServerClosed)
}

// fail reports a listener that stopped on its own. The first failure is
// kept for Err; later ones, while the service is being stopped anyway, are
// only logged, so a failing listener never blocks.
func (s *Service) fail(err error) {
	select {
	case s.errc <- err:
	default:
		s.log.Error("listener failed", "err", err)
	}
}

// Err reports the first listener that stopped on its own.
func (s *Service) Err() <-chan error { return s.errc }

// Shutdown stops accepting on every listener at once, then drains all
// servers in parallel: idle SMTP sessions get "421 4.3.2", transactions in
// flight finish, every IMAP session gets "* BYE". It waits until ctx ends,
// then cuts what is left, stops the workers and closes the store. It
// returns nil when everything drained in time. Later calls return the
// first call's result.
func (s *Service) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Service) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	stops := []func(context.Context) error{s.capture.Shutdown, s.submit.Shutdown, s.imap.Shutdown, s.metrics.Shutdown, s.web.Shutdown}
	if s.acme != nil {
		stops = append(stops, s.acme.Shutdown)
	}
	errs := make([]error, len(stops))
	var wg sync.WaitGroup
	for i, stop := range stops {
		wg.Go(func() { errs[i] = stop(ctx) })
	}
	wg.Wait()
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	// Every listener has stopped: no record is added any more. The
	// records still queued are written even when ctx has ended.
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	errs = append(errs, s.MessageLog.Close(lctx))
	lcancel()
	errs = append(errs, s.Store.Close())
	var out []error
	for _, e := range errs {
		if !closedErr(e) {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// AccountLookup finds sign-in credentials in the store, for the
// Authenticator of every front end. pending serves an account whose
// imported password still waits for the background job
// (admin.PendingCredential): its clear password for the Authenticator to
// check and hash once, or its hash if the job was first; nil leaves such
// an account unable to sign in until the job has hashed it.
func AccountLookup(st store.Store, pending func(ctx context.Context, address string) (string, *auth.PendingPassword, error)) auth.LookupFunc {
	return func(ctx context.Context, username string) (auth.Credential, error) {
		a, err := st.Account(ctx, username)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return auth.Credential{}, fmt.Errorf("%w: %s", auth.ErrUnknownUser, username)
		}
		if err != nil {
			return auth.Credential{}, err
		}
		var waiting *auth.PendingPassword
		if a.PasswordHash == store.PendingPasswordHash {
			a.PasswordHash = ""
			if pending != nil {
				if a.PasswordHash, waiting, err = pending(ctx, a.Address); err != nil {
					return auth.Credential{}, fmt.Errorf("pending password of %s: %w", a.Address, err)
				}
			}
		}
		if a.PasswordHash == "" && waiting == nil {
			// Added without a password: nothing can match until an
			// administrator sets one.
			return auth.Credential{}, fmt.Errorf("%w: %s has no password", auth.ErrUnknownUser, username)
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled, Pending: waiting}, nil
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

// quotaDomains keys the per-domain quotas by normalised domain name.
func quotaDomains(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for name, limit := range m {
		if d, err := store.NormalizeDomain(name); err == nil {
			out[d] = limit
		}
	}
	return out
}
