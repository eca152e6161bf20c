package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
)

// shutdownTimeout bounds the drain on SIGTERM: transactions in flight get
// this long to finish before what is left is cut.
const shutdownTimeout = 30 * time.Second

func serveCommands() []command {
	return []command{
		{name: "serve", summary: "run every listener (capture SMTP, IMAP, submission, web, metrics) until SIGTERM or Ctrl-C",
			setup: serveSetup},
	}
}

func serveSetup(fs *flag.FlagSet) action {
	dev := fs.Bool("dev", false, "loopback-only, self-signed, with a demo address: zero set-up")
	listens := map[string]*string{
		"capture":     fs.String("capture-listen", "", "capture SMTP listener `host:port` (\"off\" disables)"),
		"imap":        fs.String("imap-listen", "", "IMAP (implicit TLS) listener `host:port` (\"off\" disables)"),
		"metrics":     fs.String("metrics-listen", "", "Prometheus /metrics `host:port` (\"off\" disables)"),
		"submission":  fs.String("submission-listen", "", "SMTP submission (STARTTLS, port 587) `host:port` (\"off\" disables)"),
		"submissions": fs.String("submissions-listen", "", "SMTP submission over implicit TLS (port 465) `host:port` (\"off\" disables)"),
		"web":         fs.String("web-listen", "", "HTTPS webmail, console and API `host:port` (\"off\" disables)"),
	}
	hostname := fs.String("hostname", "", "public host `name`")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "text or json")
	return func(ctx context.Context, e *env, args []string) error {
		cfg := e.cfg
		if *dev || cfg.Dev {
			var err error
			if cfg, err = loadConfig(e.flags, true); err != nil {
				return err
			}
			cfg.Dev = true
		}
		for name, dst := range map[string]*string{"capture": &cfg.Capture.Listen, "imap": &cfg.IMAP.Listen, "metrics": &cfg.Metrics.Listen,
			"submission": &cfg.Submission.Listen, "submissions": &cfg.Submission.ListenTLS, "web": &cfg.Web.Listen} {
			switch v := *listens[name]; v {
			case "":
			case "off":
				*dst = ""
			default:
				*dst = v
			}
		}
		for dst, v := range map[*string]string{&cfg.Hostname: *hostname, &cfg.Log.Level: *logLevel, &cfg.Log.Format: *logFormat} {
			if v != "" {
				*dst = v
			}
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		return e.serve(ctx, cfg)
	}
}

func (e *env) serve(ctx context.Context, cfg config.Config) error {
	log := newLogger(cfg.Log, e.stderr)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	service.PaceGC(ctx, service.GCHeadroom)
	// New binds every listener before anything else: a second instance
	// on the same ports stops here, saying which port is taken.
	svc, err := service.New(cfg, log)
	if err != nil {
		return err
	}
	var login, adminLogin service.DevLogin
	if cfg.Dev {
		if login, err = service.DevBootstrap(ctx, svc.Store, cfg.Data); err == nil {
			adminLogin, err = service.DevAdminBootstrap(ctx, svc.Admin, cfg.Data)
		}
		if err != nil {
			svc.Shutdown(ctx)
			return fmt.Errorf("dev set-up: %w", err)
		}
	}
	if err := svc.Start(ctx); err != nil {
		svc.Shutdown(ctx)
		return err
	}
	if cfg.Dev {
		printBanner(e.stdout, cfg, svc, login, adminLogin)
	}
	var failed error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining sessions", "timeout", shutdownTimeout)
	case failed = <-svc.Err():
		log.Error("listener failed; shutting down", "err", failed)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	start := time.Now()
	err = svc.Shutdown(sctx)
	switch {
	case err != nil:
		log.Error("shutdown incomplete", "err", err, "elapsed", time.Since(start))
		return fmt.Errorf("shutdown: %w", err)
	case failed != nil:
		return failed
	}
	log.Info("stopped: every session drained", "elapsed", time.Since(start))
	if cfg.Dev {
		fmt.Fprintln(e.stderr, "xtramail stopped")
	}
	return nil
}

