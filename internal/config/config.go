// Package config holds xtramail's settings: one TOML file, each field
// documented here, unknown keys rejected, every value defaulted.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/xtramail/xtramail/internal/hostport"
)

// Config is the whole configuration of `xtramail serve`.
type Config struct {
	// Data is the directory that holds all state: the database, message
	// bodies, the self-signed certificate and the ACME cache.
	Data string `toml:"data"`
	// Hostname is this server's public name, used in SMTP greetings and
	// for the TLS certificate.
	Hostname string `toml:"hostname"`
	// Dev runs loopback-only with a demo domain and address: zero set-up.
	Dev bool `toml:"dev"`

	Log       Log       `toml:"log"`
	TLS       TLS       `toml:"tls"`
	Capture   Capture   `toml:"capture"`
	IMAP      IMAP      `toml:"imap"`
	Retention Retention `toml:"retention"`
	Metrics   Metrics   `toml:"metrics"`
	Queue     Queue     `toml:"queue"`
	// Submission is where users' mail clients send mail (587, 465).
	Submission Submission `toml:"submission"`
	// Web is the HTTPS listener of the webmail, console and REST API.
	Web Web `toml:"web"`
	// Webmail configures the webmail's compose side.
	Webmail Webmail `toml:"webmail"`
}

// Webmail configures writing mail in the webmail.
type Webmail struct {
	// UndoSend is how long a message sent from the webmail is held
	// before it is submitted, during which "Undo" takes it back whole
	// (nothing stored in Sent, queued or delivered yet). 0 sends at once;
	// at most 2 minutes.
	UndoSend Duration `toml:"undo_send"`
	// UndoDelete is how long a delete in the webmail can be undone in
	// place: the message stays in its folder, marked \Deleted (IMAP
	// clients see it so, under the same UID), until it is expunged into
	// Deleted. 0 expunges at once; at most 2 minutes.
	UndoDelete Duration `toml:"undo_delete"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level"`
	// Format is text or json.
	Format string `toml:"format"`
}

// TLS says where certificates come from. With neither files nor ACME
// hosts, a self-signed certificate is made in the data directory.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ACMEHosts get certificates from Let's Encrypt (HTTP-01 on port 80).
	ACMEHosts []string `toml:"acme_hosts"`
	ACMEEmail string   `toml:"acme_email"`
	// ACMEListen serves the HTTP-01 challenges (port 80 for Let's Encrypt).
	ACMEListen string `toml:"acme_listen"`
}

// Capture configures the SMTP listener that receives copies from the
// upstream filter or MX.
type Capture struct {
	// Listen is host:port; empty disables the listener.
	Listen string `toml:"listen"`
	SMTP
	// Allow lists the upstream IPs or CIDRs that may connect (your mail
	// filter's or MX's outbound addresses). Outside dev mode it must not
	// be empty while the listener is on: anyone who can reach the port
	// could plant copies in protected mailboxes. To accept any sender
	// anyway (a firewall guards the port), write
	// allow = ["0.0.0.0/0", "::/0"].
	Allow []string `toml:"allow"`
	// MaxInflightBytes bounds the message bodies received and not yet
	// stored, over all connections of capture, submission and IMAP
	// APPEND together (bodies over 256 KiB wait in <data>/spool, not in
	// memory). A message that would pass it is answered 452 4.3.1 (IMAP:
	// NO [UNAVAILABLE] before the literal is sent) and the client retries
	// later. One signed-in account (submission, APPEND) may hold at most
	// an eighth of it, or its largest message if that is more, over all
	// its connections, and all accounts together three quarters;
	// capture's upstreams only the whole.
	MaxInflightBytes int64 `toml:"max_inflight_bytes"`
}

// SMTP holds the settings that the SMTP listeners (capture, submission)
// have alike; each section's keys include these.
type SMTP struct {
	// MaxMessageBytes is the largest message accepted (SIZE, RFC 1870).
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// MaxRecipients bounds the recipients of one message; more are
	// answered 452 4.5.3.
	MaxRecipients int `toml:"max_recipients"`
	// MaxConns bounds open connections in total, and MaxConnsPerIP those
	// from one client address (IPv6 by /64).
	MaxConns      int `toml:"max_conns"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// ReadTimeout is per command and per read of a message body, and
	// bounds a session's time outside a mail transaction (NOOP and RSET
	// do not extend it); WriteTimeout per reply.
	ReadTimeout  Duration `toml:"read_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
}

