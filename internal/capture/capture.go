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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// Store is what capture needs of the store.
type Store interface {
	Account(ctx context.Context, address string) (store.Account, error)
	Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error)
	AppendLog(ctx context.Context, events ...store.LogEvent) error
	// For domain settings (domains.go): whole-domain continuity creates
	// accounts, audited; AllowedIPs restrict upstreams per domain.
	Domain(ctx context.Context, name string) (store.Domain, error)
	CreateAccount(ctx context.Context, address, passwordHash string) (store.Account, error)
	Customer(ctx context.Context, sc store.Scope, id int64) (store.Customer, error)
	AppendAudit(ctx context.Context, recs ...store.AuditRecord) error
}

// Config is the capture listener's part of the configuration: what every
// SMTP listener has (smtpserver.Config; its MessageLog takes the refusal
// records) and capture's own.
type Config struct {
	smtpserver.Config
	MaxRecipients int            // per transaction; 0 means 1000
	AllowNets     []netip.Prefix // upstream IPs allowed to connect; empty allows all
}

func (c *Config) setDefaults() {
	c.Config.SetDefaults()
	if c.MaxRecipients == 0 {
		c.MaxRecipients = 1000
	}
}

// Server is a capture listener. Start it with Serve, stop it with Shutdown.
type Server struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	metrics  *Metrics
	drain    *smtpserver.Drain
	now      func() time.Time
	accounts *accountCache
	domains  *domainCache
	budget   *smtpserver.Budget
	msglog   *msglog.Writer
	ownLog   bool // msglog made by New, drained by Shutdown
}

// New returns a capture server. metrics may be nil.
func New(cfg Config, st Store, log *slog.Logger, metrics *Metrics) *Server {
	cfg.setDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	s := &Server{cfg: cfg, store: st, log: log, metrics: metrics, now: time.Now, budget: cfg.Inflight,
		drain: smtpserver.NewDrain()}
	// The read timeout bounds a session's time without a transaction
	// too, not only each command (slowloris).
	s.drain.MaxIdle = cfg.ReadTimeout
	s.accounts = newAccountCache(st, s.now)
	s.msglog, s.ownLog = cfg.MessageLogFor(st, log)
	s.domains = newDomainCache(st, s.now)
	return s
}

// newSMTP returns the go-smtp server of one connection (smtpserver.Serve).
func (s *Server) newSMTP() *smtp.Server {
	srv := s.cfg.NewServer(s, s.log)
	srv.MaxRecipients = s.cfg.MaxRecipients
	return srv
}

// Serve accepts connections on ln until Shutdown, then returns
// smtp.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	// Lines inside a message have no limit but the message size; command
	// lines are bounded by the guard (issue 12 part 1).
	lines := smtpserver.GuardLines(smtpserver.LimitListener(ln, s.limits(), s.log))
	err := smtpserver.Serve(s.drain.Listener(lines), s.newSMTP)
	if s.drain.Closing() {
		return smtp.ErrServerClosed
	}
	return err
}

// limits are the shared SMTP connection limits with capture's allow-list
// and its per-connection state: each admitted connection becomes a conn
// (cid, counts, the open/close log lines and the connection gauge).
func (s *Server) limits() smtpserver.Limits {
	return smtpserver.Limits{
		MaxConns:      s.cfg.MaxConns,
		MaxConnsPerIP: s.cfg.MaxConnsPerIP,
		Allow:         s.cfg.AllowNets,
		Deny:          "554 5.7.1 Your address may not send copies here",
		Opened: func(c net.Conn, total, fromIP int) net.Conn {
			s.metrics.conns.Inc()
			cc := newConn(c, s.log, s.metrics.conns.Dec)
			cc.log.Info("connection opened", "conns", total, "conns_from_ip", fromIP)
			return cc
		},
		Refused: func(net.Addr, string) { s.metrics.connsRefused.Inc() },
	}
}

