// Package capture is the SMTP listener that receives copies of mail from
// the upstream filter or MX and stores one per protected address.
//
// It never relays: a copy is accepted only for an address with continuity
// enabled (to its INBOX) or, when the envelope sender is such an address,
// as a journaled copy of outbound mail (to the sender's Sent folder). A 250
// is answered only once the copy is durable.
package capture

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// Store is what capture needs of the store.
type Store interface {
	Account(ctx context.Context, address string) (store.Account, error)
	Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error)
	AppendLog(ctx context.Context, events ...store.LogEvent) error
}

// Config is the capture listener's part of the configuration.
type Config struct {
	Hostname        string         // announced in the greeting and EHLO
	MaxMessageBytes int64          // SIZE; 0 means 50 MiB
	MaxRecipients   int            // per transaction; 0 means 1000
	ReadTimeout     time.Duration  // per command, and per read during DATA; 0 means 5 minutes
	WriteTimeout    time.Duration  // 0 means 1 minute
	MaxConns        int            // in total; 0 means 1000
	MaxConnsPerIP   int            // 0 means 100
	AllowNets       []netip.Prefix // upstream IPs allowed to connect; empty allows all
	TLS             *tls.Config    // offers STARTTLS when set
}

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 50 << 20
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 1000
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
}

// Server is a capture listener. Start it with Serve, stop it with Shutdown.
type Server struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	metrics  *Metrics
	smtp     *smtp.Server
	drain    *smtpserver.Drain
	now      func() time.Time
	accounts *accountCache
}

// New returns a capture server. metrics may be nil.
func New(cfg Config, st Store, log *slog.Logger, metrics *Metrics) *Server {
	cfg.setDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	s := &Server{cfg: cfg, store: st, log: log, metrics: metrics, now: time.Now, drain: smtpserver.NewDrain()}
	s.accounts = newAccountCache(st, s.now)
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.TLSConfig = cfg.TLS
	srv.ErrorLog = slogPrinter{log}
	s.smtp = srv
	return s
}

// Serve accepts connections on ln until Shutdown, then returns
// smtp.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	err := s.smtp.Serve(s.drain.Listener(newLimitListener(ln, s.cfg, s.metrics)))
	if s.drain.Closing() {
		return smtp.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, answers idle sessions "421 4.3.2" and closes
// them, and waits for transactions in flight to finish (each session then
// gets the same answer), or for ctx to end, when it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drain.Close()
	err := s.smtp.Shutdown(ctx)
	if ctx.Err() != nil {
		s.smtp.Close()
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.drain.Track(c)
	ip := remoteIP(c.Conn().RemoteAddr())
	return &session{srv: s, conn: c, ip: ip, log: s.log.With("remote", ip)}, nil
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	ip   string
	log  *slog.Logger

	from   string
	sender *store.Account // the envelope sender when it is protected
	rcpts  []rcpt
}

type rcpt struct {
	addr    string
	account *store.Account // nil for an outside recipient of a journaled copy
}

func (s *session) Reset() {
	s.from, s.sender, s.rcpts = "", nil, nil
	s.srv.drain.End(s.conn)
}

func (s *session) Logout() error { return nil }

// ctx bounds store calls of one command by the server's timeouts.
func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.srv.cfg.ReadTimeout)
}

func (s *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	s.Reset()
	// A transaction started before shutdown finishes; none starts after.
	if !s.srv.drain.Begin(s.conn) {
		return smtpserver.ErrShuttingDown
	}
	defer func() {
		if err != nil {
			s.srv.drain.End(s.conn)
		}
	}()
	s.from = strings.ToLower(from)
	if from == "" {
		return nil // null reverse-path: a bounce or notification
	}
	addr, err := store.NormalizeAddress(from)
	if err != nil {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Bad sender address syntax"}
	}
	s.from = addr
	ctx, cancel := s.ctx()
	defer cancel()
	a, err := s.srv.accounts.lookup(ctx, addr)
	switch {
	case err == nil && a.Enabled:
		s.sender = &a
	case err == nil, isNotFound(err):
	default:
		s.log.Error("look up sender", "from", addr, "err", err)
		return errTemporary
	}
	return nil
}

var errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		return &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	}
	for _, r := range s.rcpts {
		if r.addr == addr {
			return nil // the same recipient twice gets one copy
		}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	a, err := s.srv.accounts.lookup(ctx, addr)
	var reason string
	switch {
	case err == nil && a.Enabled:
		s.rcpts = append(s.rcpts, rcpt{addr: addr, account: &a})
		return nil
	case err != nil && !isNotFound(err):
		s.log.Error("look up recipient", "rcpt", addr, "err", err)
		return errTemporary
	case s.sender != nil:
		// A journaled copy of outbound mail lists outside recipients:
		// accept them so that the sender's Sent copy is kept.
		s.rcpts = append(s.rcpts, rcpt{addr: addr})
		return nil
	case err == nil:
		reason = "continuity disabled for this address"
	default:
		reason = "address not protected"
	}
	s.srv.metrics.refused.Inc()
	ev := store.LogEvent{Time: s.srv.now(), Status: store.LogRefused, MailFrom: s.from, Rcpt: addr, RemoteIP: s.ip, Detail: "550 5.1.1 " + reason}
	if err == nil {
		ev.DomainID = a.DomainID
	}
	if lerr := s.srv.store.AppendLog(ctx, ev); lerr != nil {
		s.log.Error("log refused recipient", "rcpt", addr, "err", lerr)
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox not protected here (" + reason + ")"}
}

func (s *session) Data(r io.Reader) error {
	start := s.srv.now()
	// go-smtp sets the read deadline once per command: extend it on each
	// read so that a large message on a slow link is not cut off, while a
	// stalled one still is.
	raw, err := io.ReadAll(&deadlineReader{r: r, conn: s.conn.Conn(), timeout: s.srv.cfg.ReadTimeout})
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			if se.Code == smtp.ErrDataTooLarge.Code {
				s.srv.metrics.refused.Inc()
			}
			return err
		}
		// A timeout or a broken connection: go-smtp would answer 421 and
		// keep reading commands (upstream issue 196), so hang up.
		s.log.Info("data aborted", "err", err)
		s.conn.Conn().Close()
		return err
	}
	ingest := s.srv.now()
	raw = NormalizeLineEndings(raw)
	d := store.NewDelivery(raw, start)
	var local []string
	for _, r := range s.rcpts {
		if r.account != nil {
			d.Copies = append(d.Copies, store.Copy{AccountID: r.account.ID, Mailbox: store.Inbox})
			local = append(local, r.addr)
		}
	}
	if s.sender != nil {
		d.Copies = append(d.Copies, store.Copy{AccountID: s.sender.ID, Mailbox: store.Sent, Flags: store.FlagSeen})
	}
	info := d.Info
	base := store.LogEvent{Time: start, MessageID: info.MessageID, Subject: info.Subject, MailFrom: s.from,
		Size: int64(len(raw)), RemoteIP: s.ip}
	captured := base
	captured.Status = store.LogCaptured
	captured.Rcpt = strings.Join(rcptAddrs(s.rcpts), ", ")
	captured.Detail = fmt.Sprintf("for %d recipient(s)", len(s.rcpts))
	if s.sender != nil {
		captured.DomainID = s.sender.DomainID
	}
	d.Events = append(d.Events, captured)
	for _, r := range s.rcpts {
		if r.account != nil {
			if captured.DomainID == 0 {
				d.Events[0].DomainID = r.account.DomainID
				captured.DomainID = r.account.DomainID
			}
			ev := base
			ev.Status, ev.Rcpt, ev.DomainID, ev.Detail = store.LogStored, r.addr, r.account.DomainID, "INBOX"
			d.Events = append(d.Events, ev)
		}
	}
	if s.sender != nil {
		ev := base
		ev.Status, ev.Rcpt, ev.DomainID, ev.Detail = store.LogStored, s.from, s.sender.DomainID, "Sent"
		d.Events = append(d.Events, ev)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if _, err := s.srv.store.Deliver(ctx, d); err != nil {
		s.log.Error("store captured message", "message_id", info.MessageID, "err", err)
		return errTemporary
	}
	elapsed := s.srv.now().Sub(ingest)
	s.srv.metrics.stored.Add(float64(len(d.Copies)))
	s.srv.metrics.bytes.Add(float64(len(raw)))
	s.srv.metrics.latency.Observe(elapsed.Seconds())
	s.log.Debug("captured", "message_id", info.MessageID, "from", s.from, "rcpts", local, "size", len(raw), "elapsed", elapsed)
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func rcptAddrs(rs []rcpt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.addr
	}
	return out
}

// deadlineReader pushes the connection's read deadline forward on each read.
type deadlineReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}

// NormalizeLineEndings turns every bare CR and bare LF into CRLF. SMTP
// (RFC 5321 2.3.8) allows only CRLF; mail that breaks this is common and
// must still be kept, and IMAP clients need CRLF. Since go-smtp ends DATA
// only at CRLF.CRLF, a bare "\n.\n" never splits a message: it is kept as
// content.
func NormalizeLineEndings(b []byte) []byte {
	bare := false
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			bare = true
			break
		}
	}
	if !bare {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/32)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.log.Warn(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.log.Warn(fmt.Sprint(v...)) }
