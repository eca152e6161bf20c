// Package imapserver is xtramail's IMAP server (RFC 9051 IMAP4rev2 and RFC
// 3501 IMAP4rev1, with the extensions listed in capabilities): listeners,
// sessions, command handlers and the per-session view of a mailbox. It owns
// the protocol; messages and mailboxes belong to the store, reached through
// the narrow Store interface below, and the wire format to imapwire.
//
// A Server is used like an http.Server: New, then Serve on a listener (the
// Server wraps it in implicit TLS, port 993), and Shutdown to drain.
package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// Store is what the IMAP server needs of the store: mailboxes, messages by
// UID, flags, the one Deliver path, the message log and the change feed.
// store.Store implements it; the contracts are those of store.Store.
type Store interface {
	Account(ctx context.Context, address string) (store.Account, error)
	AccountByID(ctx context.Context, id int64) (store.Account, error)
	Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error)
	Mailbox(ctx context.Context, accountID int64, name string) (store.Mailbox, error)
	MailboxByID(ctx context.Context, accountID, id int64) (store.Mailbox, error)
	CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error)
	RenameMailbox(ctx context.Context, accountID int64, from, to string) error
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	SetSubscription(ctx context.Context, accountID int64, name string, subscribed bool) error
	Subscriptions(ctx context.Context, accountID int64) ([]string, error)
	ClaimRecent(ctx context.Context, accountID, mailboxID int64, upTo uint32) (uint32, error)
	UIDs(ctx context.Context, accountID, mailboxID int64) ([]uint32, error)
	MessagesByUID(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.Message, error)
	FlagsByUID(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.MessageFlags, error)
	FirstUnseen(ctx context.Context, accountID, mailboxID int64) (uint32, error)
	ChangedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]store.MessageFlags, error)
	VanishedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]uint32, error)
	StoreFlags(ctx context.Context, accountID, mailboxID int64, uids []uint32, op store.FlagOp, flags store.Flags, keywords []string, unchangedSince uint64) ([]store.MessageFlags, []uint32, error)
	Copy(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]store.CopiedUID, error)
	Move(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]store.CopiedUID, error)
	ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, uids []uint32) error
	SearchCandidates(ctx context.Context, accountID, mailboxID int64, terms []store.SearchTerm) ([]uint32, error)
	store.Sorting
	store.MessageBodies
	store.SearchFields
	ExpungeDeleted(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]uint32, uint64, error)
	Body(ctx context.Context, accountID, bodyID int64) (store.Body, error)
	OpenBody(ctx context.Context, accountID, bodyID int64) (io.ReadCloser, error)
	Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error)
	store.Deliveries
	AppendLog(ctx context.Context, events ...store.LogEvent) error
	Subscribe(accountID int64, fn func(store.Change)) (cancel func())
	store.Announcements
}

// Authenticator checks a login; *auth.Authenticator implements it. It
// returns auth.ErrInvalidCredentials (wrapped) for a wrong password, an
// unknown or a disabled address, and a *auth.ThrottledError when refused
// without checking.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password, remoteIP string) (auth.Credential, error)
}