// Shutdown stops accepting, answers idle sessions "421 4.3.2" and closes
// them, and waits for transactions in flight to finish (each session then
// gets the same answer), or for ctx to end, when it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drain.Close()
	err := s.drain.Wait(ctx)
	if s.ownLog {
		// Every session has ended: none adds a record now.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = errors.Join(err, s.msglog.Close(lctx))
	}
	return err
}

// FlushLog waits until the message log records of refusals made so far
// are written (for tests, which read them back).
func (s *Server) FlushLog(ctx context.Context) error { return s.msglog.Flush(ctx) }

// StorageFull reports whether the last attempt to store a message found
// the disk full (for the health endpoint); a later success clears it.
func (s *Server) StorageFull() bool { return s.metrics.full() }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.drain.Track(c)
	ip := smtpserver.RemoteIP(c.Conn().RemoteAddr())
	sess := &session{srv: s, conn: c, ip: ip, cc: captureConn(c.Conn())}
	if sess.cc != nil {
		sess.log = sess.cc.log
	} else {
		sess.log = s.log.With("remote", ip)
	}
	return sess, nil
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	cc   *conn // nil only if the listener was not ours
	ip   string
	log  *slog.Logger // with the connection's cid

	env envelope
}

// envelope is one transaction's MAIL and RCPT. Data works on a copy taken
// when it starts: with BDAT it runs in its own goroutine, and go-smtp
// resets the session when it aborts a transfer.
type envelope struct {
	from   string
	sender *store.Account // the envelope sender when it is protected
	rcpts  []rcpt
}

type rcpt struct {
	addr    string         // as written (normalised)
	account *store.Account // nil for an outside recipient of a journaled copy
}

// stored is the record of a copy kept for the account of addr (as
// written): one of a sub-address (RFC 5233) names the account's own
// address too, so that a log search by it finds the copy.
func stored(base store.LogEvent, addr string, acct *store.Account, mailbox string) store.LogEvent {
	ev := msglog.With(base, msglog.Stored, addr, acct.DomainID, mailbox)
	if addr != acct.Address {
		ev.Account = acct.Address
	}
	return ev
}

func (s *session) Reset() {
	s.env = envelope{}
	s.srv.drain.End(s.conn)
}

func (s *session) Logout() error { return nil }

// ctx bounds store calls of one command by the server's timeouts.
func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.srv.cfg.ReadTimeout)
}

