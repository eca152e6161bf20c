package smtpserver

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/msglog"
)

// Config is what every SMTP listener is configured with alike; capture's
// and submission's Config embed it, and each adds its own.
type Config struct {
	Hostname        string        // announced in the greeting and EHLO; "" means "localhost"
	TLS             *tls.Config   // the certificate for STARTTLS (and, on submission, port 465)
	MaxMessageBytes int64         // SIZE (RFC 1870); 0 means 50 MiB
	ReadTimeout     time.Duration // per command, and per read during DATA; 0 means 5 minutes
	WriteTimeout    time.Duration // 0 means 1 minute
	MaxConns        int           // in total; 0 means 1000
	MaxConnsPerIP   int           // 0 means 100
	// SpoolDir holds bodies larger than 256 KiB while they arrive
	// (unlinked files: nothing stays behind); "" means os.TempDir(). Put
	// it on a disk, not a tmpfs, which would be memory again.
	SpoolDir string
	// MaxInflightBytes bounds the bodies received and not yet stored, over
	// all connections; a message that would pass it is answered 452 4.3.1
	// (try later). 0 means 1 GiB. A spool's holder (Spool.For) may take
	// a share of it (Budget).
	MaxInflightBytes int64
	// Inflight, when set, is the budget instead, shared with the other
	// listeners (the service's one budget of message bytes in flight).
	Inflight *Budget
	// MessageLog takes the listener's records (refusals, failed
	// sign-ins); the service shares one among all listeners. nil: the
	// server writes through its own, drained by its Shutdown.
	MessageLog *msglog.Writer
	// Storage is told whether each message kept or refused found the
	// disk full; the service shares one among all listeners for its
	// health check. nil: one of the listener's own.
	Storage *Storage
}

// SetDefaults fills in what was left zero with the defaults documented on
// each field, and makes the in-flight budget when none is shared.
func (c *Config) SetDefaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 50 << 20
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = time.Minute
	}
	if c.MaxConns == 0 {
		c.MaxConns = 1000
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 100
	}
	if c.SpoolDir == "" {
		c.SpoolDir = os.TempDir()
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = 1 << 30
	}
	if c.Inflight == nil {
		c.Inflight = NewBudget(c.MaxInflightBytes)
	}
	if c.Storage == nil {
		c.Storage = new(Storage)
	}
}

// NewServer returns a go-smtp server for one connection (see Serve) of a
// listener with this configuration: the shared settings, SMTPUTF8 (RFC
// 6531) on, STARTTLS with c.TLS, go-smtp's own errors logged to log, and
// a message of exactly MaxMessageBytes accepted (sizeBackend). The caller
// sets what is its own (MaxRecipients, AUTH).
func (c *Config) NewServer(be smtp.Backend, log *slog.Logger) *smtp.Server {
	srv := smtp.NewServer(sizeBackend{be: be, limit: c.MaxMessageBytes})
	srv.Domain = c.Hostname
	srv.MaxMessageBytes = c.MaxMessageBytes
	srv.ReadTimeout = c.ReadTimeout
	srv.WriteTimeout = c.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.TLSConfig = c.TLS
	srv.ErrorLog = slogPrinter{log}
	return srv
}

// MessageLogFor returns the message log the listener writes to: the
// shared one, or else a writer of its own over st, which the listener
// must drain in its Shutdown (own is true).
func (c *Config) MessageLogFor(st msglog.Appender, log *slog.Logger) (w *msglog.Writer, own bool) {
	if c.MessageLog != nil {
		return c.MessageLog, false
	}
	return msglog.NewWriter(st, log), true
}

// slogPrinter is go-smtp's ErrorLog over slog, at warning level.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.log.Warn(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.log.Warn(fmt.Sprint(v...)) }
