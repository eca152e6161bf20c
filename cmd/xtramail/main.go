// Command xtramail runs the email continuity service (`xtramail serve`)
// and administers it (`domain`, `user`, `log`) on the same data directory,
// also while the server runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
	"github.com/xtramail/xtramail/internal/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Usage: xtramail COMMAND [ARGS]

Commands:
  serve [--dev] [--config FILE] [--data DIR] ...   run every listener
  domain add NAME [--retention-days N]             protect a domain
  domain list [--json]
  domain remove NAME
  domain retention NAME DAYS                       change a domain's window
  user add ADDRESS [--password-stdin]              protect an address
  user list [--domain NAME] [--json]
  user remove|enable|disable ADDRESS
  user passwd ADDRESS --password-stdin             set the sign-in password
  log search [--address A] [--message-id ID] [--status S]
             [--since 24h] [--until 1h] [--limit N] [--json]

Every command takes --data DIR (default ./data) or --config FILE.
`

// cli carries what every command writes to.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// errUsage makes run print the usage and exit 2.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = c.serve(args[1:])
	case "domain":
		err = c.domain(args[1:])
	case "user":
		err = c.user(args[1:])
	case "log":
		err = c.logCmd(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "xtramail: %v\n\n", err)
		}
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "xtramail: %v\n", err)
		return 1
	}
}

// flags is a flag set whose positional arguments may come before, between
// or after the flags (`domain add NAME --retention-days 7`).
type flags struct {
	*flag.FlagSet
	configFile *string
	data       *string
}

func newFlags(name string, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flags{
		FlagSet:    fs,
		configFile: fs.String("config", "", "TOML configuration file"),
		data:       fs.String("data", "", "data directory (default ./data)"),
	}
}

func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// config loads the configuration file if given and applies --data.
func (f *flags) config() (config.Config, error) {
	cfg := config.Default()
	if *f.configFile != "" {
		if err := config.Load(*f.configFile, &cfg); err != nil {
			return cfg, err
		}
	}
	if *f.data != "" {
		cfg.Data = *f.data
	}
	return cfg, nil
}

// openStore opens the data directory's store for an admin command.
func (c *cli) openStore(f *flags) (store.Store, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	return service.OpenStore(&cfg, slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func (c *cli) serve(args []string) error {
	f := newFlags("serve", c.stderr)
	dev := f.Bool("dev", false, "loopback-only, self-signed, with a demo address: zero set-up")
	captureListen := f.String("capture-listen", "", "capture SMTP listener host:port")
	imapListen := f.String("imap-listen", "", "IMAP (implicit TLS) listener host:port (\"off\" disables)")
	metricsListen := f.String("metrics-listen", "", "Prometheus /metrics host:port (\"off\" disables)")
	hostname := f.String("hostname", "", "public host name")
	logLevel := f.String("log-level", "", "debug, info, warn or error")
	logFormat := f.String("log-format", "", "text or json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: serve takes no arguments", errUsage)
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if *dev || cfg.Dev {
		cfg.ApplyDev()
	}
	for dst, v := range map[*string]string{
		&cfg.Capture.Listen: *captureListen, &cfg.Metrics.Listen: *metricsListen, &cfg.IMAP.Listen: *imapListen,
		&cfg.Hostname: *hostname, &cfg.Log.Level: *logLevel, &cfg.Log.Format: *logFormat,
	} {
		if v != "" {
			*dst = v
		}
	}
	if cfg.Metrics.Listen == "off" {
		cfg.Metrics.Listen = ""
	}
	if cfg.IMAP.Listen == "off" {
		cfg.IMAP.Listen = ""
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log, c.stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	svc, err := service.New(cfg, log)
	if err != nil {
		return err
	}
	if cfg.Dev {
		pw, err := service.DevBootstrap(ctx, svc.Store, cfg.Data)
		if err != nil {
			svc.Shutdown(ctx)
			return fmt.Errorf("dev set-up: %w", err)
		}
		defer fmt.Fprintln(c.stderr, "xtramail stopped")
		if err := svc.Start(ctx); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, `
xtramail is running (development mode, loopback only, data in %s).

  Protected address:  %s
  Password:           %s

  Capture a copy:     swaks --server %s --to %s
  Read it over IMAP:  server %s, port %s, SSL/TLS, normal password,
                      user name %s (the certificate is self-signed:
                      accept it once), or try
                      openssl s_client -quiet -connect %s
                      then type: a LOGIN %s <password>
  Message log:        go run ./cmd/xtramail log search --data %s --address %s
  Metrics:            http://%s/metrics

Stop with Ctrl-C.
`, cfg.Data, service.DevAddress, pw, addrOf(svc.CaptureAddr), service.DevAddress,
			hostOf(svc.IMAPAddr), portOf(svc.IMAPAddr), service.DevAddress, addrOf(svc.IMAPAddr), service.DevAddress,
			cfg.Data, service.DevAddress, addrOf(svc.MetricsAddr))
	} else if err := svc.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-svc.Err():
		log.Error("listener failed; shutting down", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return svc.Shutdown(sctx)
}

// addrOf, hostOf and portOf show a listener address in the banner ("off"
// when the listener is disabled).
func addrOf(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

func hostOf(a net.Addr) string {
	if a == nil {
		return "off"
	}
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func portOf(a net.Addr) string {
	if a == nil {
		return "off"
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
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