// smtpDefaults are the SMTP listeners' defaults, but for the recipient
// bound, which differs.
func smtpDefaults(maxRecipients int) SMTP {
	return SMTP{
		MaxMessageBytes: 50 << 20,
		MaxRecipients:   maxRecipients,
		MaxConns:        1000,
		MaxConnsPerIP:   100,
		ReadTimeout:     Duration{5 * time.Minute},
		WriteTimeout:    Duration{time.Minute},
	}
}

// IMAP configures the IMAP server that users' mail clients sign in to.
type IMAP struct {
	// Listen is host:port for IMAP over implicit TLS (port 993, RFC
	// 8314); empty disables the listener.
	Listen string `toml:"listen"`
	// MaxConns bounds open IMAP connections in total, and MaxConnsPerIP
	// those from one client address (phones and desktop clients open a
	// few each, NAT puts many users behind one address).
	MaxConns      int `toml:"max_conns"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// QuotaBytes is every account's storage limit (IMAP QUOTA, RFC
	// 9208): APPEND and COPY past it get NO [OVERQUOTA]; capture never
	// refuses a copy for it. 0 takes the default, 10 GiB; negative means
	// none. QuotaDomains overrides it per domain (lower-case name =
	// bytes, negative for none).
	QuotaBytes   int64            `toml:"quota_bytes"`
	QuotaDomains map[string]int64 `toml:"quota_domains"`
	// MaxMailboxes bounds the folders of each account, the four it
	// starts with included (default 1000). Past it IMAP CREATE (and
	// RENAME of INBOX, which makes a folder) gets NO [LIMIT], and the
	// webmail cannot make its Archive folder; the store enforces it, so
	// clients creating at once cannot pass it together.
	MaxMailboxes int `toml:"max_mailboxes"`
}

// Submission configures SMTP submission (RFC 6409): users' mail clients
// sign in with their IMAP address and password and send mail, which is
// kept in their Sent folder and queued for delivery (queue.mode).
type Submission struct {
	// Listen is host:port for submission with STARTTLS (port 587); AUTH
	// is offered only after STARTTLS. Empty disables it. The default,
	// "auto", is ":587" when real certificates are configured
	// (tls.cert_file or tls.acme_hosts) and off with only the self-signed
	// fallback, which mail clients would refuse.
	Listen string `toml:"listen"`
	// ListenTLS is host:port for submission over implicit TLS (port 465,
	// RFC 8314). Empty disables it; "auto" (the default) is ":465" on the
	// same terms as Listen.
	ListenTLS string `toml:"listen_tls"`
	SMTP
	// MaxPerHour bounds the messages one user sends per hour (0: no
	// limit); more are answered 450 4.7.1 until the hour has passed.
	MaxPerHour int `toml:"max_per_hour"`
	// FromAliases lets a signed-in address send as other addresses
	// (envelope sender and From), e.g. {"alice@example.org" =
	// ["sales@example.org"]}; any other sender is answered 550 5.7.1.
	FromAliases map[string][]string `toml:"from_aliases"`
}

// Retention configures the rolling-window purge. The window itself is per
// domain (`xtramail domain add --retention-days`).
type Retention struct {
	// Interval between purge passes.
	Interval Duration `toml:"interval"`
	// Batch is how many messages one transaction purges, so that readers
	// and ingest are never blocked for long.
	Batch int `toml:"batch"`
	// LogDays is how long message log records are kept.
	LogDays int `toml:"log_days"`
}

// Queue configures outbound delivery: how submitted mail leaves.
type Queue struct {
	// Mode is "relay" (everything through RelayHost, the usual set-up
	// behind a mail filter), "mx" (straight to each recipient domain's
	// MX hosts, with MTA-STS), "hold" (nothing is sent out: mail waits
	// in the queue, for a set-up not finished yet, and tests) or empty:
	// relay when RelayHost is set, else mx (EffectiveMode). Off by
	// default, submitted mail was accepted and never left, with nothing
	// to tell the sender or the administrator (found by a probe).
	Mode string `toml:"mode"`
	// RelayHost and RelayPort name the smarthost in relay mode.
	RelayHost string `toml:"relay_host"`
	RelayPort int    `toml:"relay_port"`
	// RelayTLS is "starttls" (required, certificate verified),
	// "implicit" (TLS from the first byte, RFC 8314) or "none".
	RelayTLS string `toml:"relay_tls"`
	// RelayUsername and RelayPassword, when set, sign in with AUTH PLAIN.
	RelayUsername string `toml:"relay_username"`
	RelayPassword string `toml:"relay_password"`
	// MTASTS looks up and enforces recipient domains' MTA-STS policies
	// (RFC 8461) in mx mode. Policies are cached in the store until their
	// max_age, so a restart or another node keeps enforcing them.
	MTASTS bool `toml:"mta_sts"`
	// Lifetime is how long a message is retried before it bounces.
	Lifetime Duration `toml:"lifetime"`
	// DelayNotice is when the sender is told, once, that a message is
	// still waiting.
	DelayNotice Duration `toml:"delay_notice"`
	// MinBackoff is about the first retry's wait; each next one doubles
	// (with jitter) up to MaxBackoff.
	MinBackoff Duration `toml:"min_backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	// Concurrency is how many recipient domains are delivered at once.
	Concurrency int `toml:"concurrency"`
	// RouteNetworks are the networks (CIDR prefixes) that a domain's own
	// relay host, set by its tenant's administrators for redelivery to
	// the primary mailbox, and in MX mode (no relay) the recipients' MX
	// hosts, may be reached at besides public addresses. Loopback,
	// private and other special addresses are refused otherwise, so that
	// neither a tenant nor a sender writing to a domain whose DNS they
	// control can have the service connect inside the operator's network.
	// Dev mode adds loopback.
	RouteNetworks []string `toml:"route_networks"`
}