// Answers. go-smtp writes an *smtp.SMTPError returned by Data as the
// reply whatever its code, so that success can say what was done.
var (
	replyStored    = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "stored"}
	replyJournaled = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "stored; copy kept for the protected sender"}
	// replyDuplicate: every copy was already stored; accepted all the same,
	// so that the upstream stops retrying (issue 13 part 5).
	replyDuplicate = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "already stored (duplicate)"}
)

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
	s.env.from = strings.ToLower(from)
	if opts != nil && opts.Size > 0 && !s.srv.budget.Fits(opts.Size) {
		// RFC 1870 6.1: 452 when the size is too big for now.
		s.refuse(context.Background(), s.env, "", smtpserver.ErrStorageFull, "in-flight message bytes over the budget")
		return smtpserver.ErrStorageFull
	}
	if from == "" {
		s.log.Debug("MAIL FROM:<>")
		return nil // null reverse-path: a bounce or notification
	}
	addr, err := store.NormalizeAddress(from)
	if err != nil {
		s.log.Debug("MAIL FROM refused", "from", from, "reason", "bad address syntax")
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Bad sender address syntax"}
	}
	s.env.from = addr
	ctx, cancel := s.ctx()
	defer cancel()
	a, allowed, err := s.srv.sender(ctx, addr, s.ip)
	switch {
	case err == nil && a.Enabled && allowed:
		s.env.sender = &a
	case err == nil, isNotFound(err):
	default:
		s.log.Error("look up sender", "from", addr, "err", err)
		return smtpserver.ErrTemporary
	}
	s.log.Debug("MAIL FROM", "from", addr, "protected", s.env.sender != nil)
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if strings.EqualFold(to, "postmaster") {
		// RFC 5321 4.1.1.3 makes <Postmaster> good syntax, but capture
		// keeps copies for protected addresses only, and it names none.
		ctx, cancel := s.ctx()
		defer cancel()
		reason := "postmaster without a domain"
		reply := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox not protected here (" + reason + ")"}
		s.refuseRcpt(ctx, to, 0, reply, reason)
		return reply
	}
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		s.log.Debug("RCPT TO refused", "rcpt", to, "reason", "bad address syntax")
		return &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	}
	for _, r := range s.env.rcpts {
		if r.addr == addr {
			return nil // the same recipient twice gets one copy
		}
	}
	ctx, cancel := s.ctx()
	defer cancel()
	pol := s.srv.recipient(ctx, addr, s.ip)
	if pol.refused != "" {
		reply := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Upstream not allowed for this domain"}
		s.refuseRcpt(ctx, addr, pol.domainID, reply, pol.refused)
		return reply
	}
	a, err := pol.acct, pol.err
	var reason string
	switch {
	case err == nil && a.Enabled:
		s.env.rcpts = append(s.env.rcpts, rcpt{addr: addr, account: &a})
		s.log.Debug("RCPT TO", "rcpt", addr)
		return nil
	case err != nil && !isNotFound(err):
		s.log.Error("look up recipient", "rcpt", addr, "err", err)
		return smtpserver.ErrTemporary
	case s.env.sender != nil:
		// A journaled copy of outbound mail lists outside recipients:
		// accept them so that the sender's Sent copy is kept. (go-smtp
		// words the 250 itself; the reply to the message says what was
		// done.)
		s.env.rcpts = append(s.env.rcpts, rcpt{addr: addr})
		s.log.Debug("RCPT TO", "rcpt", addr, "outside", true)
		return nil
	case err == nil:
		reason = "continuity disabled for this address"
	default:
		reason = "address not protected"
	}
	reply := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox not protected here (" + reason + ")"}
	var domainID int64
	if err == nil {
		domainID = a.DomainID
	}
	s.refuseRcpt(ctx, addr, domainID, reply, reason)
	return reply
}

// refuseRcpt records a refused recipient: the metric, an info log line and
// a message log record.
func (s *session) refuseRcpt(ctx context.Context, rcpt string, domainID int64, reply *smtp.SMTPError, reason string) {
	s.srv.metrics.refused.Inc()
	if s.cc != nil {
		s.cc.count(0, 1)
	}
	s.log.Info("recipient refused", "from", s.env.from, "rcpt", rcpt, "reason", reason)
	ev := msglog.With(msglog.Message(s.srv.now(), nil, s.env.from, 0, s.ip), msglog.Refused, rcpt, domainID,
		smtpserver.ReplyText(reply)+" "+reason)
	if lerr := s.srv.msglog.Add(ctx, ev); lerr != nil {
		s.log.Error("log refused recipient", "rcpt", rcpt, "err", lerr)
	}
}

// refuse records a refused message the same way; messageID is "" when
// the message was not read.
func (s *session) refuse(ctx context.Context, env envelope, messageID string, reply *smtp.SMTPError, reason string, size ...int64) {
	s.srv.metrics.refused.Inc()
	if s.cc != nil {
		s.cc.count(0, 1)
	}
	rcpts := rcptAddrs(env.rcpts)
	s.log.Info("message refused", "from", env.from, "rcpts", rcpts, "reply", smtpserver.ReplyText(reply), "reason", reason)
	var n int64
	if len(size) > 0 {
		n = size[0]
	}
	ev := msglog.With(msglog.Message(s.srv.now(), &message.Info{MessageID: messageID}, env.from, n, s.ip), msglog.Refused,
		strings.Join(rcpts, ", "), 0, smtpserver.ReplyText(reply)+" "+reason)
	if env.sender != nil {
		ev.DomainID = env.sender.DomainID
	}
	for _, r := range env.rcpts {
		if ev.DomainID == 0 && r.account != nil {
			ev.DomainID = r.account.DomainID
		}
	}
	if lerr := s.srv.msglog.Add(ctx, ev); lerr != nil {
		s.log.Error("log refused message", "err", lerr)
	}
}