// printBanner tells a developer what runs and how to try it. Host names
// are "localhost", never a loopback IP: mbsync, offlineimap and fetchmail
// check the certificate against the name they were given.
func printBanner(w io.Writer, cfg config.Config, svc *service.Service, login, adminLogin service.DevLogin) {
	fmt.Fprintf(w, `
xtramail is running (development mode, loopback only, data in %s).

  Protected address:  %s
  Password:           %s

  Webmail:            %s
  Console:            %s
                      administrator %s, password %s

  Capture a copy:     swaks --server %s --to %s
  Read it over IMAP:  server %s, port %s, SSL/TLS, normal password,
                      user name %s (the certificate is self-signed:
                      accept it once), or try
                      openssl s_client -quiet -connect %s
                      then type: a LOGIN %s <password>
%s  Message log:        go run ./cmd/xtramail log search --data %s --address %s
  Metrics:            %s

Stop with Ctrl-C.
`, cfg.Data, service.DevAddress, login.Describe(), webURL(svc.WebAddr), consoleURL(svc.WebAddr), service.DevAdmin, adminLogin.DescribeAdmin(),
		hostPort(svc.CaptureAddr), service.DevAddress,
		host(svc.IMAPAddr), port(svc.IMAPAddr), service.DevAddress, hostPort(svc.IMAPAddr), service.DevAddress,
		submissionBanner(cfg, svc), cfg.Data, service.DevAddress, metricsURL(svc.MetricsAddr))
}

// host, port and hostPort show a listener address in the banner, with
// "localhost" for a loopback address and "off" for a disabled listener.
func host(a net.Addr) string {
	if a == nil {
		return "off"
	}
	h, _, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return "localhost"
	}
	return h
}

func port(a net.Addr) string {
	if a == nil {
		return "off"
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func hostPort(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return net.JoinHostPort(host(a), port(a))
}

// webURL is the webmail's address (self-signed in dev: the browser asks
// once to accept the certificate).
func webURL(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return "https://" + hostPort(a) + "/"
}

// consoleURL is the administrators' console.
func consoleURL(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return webURL(a) + "console/"
}

func metricsURL(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return "http://" + hostPort(a) + "/metrics"
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // checked by Validate
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// submissionBanner says how to send through the dev server's submission
// listeners, and where what is sent goes, or nothing when they are off.
func submissionBanner(cfg config.Config, svc *service.Service) string {
	var b strings.Builder
	if svc.SubmissionAddr == nil && svc.SubmissionsAddr == nil {
		return ""
	}
	if svc.SubmissionAddr != nil {
		fmt.Fprintf(&b, "  Send (submission):  server %s, port %s, STARTTLS, normal password, or\n", host(svc.SubmissionAddr), port(svc.SubmissionAddr))
		fmt.Fprintf(&b, "                      swaks --server %s --tls --auth-user %s --from %s --to %s\n",
			hostPort(svc.SubmissionAddr), service.DevAddress, service.DevAddress, service.DevAddress)
	}
	if svc.SubmissionsAddr != nil {
		fmt.Fprintf(&b, "  Send (465, TLS):    server %s, port %s, SSL/TLS, normal password\n", host(svc.SubmissionsAddr), port(svc.SubmissionsAddr))
	}
	b.WriteString("  Sent mail goes:     ")
	switch q := cfg.Queue; q.EffectiveMode() {
	case "relay":
		fmt.Fprintf(&b, "through the relay %s\n", net.JoinHostPort(q.RelayHost, strconv.Itoa(q.RelayPort)))
	case "hold":
		b.WriteString("nowhere: [queue] mode is hold, it waits in the queue\n")
	default:
		b.WriteString("straight to each recipient domain's MX ([queue] relay_host for a smarthost)\n")
	}
	return b.String()
}