// Web configures the one HTTPS listener that serves the webmail (at /),
// the console (/console/) and the REST API (/api/).
type Web struct {
	// Listen is host:port for HTTPS (HTTP/2 and HTTP/1.1, certificates
	// as [tls] says); empty disables the web layer.
	Listen string `toml:"listen"`
	// RedirectListen is host:port for plain HTTP (":80") that redirects
	// every request to https, and answers ACME HTTP-01 challenges when
	// certificates come from ACME (then tls.acme_listen is not used).
	// Empty: no plain HTTP listener.
	RedirectListen string `toml:"redirect_listen"`
	// SessionIdle signs a web session out after this long without a
	// request; SessionMax after this long whatever its use.
	SessionIdle Duration `toml:"session_idle"`
	SessionMax  Duration `toml:"session_max"`
	// SystemSender is the From address of mail the service sends on its
	// own, such as a one-time sign-in link to a user's alternate address
	// (through the outbound queue). Empty: the console and the API refuse
	// to send such mail and say so.
	SystemSender string `toml:"system_sender"`
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// each connection (http.Server's fields of the same names). Long
	// responses (live updates) lift WriteTimeout for themselves.
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is host:port for /metrics; empty disables it.
	Listen string `toml:"listen"`
}

// Duration is a time.Duration written as "90s" or "5m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the production defaults.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		Data:     "./data",
		Hostname: host,
		Log:      Log{Level: "info", Format: "text"},
		Capture: Capture{
			Listen:           ":25",
			SMTP:             smtpDefaults(1000),
			MaxInflightBytes: 1 << 30,
		},
		IMAP:      IMAP{Listen: ":993", MaxConns: 10000, MaxConnsPerIP: 500, MaxMailboxes: 1000},
		TLS:       TLS{ACMEListen: ":80"},
		Retention: Retention{Interval: Duration{10 * time.Minute}, Batch: 500, LogDays: 90},
		Metrics:   Metrics{Listen: "127.0.0.1:9100"},
		Webmail:   Webmail{UndoSend: Duration{10 * time.Second}, UndoDelete: Duration{10 * time.Second}},
		// Submission listens on :587 and :465 once real certificates are
		// configured (SubmissionListen resolves "auto").
		Submission: Submission{
			Listen:     "auto",
			ListenTLS:  "auto",
			SMTP:       smtpDefaults(100),
			MaxPerHour: 500,
		},
		Web: Web{
			Listen:            ":443",
			SessionIdle:       Duration{8 * time.Hour},
			SessionMax:        Duration{7 * 24 * time.Hour},
			ReadHeaderTimeout: Duration{10 * time.Second},
			ReadTimeout:       Duration{5 * time.Minute},
			WriteTimeout:      Duration{5 * time.Minute},
			IdleTimeout:       Duration{2 * time.Minute},
		},
		Queue: Queue{
			RelayPort:   587,
			RelayTLS:    "starttls",
			MTASTS:      true,
			Lifetime:    Duration{5 * 24 * time.Hour},
			DelayNotice: Duration{4 * time.Hour},
			MinBackoff:  Duration{5 * time.Minute},
			MaxBackoff:  Duration{4 * time.Hour},
			Concurrency: 16, // queue.DefaultConcurrency, which says why
		},
	}
}