// Data streams the body into a spool (memory, then an unlinked file),
// normalising line endings on the way, pre-parses it from there and hands
// the store a reader: memory per connection does not grow with message
// size.
func (s *session) Data(r io.Reader) error {
	start := s.srv.now()
	env := s.env
	body, done := smtpserver.LineGuardOf(s.conn.Conn()).Body(r)
	defer done()
	sp := smtpserver.NewSpool(s.srv.cfg.SpoolDir, s.srv.budget)
	defer sp.Close()
	in := smtpserver.NewBodyReader(body, s.conn.Conn(), s.srv.cfg.ReadTimeout)
	defer in.Stop()
	nw := smtpserver.NewCRLFWriter(sp)
	_, err := io.Copy(nw, in)
	if err == nil {
		err = nw.Close()
	}
	if err != nil {
		return s.dataFailed(env, in, sp, err)
	}
	ingest := s.srv.now()
	ctx, cancel := s.ctx()
	defer cancel()
	info, err := sp.Parse()
	if err != nil {
		s.log.Error("parse captured message", "err", err)
		s.refuse(ctx, env, "", smtpserver.ErrTemporary, "could not read the spooled message", sp.Size())
		return smtpserver.ErrTemporary
	}
	// A copy the mailbox already holds (an upstream retry after a lost
	// 250, a journaled copy of what submission stored) is not stored
	// again: the store logs it as a duplicate instead (issue 13 part 5).
	d := &store.Delivery{Body: sp.Reader(), Size: sp.Size(), Info: info, Received: start, DuplicateStatus: msglog.Duplicate}
	base := msglog.Message(start, info, env.from, sp.Size(), s.ip)
	var domainID int64
	if env.sender != nil {
		domainID = env.sender.DomainID
	}
	var local []string
	outside := false
	// The address each account's INBOX copy is kept for: alice@ and
	// alice+news@ in one transaction are one mailbox, which gets one
	// copy (with or without a Message-ID to deduplicate by).
	inbox := map[int64]string{}
	// The message's record names all its recipients, and one account:
	// the sender's, else the first sub-address's.
	var account string
	for _, r := range env.rcpts {
		if r.account == nil {
			outside = true
			continue
		}
		if domainID == 0 {
			domainID = r.account.DomainID
		}
		ev := stored(base, r.addr, r.account, store.Inbox)
		if account == "" {
			account = ev.Account
		}
		if first, ok := inbox[r.account.ID]; ok {
			ev.Status, ev.Detail = msglog.Duplicate, store.Inbox+": the copy kept for "+first
			d.Events = append(d.Events, ev)
			continue
		}
		inbox[r.account.ID] = r.addr
		d.Copies = append(d.Copies, store.Copy{AccountID: r.account.ID, Mailbox: store.Inbox, Event: ev})
		local = append(local, r.addr)
	}
	if env.sender != nil {
		ev := stored(base, env.from, env.sender, store.Sent)
		if ev.Account != "" {
			account = ev.Account
		}
		d.Copies = append(d.Copies, store.Copy{AccountID: env.sender.ID, Mailbox: store.Sent, Flags: store.FlagSeen, Event: ev})
	}
	captured := msglog.With(base, msglog.Captured, strings.Join(rcptAddrs(env.rcpts), ", "), domainID,
		fmt.Sprintf("for %d recipient(s)", len(env.rcpts)))
	captured.Account = account
	d.Events = append(d.Events, captured)
	delivered, err := s.srv.store.Deliver(ctx, d)
	if err != nil {
		reply := smtpserver.Error(err)
		s.srv.diskOutcome(err)
		s.log.Error("store captured message", "message_id", info.MessageID, "reply", smtpserver.ReplyText(reply), "err", err)
		s.refuse(ctx, env, info.MessageID, reply, "store failed: "+err.Error(), sp.Size())
		return reply
	}
	s.srv.diskOutcome(nil)
	elapsed := s.srv.now().Sub(ingest)
	dups := 0
	for _, dl := range delivered {
		if dl.Duplicate {
			dups++
		}
	}
	s.srv.metrics.stored.Add(float64(len(delivered) - dups))
	s.srv.metrics.duplicates.Add(float64(dups))
	s.srv.metrics.bytes.Add(float64(sp.Size()))
	s.srv.metrics.latency.Observe(elapsed.Seconds())
	if s.cc != nil {
		s.cc.count(1, 0)
	}
	s.log.Debug("message stored", "message_id", info.MessageID, "from", env.from, "rcpts", local, "size", sp.Size(),
		"duplicates", dups, "elapsed", elapsed)
	if dups > 0 && dups == len(delivered) {
		return replyDuplicate
	}
	if outside && env.sender != nil {
		return replyJournaled
	}
	return replyStored
}