// Config configures a Server. Zero fields take the defaults given.
type Config struct {
	// TLS is the certificate source. Serve needs it; ServePlain offers
	// STARTTLS with it.
	TLS *tls.Config
	// Hostname is named in the greeting.
	Hostname string
	// MaxConns bounds connections in total (default 2000), MaxConnsPerIP
	// those from one address (default 50). Over the bound a client gets
	// "* BYE [UNAVAILABLE]" at once, inside TLS on Serve's listener (as
	// the SMTP listeners answer 421: smtpserver.Refuser).
	MaxConns      int
	MaxConnsPerIP int
	// AuthTimeout is the autologout timer once signed in (default 30
	// minutes, RFC 9051 section 5.4), UnauthTimeout before (default 1
	// minute). IDLE is bounded by AuthTimeout too.
	AuthTimeout   time.Duration
	UnauthTimeout time.Duration
	// WriteTimeout bounds each write to a client, of at most a TLS
	// record (16 KiB): a client that stops reading is cut after it
	// (default 5 minutes), however long the response.
	WriteTimeout time.Duration
	// MaxLine bounds a command line (default 64 KiB), MaxLiteral an
	// APPEND message: the APPENDLIMIT (default 50 MiB, RFC 7889).
	MaxLine    int
	MaxLiteral int64
	// Metrics receives the server's Prometheus series (NewMetrics with
	// the service's registry); nil: unregistered.
	Metrics *Metrics
	// MessageLog takes the server's message log records (sign-ins,
	// moves); the service shares one among all listeners and drains it
	// after them. nil: the server writes through its own, drained by
	// Shutdown.
	MessageLog *msglog.Writer
	// QuotaStorage is every account's storage limit in bytes, reported
	// by GETQUOTA and GETQUOTAROOT and enforced on APPEND (RFC 9208);
	// default 10 GiB, negative for none (QUOTA is then not announced).
	// Capture never refuses a copy for it.
	QuotaStorage int64
	// QuotaByDomain overrides QuotaStorage for the accounts of a domain
	// (lower-case name): bytes, negative for none.
	QuotaByDomain map[string]int64
	// MaxLiteralMemory bounds the bytes that literals of all sessions
	// hold in memory at once (default 256 MiB, at least MaxLiteral).
	// Over it a command gets "NO [UNAVAILABLE]", in place of the "+" for
	// a synchronising literal, and the client may try again.
	MaxLiteralMemory int64
	// SearchMemory bounds the message content that searches hold in
	// memory at once; the service shares one with the webmail. nil: the
	// server's own, of 256 MiB.
	SearchMemory *imapmsg.SearchMemory
	// SpoolDir holds APPEND literals of 64 KiB or more while they arrive
	// and are stored (unlinked files: nothing stays behind); "" means
	// os.TempDir(). They are not held in memory, so MaxLiteralMemory does
	// not count them: Inflight does, the budget of message bytes received
	// and not yet stored that the service shares with the SMTP listeners.
	// Over it an APPEND gets NO [UNAVAILABLE] before its "+". nil: the
	// server's own, of 1 GiB.
	SpoolDir string
	Inflight *smtpserver.Budget
	// Storage hears whether the disk is full: a write refused for it
	// sets it, an APPEND stored clears it. The service shares one with
	// the SMTP listeners, for its health check. nil: none.
	Storage *smtpserver.Storage
	// AccountCheckInterval is how often sessions waiting for a command
	// or in IDLE are checked for an account disabled, removed or given a
	// new password since they signed in (default 5 s). A change made
	// through this server's store ends them at once (store.ChangeAccount).
	AccountCheckInterval time.Duration
	// AccountRecheck is how long a session running commands goes on
	// without reading its account again (default 1 s): a change made by
	// another process (the CLI), which the change feed does not carry,
	// ends it at its first command after that.
	AccountRecheck time.Duration
}

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 2000
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = 50
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 30 * time.Minute
	}
	if c.UnauthTimeout <= 0 {
		c.UnauthTimeout = time.Minute
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Minute
	}
	if c.MaxLine <= 0 {
		c.MaxLine = 64 << 10
	}
	if c.MaxLiteral <= 0 {
		c.MaxLiteral = 50 << 20
	}
	if c.QuotaStorage == 0 {
		c.QuotaStorage = 10 << 30
	}
	if c.AccountCheckInterval <= 0 {
		c.AccountCheckInterval = 5 * time.Second
	}
	if c.AccountRecheck <= 0 {
		c.AccountRecheck = time.Second
	}
	if c.MaxLiteralMemory <= 0 {
		c.MaxLiteralMemory = 256 << 20
	}
	c.MaxLiteralMemory = max(c.MaxLiteralMemory, c.MaxLiteral)
	if c.SearchMemory == nil {
		c.SearchMemory = imapmsg.NewSearchMemory(256 << 20)
	}
	if c.Inflight == nil {
		c.Inflight = smtpserver.NewBudget(1 << 30)
	}
}

// heldLiterals is the server-wide bound on literal bytes in memory
// (Config.MaxLiteralMemory) as one session's commands take it: held by
// its account once signed in, so that one account's sessions, each
// holding a MULTIAPPEND's many small literals, wait for their own once
// they hold its share, while everyone else's literals (a LOGIN's
// password included) go on. Before sign-in they are held by no one, and
// bounded by the pre-auth limits.
type heldLiterals struct {
	b      *smtpserver.Budget
	holder string
}

func (h heldLiterals) Reserve(n int64) bool { return h.b.Acquire(h.holder, n) == nil }
func (h heldLiterals) Release(n int64)      { h.b.Release(h.holder, n) }

// newLiteralBudget returns the literals' budget: a share fits the
// largest command a signed-in session may send.
func newLiteralBudget(cfg Config) *smtpserver.Budget {
	b := smtpserver.NewBudget(cfg.MaxLiteralMemory)
	b.FitMessage(maxCommand(cfg))
	return b
}

// Server serves IMAP sessions. It is safe for concurrent use.
type Server struct {
	cfg   Config
	store Store
	auth  Authenticator
	log   *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[string]int
	closing   bool
	wg        sync.WaitGroup
	nextID    atomic.Uint64
	panics    atomic.Int64
	done      chan struct{} // closed by Shutdown

	flags *flagCache
	// sorts keeps the rows SORT and THREAD read, per mailbox.
	sorts *sortCache

	// cmdList is the command table (commands.go), cmds the same by name.
	cmdList []*command
	cmds    map[string]*command

	metrics *Metrics

	literals *smtpserver.Budget
	inflight *smtpserver.Budget // Config.Inflight

	refuser *smtpserver.Refuser // answers connections over the limits

	sweepOnce sync.Once // starts sweepAccounts with the first Serve

	full storageFullLog // writes refused for a full disk (storagefull.go)

	// msglog takes the message log's records (sign-ins, moves), so
	// that an answer does not wait for a durable write of its record;
	// ownLog: made by New (no Config.MessageLog), drained by Shutdown.
	msglog *msglog.Writer
	ownLog bool
}