// SubmissionListen returns the submission listeners' addresses with
// "auto" resolved: ":587" and ":465" when certificates come from files or
// ACME, off ("") when only the self-signed fallback would serve them.
func (c *Config) SubmissionListen() (starttls, implicit string) {
	realCerts := c.TLS.CertFile != "" || len(c.TLS.ACMEHosts) > 0
	resolve := func(v, port string) string {
		if v != "auto" {
			return v
		}
		if realCerts {
			return port
		}
		return ""
	}
	return resolve(c.Submission.Listen, ":587"), resolve(c.Submission.ListenTLS, ":465")
}

// RoutePrefixes parses RouteNetworks; a bare address is a network of one.
func (q Queue) RoutePrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range q.RouteNetworks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return nil, fmt.Errorf("queue.route_networks %q: want a CIDR prefix or an address", n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ApplyDev switches to the loopback-only development listeners.
func (c *Config) ApplyDev() {
	c.Dev = true
	c.Hostname = "localhost"
	c.Capture.Listen = "127.0.0.1:2525"
	c.IMAP.Listen = "127.0.0.1:9993"
	c.Metrics.Listen = "127.0.0.1:9100"
	c.Submission.Listen = "127.0.0.1:5587"
	c.Submission.ListenTLS = "127.0.0.1:5465"
	c.Web.Listen = "127.0.0.1:8443"
	c.Web.RedirectListen = ""
	// Everything runs on this machine, a test relay included.
	c.Queue.RouteNetworks = append(c.Queue.RouteNetworks, "127.0.0.0/8", "::1/128")
}

// Load reads a TOML file over the defaults. Unknown keys are an error, so
// that a typo never silently leaves a default in place.
func Load(path string, c *Config) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	return nil
}

// ErrCaptureOpen refuses a capture listener open to the whole internet by
// default: the copies it takes land in protected INBOX and Sent folders.
var ErrCaptureOpen = errors.New(`capture.allow is empty: list the addresses of the upstream filter or MX that sends the copies ` +
	`(allow = ["192.0.2.0/24"]; the README says where each provider publishes them), or accept anyone explicitly ` +
	`with allow = ["0.0.0.0/0", "::/0"] (dev mode needs neither)`)

// Validate checks values that cannot be checked by type.
func (c *Config) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("data: must not be empty"))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	if _, err := c.Capture.AllowNets(); err != nil {
		errs = append(errs, err)
	}
	if !c.Dev && c.Capture.Listen != "" && len(c.Capture.Allow) == 0 {
		errs = append(errs, ErrCaptureOpen)
	}
	if c.Capture.MaxMessageBytes < 1024 {
		errs = append(errs, fmt.Errorf("capture.max_message_bytes %d: too small", c.Capture.MaxMessageBytes))
	}
	if c.Capture.MaxInflightBytes < c.Capture.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("capture.max_inflight_bytes %d: smaller than max_message_bytes, the largest message would never fit",
			c.Capture.MaxInflightBytes))
	}
	if c.IMAP.MaxConns < 1 || c.IMAP.MaxConnsPerIP < 1 {
		errs = append(errs, errors.New("imap: max_conns and max_conns_per_ip must be positive"))
	}
	if c.IMAP.MaxMailboxes < 1 {
		errs = append(errs, fmt.Errorf("imap.max_mailboxes %d: must be positive", c.IMAP.MaxMailboxes))
	}
	for name := range c.IMAP.QuotaDomains {
		if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " @/") {
			errs = append(errs, fmt.Errorf("imap.quota_domains: %q is not a lower-case domain name", name))
		}
	}
	if c.Retention.Batch < 1 || c.Retention.LogDays < 1 || c.Retention.Interval.Duration <= 0 {
		errs = append(errs, errors.New("retention: interval, batch and log_days must be positive"))
	}
	if c.Webmail.UndoSend.Duration < 0 || c.Webmail.UndoSend.Duration > 2*time.Minute {
		return fmt.Errorf("webmail.undo_send must be between 0s and 2m, not %s", c.Webmail.UndoSend.Duration)
	}
	if c.Webmail.UndoDelete.Duration < 0 || c.Webmail.UndoDelete.Duration > 2*time.Minute {
		return fmt.Errorf("webmail.undo_delete must be between 0s and 2m, not %s", c.Webmail.UndoDelete.Duration)
	}
	if c.Submission.MaxMessageBytes < 1024 || c.Submission.MaxRecipients < 1 || c.Submission.MaxPerHour < 0 {
		errs = append(errs, errors.New("submission: max_message_bytes must be at least 1024, max_recipients positive, max_per_hour not negative"))
	}
	for from, aliases := range c.Submission.FromAliases {
		for _, a := range append([]string{from}, aliases...) {
			if at := strings.LastIndexByte(a, '@'); at <= 0 || at == len(a)-1 {
				errs = append(errs, fmt.Errorf("submission.from_aliases: %q is not an address", a))
			}
		}
	}
	errs = append(errs, c.Queue.validate(), c.Web.validate())
	return errors.Join(errs...)
}