// dataFailed answers a body that could not be received whole. Every
// refusal gets a reply and a message log record; a broken connection
// gets neither (there is no one to answer).
func (s *session) dataFailed(env envelope, in *smtpserver.BodyReader, sp *smtpserver.Spool, err error) error {
	ctx, cancel := s.ctx()
	defer cancel()
	var se *smtp.SMTPError
	switch {
	case errors.Is(err, smtpserver.ErrBudget), smtpserver.StorageFull(err):
		// Read the rest so that the reply comes at the end of the body,
		// where the client waits for it, without keeping it.
		sp.Close()
		io.Copy(io.Discard, in)
		reason := "in-flight message bytes over the budget"
		if !errors.Is(err, smtpserver.ErrBudget) {
			s.srv.diskOutcome(err)
			reason = "spool disk full"
		}
		s.refuse(ctx, env, "", smtpserver.ErrStorageFull, reason, in.Size())
		return smtpserver.ErrStorageFull
	case errors.As(err, &se):
		// The size limit (smtpserver's bodyLimit, for DATA and BDAT
		// alike; go-smtp discards the rest).
		s.refuse(ctx, env, "", se, "message over the size limit", in.Size())
		return err
	case errors.Is(err, smtp.ErrDataReset):
		// BDAT without LAST, then RSET, EHLO or a disconnect.
		s.refuse(ctx, env, "", &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}},
			"transfer aborted before the last chunk (RSET, EHLO or disconnect)", in.Size())
		return err
	case in.ReadErr() == nil:
		// Writing the spool failed for another reason.
		s.log.Error("spool captured message", "err", err)
		sp.Close()
		io.Copy(io.Discard, in)
		s.refuse(ctx, env, "", smtpserver.ErrTemporary, "could not spool the message", in.Size())
		return smtpserver.ErrTemporary
	default:
		// A timeout or a broken connection: go-smtp would answer 421 and
		// keep reading commands (upstream issue 196), so hang up.
		s.log.Info("data aborted", "err", err, "received", in.Size(), "too_slow", in.TooSlow())
		s.conn.Conn().Close()
		return err
	}
}

// diskOutcome records whether an attempt to keep a message found the
// disk full (nil: it was kept): in capture's gauge, and in the Storage
// the service's listeners share for its health check.
func (s *Server) diskOutcome(err error) {
	s.cfg.Storage.Record(err)
	switch {
	case err == nil:
		s.metrics.setFull(false)
	case smtpserver.StorageFull(err):
		s.metrics.setFull(true)
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func rcptAddrs(rs []rcpt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.addr
	}
	return out
}