// closeLog drains the message log writer if the server owns it, once no
// session can add to it.
func (s *Server) closeLog(ctx context.Context) error {
	if !s.ownLog {
		return nil
	}
	return s.msglog.Close(ctx)
}

// New returns a Server on st, checking logins with a.
func New(cfg Config, st Store, a Authenticator, log *slog.Logger) *Server {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A session's spooled literals count against its account's share of
	// the budget (spoolLiteral), in which the largest APPEND must fit.
	cfg.Inflight.FitMessage(cfg.MaxLiteral)
	cmdList := commandTable()
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	ml, own := cfg.MessageLog, false
	if ml == nil {
		ml, own = msglog.NewWriter(st, log), true
	}
	return &Server{
		msglog: ml, ownLog: own,
		cfg: cfg, store: st, auth: a, log: log,
		cmdList: cmdList, cmds: commandsByName(cmdList), metrics: cfg.Metrics,
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*session]struct{}),
		perIP:     make(map[string]int),
		flags:     newFlagCache(),
		sorts:     newSortCache(),
		literals:  newLiteralBudget(cfg),
		inflight:  cfg.Inflight,
		refuser:   smtpserver.NewRefuser(log),
		done:      make(chan struct{}),
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("imapserver: server closed")

// Serve accepts connections on ln, a plain TCP listener, and serves them
// with implicit TLS (port 993, RFC 8314) until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("imapserver: Serve needs Config.TLS")
	}
	return s.serve(ln, true)
}

// ServePlain serves without TLS at first: LOGINDISABLED until the client
// uses STARTTLS (offered when Config.TLS is set). For tests only; never
// expose it.
func (s *Server) ServePlain(ln net.Listener) error { return s.serve(ln, false) }

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.sweepOnce.Do(func() { go s.sweepAccounts() })
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.accept(c, implicitTLS)
	}
}

// accept starts a session on c, or refuses it over the connection limits.
func (s *Server) accept(c net.Conn, implicitTLS bool) {
	ip := remoteIP(c.RemoteAddr())
	s.mu.Lock()
	var refusal string
	switch {
	case s.closing:
		refusal = "shutdown"
	case len(s.sessions) >= s.cfg.MaxConns:
		refusal = "max_conns"
	case s.perIP[ip] >= s.cfg.MaxConnsPerIP:
		refusal = "max_conns_per_ip"
	}
	total, fromIP := len(s.sessions), s.perIP[ip]
	if refusal != "" {
		s.mu.Unlock()
		s.refuse(c, implicitTLS, refusal, total, fromIP)
		return
	}
	sess := newSession(s, c, ip, implicitTLS)
	s.sessions[sess] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, sess)
			if s.perIP[ip]--; s.perIP[ip] <= 0 {
				delete(s.perIP, ip)
			}
			s.mu.Unlock()
		}()
		sess.run()
	}()
}

// refuse answers a connection turned away for reason (the limit, or
// "shutdown") with "* BYE [UNAVAILABLE]" and closes it; on implicit TLS
// the BYE comes inside TLS, where the client reads it (it used to be
// closed without a word, which the client saw as a TLS EOF).
func (s *Server) refuse(c net.Conn, implicitTLS bool, reason string, total, fromIP int) {
	s.metrics.refused.WithLabelValues(reason).Inc()
	text := "too many connections, try later"
	if reason == "shutdown" {
		text = "server shutting down, try later"
	}
	var tlsConfig *tls.Config
	if implicitTLS {
		tlsConfig = s.cfg.TLS
	}
	s.refuser.Refuse(c, tlsConfig, "* BYE [UNAVAILABLE] "+text, reason, "conns", total, "conns_from_ip", fromIP)
}

// Shutdown stops accepting, tells every session "* BYE" at its next
// command boundary (at once for sessions waiting for a command or in
// IDLE), and waits for them until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	s.listeners = map[net.Listener]struct{}{}
	for sess := range s.sessions {
		sess.interrupt()
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		// Every session has ended: none can queue an event now.
		return s.closeLog(ctx)
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.raw.Close()
		}
		s.mu.Unlock()
		<-finished
		// Still written, as long as the store takes them quickly.
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeLog(dctx)
		return ctx.Err()
	}
}

// shuttingDown reports whether Shutdown was called.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Panics returns how many session panics were recovered; tests fail when
// it is not zero.
func (s *Server) Panics() int64 { return s.panics.Load() }

// forgetMailbox drops what the server keeps in memory about a mailbox
// that was deleted or renamed (DESIGN.md: in-memory state keyed by an id
// dies with its object).
func (s *Server) forgetMailbox(key mailboxKey) {
	s.flags.forget(key)
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

func (s *Server) String() string { return fmt.Sprintf("imapserver(%s)", s.cfg.Hostname) }