// checkRelayHost checks relay_host is a host alone, read as a domain's
// relay host is (hostport): its port is relay_port's, and a port written
// into it was passed on as part of the host name, which every delivery
// then failed to look up.
func checkRelayHost(h string) error {
	if _, err := hostport.Host(h); err != nil {
		if _, port, perr := hostport.Parse(h); perr == nil && port != 0 {
			return fmt.Errorf("queue.relay_host %q: a host alone; the port goes in relay_port", h)
		} else if perr == nil {
			return fmt.Errorf("queue.relay_host %q: an IPv6 address goes without brackets here", h)
		}
		return fmt.Errorf("queue.relay_host: %v", err)
	}
	return nil
}

// EffectiveMode is how mail leaves: Mode, or when it is empty "relay"
// if a relay host is set, else "mx" (issue 13: "through the configured
// relay or, with none configured, directly to each recipient domain's
// MX").
func (q Queue) EffectiveMode() string {
	switch {
	case q.Mode != "":
		return q.Mode
	case q.RelayHost != "":
		return "relay"
	}
	return "mx"
}

func (q Queue) validate() error {
	var errs []error
	switch q.EffectiveMode() {
	case "mx", "hold":
	case "relay":
		if q.RelayHost == "" || q.RelayPort < 1 || q.RelayPort > 65535 {
			errs = append(errs, errors.New("queue: relay mode needs relay_host and relay_port"))
		}
	default:
		errs = append(errs, fmt.Errorf("queue.mode %q: want relay, mx, hold or empty", q.Mode))
	}
	if q.RelayHost != "" {
		if err := checkRelayHost(q.RelayHost); err != nil {
			errs = append(errs, err)
		}
	}
	switch q.RelayTLS {
	case "starttls", "implicit", "none":
	default:
		errs = append(errs, fmt.Errorf("queue.relay_tls %q: want starttls, implicit or none", q.RelayTLS))
	}
	if _, err := q.RoutePrefixes(); err != nil {
		errs = append(errs, err)
	}
	if (q.RelayUsername == "") != (q.RelayPassword == "") {
		errs = append(errs, errors.New("queue: relay_username and relay_password go together"))
	}
	if q.Lifetime.Duration <= 0 || q.DelayNotice.Duration <= 0 || q.MinBackoff.Duration <= 0 ||
		q.MaxBackoff.Duration < q.MinBackoff.Duration || q.Concurrency < 1 {
		errs = append(errs, errors.New("queue: lifetime, delay_notice, min_backoff and concurrency must be positive, max_backoff at least min_backoff"))
	}
	return errors.Join(errs...)
}

func (w Web) validate() error {
	var errs []error
	if w.SessionIdle.Duration <= 0 || w.SessionMax.Duration < w.SessionIdle.Duration {
		errs = append(errs, errors.New("web: session_idle must be positive and session_max at least session_idle"))
	}
	if w.ReadHeaderTimeout.Duration <= 0 || w.ReadTimeout.Duration <= 0 || w.WriteTimeout.Duration <= 0 || w.IdleTimeout.Duration <= 0 {
		errs = append(errs, errors.New("web: read_header_timeout, read_timeout, write_timeout and idle_timeout must be positive"))
	}
	if w.SystemSender != "" && !strings.Contains(w.SystemSender, "@") {
		errs = append(errs, fmt.Errorf("web: system_sender %q is not an email address", w.SystemSender))
	}
	if w.RedirectListen != "" && w.Listen == "" {
		errs = append(errs, errors.New("web: redirect_listen needs listen (it redirects to it)"))
	}
	return errors.Join(errs...)
}

// AllowNets parses Allow; a bare IP means that one address.
func (c Capture) AllowNets() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.Allow {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("capture.allow %q: not an IP or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// DBPath is the SQLite database in the data directory.
func (c *Config) DBPath() string { return filepath.Join(c.Data, "xtramail.db") }

// BlobDir is where message bodies are kept.
func (c *Config) BlobDir() string { return filepath.Join(c.Data, "blobs") }
