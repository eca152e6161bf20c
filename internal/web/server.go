package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// TLS gives the certificates (tlsutil's configuration); the server
	// adds the HTTP protocols (h2, http/1.1) to its own copy.
	TLS *tls.Config
	// Timeouts of every connection: http.Server's fields of the same
	// names. Zero values get 10 s, 5 min, 5 min and 2 min.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// HTTPSPort is the port that ServeRedirect sends browsers to
	// ("443" when empty: no port in the URL).
	HTTPSPort string
	// ACME answers ACME HTTP-01 challenges on the redirect listener
	// (nil: certificates do not come from ACME).
	ACME http.Handler
	// Now is the clock of session timeouts (time.Now when nil).
	Now func() time.Time
}

// Server is the one HTTPS listener. Sub-apps are mounted on it before it
// serves; see the package documentation.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	mounted  map[string]bool
	static   *Static
	layout   *Layout
	sessions *Sessions
	gzip     *gzipPool

	once    sync.Once
	handler http.Handler
	https   *http.Server
	plain   *http.Server
	// closing is closed when Shutdown starts: long-lived responses (live
	// updates) end on it, so that the drain does not wait for them.
	closing  chan struct{}
	stopOnce sync.Once
	stop     context.CancelFunc // ends background work (session purge)
	ctx      context.Context
	wg       sync.WaitGroup
}

// New returns a server whose sessions are kept in sessions' store. Mount
// sub-apps, then Serve.
func New(cfg Config, sessions *Sessions, log *slog.Logger) *Server {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 5 * time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Minute
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      log,
		mux:      http.NewServeMux(),
		mounted:  map[string]bool{},
		static:   newStatic(),
		sessions: sessions,
		gzip:     newGzipPool(),
		ctx:      ctx,
		stop:     stop,
		closing:  make(chan struct{}),
	}
	tc := cfg.TLS.Clone()
	if tc == nil {
		tc = &tls.Config{}
	}
	tc.NextProtos = []string{"h2", "http/1.1"}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	s.https = &http.Server{
		// Built on first use, after every Mount.
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) }),
		TLSConfig:         tc,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.plain = &http.Server{
		Handler:           securityHeaders(http.HandlerFunc(s.redirect)),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.layout = newLayout(s.static, sessions)
	s.mux.Handle("GET /static/", s.static)
	s.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.static.URL("favicon.svg"), http.StatusMovedPermanently)
	})
	return s
}

// CSP is the Content-Security-Policy the server's pages get: DefaultCSP,
// with the hash of every registered stylesheet allowed as an inline style
// (CSP3 hash-source), so that a page can carry its stylesheets inline
// for its first paint (Static.Inline) and no other inline style runs.
func (s *Server) CSP() string {
	return strings.Replace(DefaultCSP, "style-src 'self'", "style-src 'self'"+s.static.styleSources(), 1)
}

// Static is the registry of content-hashed assets, served under /static/.
// Sub-apps add theirs with Static().Add before the server serves.
func (s *Server) Static() *Static { return s.static }

// Layout renders pages in the shared base layout.
func (s *Server) Layout() *Layout { return s.layout }

// Sessions returns the session manager (Start, End, EndOthers, Require).
func (s *Server) Sessions() *Sessions { return s.sessions }

// Log returns the server's logger, for sub-apps' handlers.
func (s *Server) Log() *slog.Logger { return s.log }

// Mount serves h for every request whose path starts with prefix, which
// ends in "/" ("/", "/console/", "/api/"), or is exactly prefix when it
// does not ("/login"). A longer prefix wins over a shorter one. h sees
// the whole path (no prefix stripped). Mount before Serve; mounting the
// same prefix twice panics, as http.ServeMux does.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.mounted[prefix] = true
	s.mux.Handle(prefix, h)
}

// Handle registers one http.ServeMux pattern ("POST /logout") on the
// server's mux, for the few routes that are not a sub-app of their own.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's whole handler chain: what Serve serves,
// for in-process tests.
func (s *Server) Handler() http.Handler {
	s.once.Do(func() {
		if !s.mounted["/"] {
			// Nothing at the root yet: the signed-in placeholder (the
			// webmail mounts "/").
			s.mux.Handle("/", s.sessions.Require(PrincipalUser, http.HandlerFunc(s.home)))
		}
		var h http.Handler = s.mux
		h = csrfToken(h)
		h = s.sessions.middleware(h)
		h = crossOrigin(h)
		h = s.gzip.middleware(h)
		h = securityHeadersCSP(s.CSP(), h)
		h = s.recoverer(h)
		h = s.withServer(h)
		s.handler = h
	})
	return s.handler
}

// Serve serves HTTPS (HTTP/2 and HTTP/1.1) on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sessions.purgeLoop(s.ctx, s.log)
	}()
	return s.https.ServeTLS(ln, "", "")
}

// ServeRedirect serves plain HTTP on ln: ACME HTTP-01 challenges when
// Config.ACME is set, and a permanent redirect to https for the rest.
func (s *Server) ServeRedirect(ln net.Listener) error { return s.plain.Serve(ln) }

// Closing is closed when Shutdown starts. A long-lived response (a
// stream of live updates) returns when it is closed, or the drain would
// wait for it until its deadline.
func (s *Server) Closing() <-chan struct{} { return s.closing }

// ErrSessionEnded is the cause (context.Cause) of a Hold's context that
// ended because its session did.
var ErrSessionEnded = errors.New("web: the session of a long-lived response ended")

// Hold returns the context of a long-lived response (a stream of live
// updates): it ends with the request, when Shutdown starts, and when the
// request's session ends: signed out, ended by a password change or an
// administrator, its principal disabled or removed, or expired (idle or
// max). Sessions ended by this process wake it at once; the rest (the
// CLI, another node, the clock) are found by checking the session every
// `every` (the response's heartbeat) with Sessions.Live, which does not
// count as use of the session. A request without a session gets a context
// that has ended. Call the CancelFunc when the response returns.
//
// A long-lived response must run on this context, and should also call
// Sessions().Live before each thing it sends, so that nothing goes out
// between a session's end elsewhere and the next check.
func (s *Server) Hold(r *http.Request, every time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	stop := func() { cancel(context.Canceled) }
	ses := SessionFrom(r.Context())
	if ses == nil {
		cancel(ErrSessionEnded)
		return ctx, stop
	}
	wake, unwatch := s.sessions.watch(ses)
	go func() {
		defer unwatch()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.closing:
				cancel(http.ErrServerClosed)
				return
			case <-tick.C:
			case <-wake:
			}
			if err := s.sessions.Live(ctx, ses); err != nil {
				// A failure to check ends it too: the browser
				// reconnects, and the new request is checked.
				cancel(fmt.Errorf("%w: %w", ErrSessionEnded, err))
				return
			}
		}
	}()
	return ctx, stop
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ACME != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		s.cfg.ACME.ServeHTTP(w, r)
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/\\@ ") {
		http.Error(w, "missing or bad Host header", http.StatusBadRequest)
		return
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if p := s.cfg.HTTPSPort; p != "" && p != "443" {
		host += ":" + p
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes what is left. Long-lived responses (live updates) watch
// their request's context, which ends here.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.closing) })
	s.stop()
	var errs []error
	for _, srv := range []*http.Server{s.https, s.plain} {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
