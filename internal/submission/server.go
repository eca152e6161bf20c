package submission

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// Authenticator checks sign-ins; *auth.Authenticator is one, shared with
// IMAP so that throttles and the credential cache are the same.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password, remoteIP string) (auth.Credential, error)
}

// Config is the submission listeners' part of the configuration: what
// every SMTP listener has (its TLS is required here: STARTTLS on 587, the
// handshake on 465; its MessageLog takes the records of refusals and
// failed sign-ins). The recipient bound is the Submitter's.
type Config struct {
	smtpserver.Config
}

// Server serves submission on any number of listeners: Serve for port 587
// (STARTTLS, RFC 6409), ServeTLS for port 465 (implicit TLS, RFC 8314).
type Server struct {
	cfg   Config
	st    Store
	authn Authenticator
	sub   *Submitter
	log   *slog.Logger
	drain *smtpserver.Drain
	// budget bounds the bytes of bodies in flight (Config.MaxInflightBytes).
	budget *smtpserver.Budget
	// bufs lends the spools of the listener's sessions their memory:
	// Submit's store call reads a body only while it runs (the store's
	// Deliver contract), and Data closes its spool after it.
	bufs smtpserver.SpoolBuffers

	msglog *msglog.Writer
	ownLog bool // msglog made by New, drained by Shutdown
}

// New returns a submission server.
func New(cfg Config, st Store, authn Authenticator, sub *Submitter, log *slog.Logger) *Server {
	cfg.SetDefaults()
	s := &Server{cfg: cfg, st: st, authn: authn, sub: sub, log: log, drain: smtpserver.NewDrain(),
		budget: cfg.Inflight}
	s.msglog, s.ownLog = cfg.MessageLogFor(st, log)
	// Each account's bodies in flight count against its share of the
	// budget (Data), in which a message of the largest size must fit.
	s.budget.FitMessage(cfg.MaxMessageBytes)
	// The read timeout bounds a session's time without a transaction
	// too, not only each command (slowloris).
	s.drain.MaxIdle = cfg.ReadTimeout
	return s
}

// newSMTP returns the go-smtp server of one connection
// (smtpserver.Serve); starttls is nil on 465.
func (s *Server) newSMTP(starttls *tls.Config) *smtp.Server {
	srv := s.cfg.NewServer(s, s.log)
	srv.MaxRecipients = s.sub.MaxRecipients()
	// RFC 3461: RET and ENVID at MAIL, NOTIFY and ORCPT at RCPT; go-smtp
	// answers bad syntax 501 5.5.4 (Mail and Rcpt check the rest).
	srv.EnableDSN = true
	srv.TLSConfig = starttls
	// AUTH is offered and accepted only over TLS (RFC 6409 4.3, RFC 4954
	// 4): go-smtp answers AUTH before STARTTLS "523 5.7.10".
	srv.AllowInsecureAuth = false
	return srv
}

// limits are the shared SMTP connection limits of both ports.
func (s *Server) limits() smtpserver.Limits {
	return smtpserver.Limits{MaxConns: s.cfg.MaxConns, MaxConnsPerIP: s.cfg.MaxConnsPerIP}
}

// Serve serves port 587 on ln (STARTTLS) until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	// Lines inside a message have no limit but the message size; command
	// lines are bounded by the guard (issue 12 part 1).
	lines := smtpserver.GuardLines(smtpserver.LimitListener(ln, s.limits(), s.log))
	err := smtpserver.Serve(s.drain.Listener(lines), func() *smtp.Server { return s.newSMTP(s.cfg.TLS) })
	if s.drain.Closing() {
		return smtp.ErrServerClosed
	}
	return err
}

// ServeTLS serves port 465 on ln (implicit TLS) until Shutdown.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("submission on implicit TLS needs a certificate")
	}
	// TLS above the drain's connections, so that go-smtp sees a
	// *tls.Conn (and allows AUTH) and the drain finds its own below it.
	// The line guard below TLS counts the bytes on the wire. A client
	// over the limits hears its 421 inside TLS.
	lim := s.limits()
	lim.TLS = s.cfg.TLS
	lines := smtpserver.GuardLines(smtpserver.LimitListener(ln, lim, s.log))
	inner := s.drain.Listener(lines)
	// On 465 the session is TLS from the first byte: no STARTTLS.
	err := smtpserver.Serve(tls.NewListener(inner, s.cfg.TLS), func() *smtp.Server { return s.newSMTP(nil) })
	if s.drain.Closing() {
		return smtp.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, answers idle sessions "421 4.3.2", lets
// transactions in flight finish and waits for them until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drain.Close()
	var out []error
	if err := s.drain.Wait(ctx); err != nil {
		out = append(out, err)
	}
	if s.ownLog {
		// Every session has ended: none adds a record now.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		out = append(out, s.msglog.Close(lctx))
	}
	return errors.Join(out...)
}

// FlushLog waits until the message log records of refusals made so far
// are written (for tests, which read them back).
func (s *Server) FlushLog(ctx context.Context) error { return s.msglog.Flush(ctx) }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.drain.Track(c)
	ip := smtpserver.RemoteIP(c.Conn().RemoteAddr())
	log := smtpserver.ConnLog(c.Conn()) // with the connection's cid
	if log == nil {
		log = s.log.With("remote", ip)
	}
	return &session{srv: s, conn: c, ip: ip, log: log}, nil
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	ip   string
	log  *slog.Logger

	acct  *store.Account // signed in
	from  string
	utf8  bool // MAIL said SMTPUTF8 (RFC 6531)
	rcpts []string
	// ret and envid are MAIL's RET and ENVID, dsn what each recipient's
	// RCPT asked of notifications (RFC 3461), for the queue entries.
	ret, envid string
	dsn        map[string]store.DSN
	// routes are the accepted recipients' routes, decided at RCPT and
	// given to Submit with the message.
	routes map[string]route
	// readAt is when the account was last read again at DATA
	// (signInRevoked, at most once a second).
	readAt time.Time
	// copyBuf carries each DATA from the connection to the spool: one
	// per connection rather than io.Copy's 32 KiB per message. A Data
	// takes it and gives it back when it ends (takeBuf, giveBuf): the
	// Data of a BDAT transfer the client reset may still be using it in
	// go-smtp's goroutine when the next transaction's Data begins.
	bufMu   sync.Mutex
	copyBuf []byte
}

// Answers (RFC 3463 enhanced codes).
var (
	// RFC 4954 6: 530 5.7.0 "Authentication required"; go-smtp's
	// ErrAuthRequired says 502.
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errSpoofed      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address and From header must be your own address, a sub-address of it (you+tag@) or an alias your administrator allowed"}
	errTooManyRcpts = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients for one message"}
	errBadRcpt      = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	errNeedsUTF8    = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "A UTF-8 address needs SMTPUTF8 in MAIL FROM"}
	errNoRoute      = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Not a protected address of a domain that xtramail does not relay to"}
	// errShare: the account's messages still arriving on its other
	// connections hold its share of the in-flight budget
	// (smtpserver.ErrShare). 452 4.3.1 as for a full budget, so that the
	// client retries, in words that say whose messages it waits for.
	errShare = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Too many of your messages are arriving at once; try again when they are done"}
)

// smtpError maps Submit's errors to SMTP answers, once, and leaves the
// store's and the rest to smtpserver.Error, which every listener shares;
// the detail goes to the log, the client gets plain words.
func smtpError(err error) *smtp.SMTPError {
	var he *message.HeaderError
	switch {
	case errors.Is(err, ErrSpoofed):
		return errSpoofed
	case errors.Is(err, ErrDisabled):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Your address is disabled"}
	case errors.Is(err, ErrTooBig):
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	case errors.Is(err, ErrHeaderTooBig):
		// RFC 5321 552 and RFC 3463 5.3.4: a size limit of ours, not a
		// malformed message (5.6.0); the limit is named, so that the
		// sender knows what to shorten.
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: fmt.Sprintf("Message header section too big (over %d KiB or %d lines of header fields)", dkim.MaxHeaderBytes>>10, dkim.MaxHeaderLines)}
	case errors.Is(err, ErrTooManyRecipients):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 3}, Message: "Too many recipients for one message"}
	case errors.Is(err, ErrRateLimited):
		return rateError(err)
	case errors.Is(err, ErrNoRoute):
		return errNoRoute
	case errors.Is(err, ErrLongLine):
		// RFC 3463 5.6.0: a media error; the sender must change the
		// message, so the field is named.
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "A header line is longer than 998 characters and has no space to fold it at (RFC 5322 2.1.1): " + longField(err)}
	case errors.Is(err, ErrNUL):
		// RFC 3463 5.6.0, as for a NUL in the header: the sender must
		// change the message.
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "Message body contains a NUL byte (RFC 5322 2.3): send binary data encoded (base64)"}
	case errors.As(err, &he):
		// Read one way by our checks and another by a signer or a
		// reader (message.CheckHeader): refused, not repaired.
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: fmt.Sprintf("Malformed message header (RFC 5322 2.2): %s at line %d", he.Problem, he.Line)}
	case errors.Is(err, ErrBadRecipient):
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "No valid recipients"}
	default:
		return smtpserver.Error(err)
	}
}

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.srv.cfg.ReadTimeout)
}

// AuthMechanisms implements smtp.AuthSession.
func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth implements smtp.AuthSession.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if _, ok := s.conn.TLSConnectionState(); !ok {
		// go-smtp already refuses AUTH without TLS; this guards against
		// a change of its settings.
		return nil, &smtp.SMTPError{Code: 523, EnhancedCode: smtp.EnhancedCode{5, 7, 10}, Message: "TLS is required"}
	}
	switch mech {
	case sasl.Plain:
		return saslReplies{sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && !strings.EqualFold(identity, username) {
				// No acting for another user (RFC 4616 2).
				s.authFailed(username, "authorization identity differs")
				return smtp.ErrAuthFailed
			}
			return s.login(username, password)
		})}, nil
	case sasl.Login:
		return saslReplies{newLoginServer(s.login)}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// errBadSASL answers a client response the mechanism cannot read, such as
// a PLAIN message without its two NULs or an empty one ("=", RFC 4954 4):
// the client's syntax error, 501 5.5.2 (RFC 4954 6). go-smtp would answer
// the mechanism's own error text with "454 4.7.0", a temporary failure
// that has a client try the same bytes again.
var errBadSASL = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Malformed authentication response"}

// saslReplies is a SASL server whose errors are SMTP answers: those of
// the sign-in itself already are, any other is the client's malformed
// response.
type saslReplies struct{ sasl.Server }

func (r saslReplies) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := r.Server.Next(response)
	if err != nil && !errors.As(err, new(*smtp.SMTPError)) {
		err = errBadSASL
	}
	return challenge, done, err
}

func (s *session) login(username, password string) error {
	ctx, cancel := s.ctx()
	defer cancel()
	cred, err := s.srv.authn.Authenticate(ctx, username, password, s.ip)
	if err != nil {
		var terr *auth.ThrottledError
		switch {
		case errors.As(err, &terr):
			s.authFailed(username, "throttled: "+err.Error())
			return smtpserver.ErrAuthThrottled
		case errors.Is(err, auth.ErrInvalidCredentials):
			s.authFailed(username, err.Error())
			return smtp.ErrAuthFailed
		default:
			s.log.Error("authenticate", "user", username, "err", err)
			return smtpserver.ErrTemporary
		}
	}
	a, err := s.srv.st.Account(ctx, cred.Username)
	if err != nil || !a.Enabled {
		s.authFailed(username, fmt.Sprintf("account lookup after sign-in: %v", err))
		return smtp.ErrAuthFailed
	}
	s.acct = &a
	s.log = s.log.With("account", a.Address)
	s.log.Info("signed in")
	s.signInEvent(ctx, msglog.Login, a, "submission sign-in")
	return nil
}

// authFailed records a failed sign-in in the message log with the IP, so
// that an administrator sees guessing and a user's wrong password, under
// the kind IMAP and the web use (login-failed): one search finds them
// all. Only for addresses held here, as IMAP does: the record is scoped
// to their tenant, and what a client makes up (any name, of any length,
// once per attempt) does not fill the log.
func (s *session) authFailed(username, why string) {
	s.log.Info("sign-in failed", "user", username, "reason", why)
	ctx, cancel := s.ctx()
	defer cancel()
	a, err := s.srv.st.Account(ctx, strings.ToLower(username))
	if err != nil {
		return
	}
	s.signInEvent(ctx, msglog.LoginFailed, a, "submission sign-in failed")
}

// signInEvent queues a sign-in record for the message log; a failure is
// only logged, since the sign-in itself is decided.
func (s *session) signInEvent(ctx context.Context, kind store.LogStatus, a store.Account, detail string) {
	if err := s.srv.msglog.Add(ctx, msglog.Session(time.Now(), kind, a.Address, a.DomainID, s.ip, detail)); err != nil {
		s.log.Warn("message log: sign-in", "kind", kind, "err", err)
	}
}

// envelope is who a refusal record is about: the signed-in account and
// its domain, and the transaction's sender and recipients. Data takes it
// when it begins, since a BDAT transfer's Data may end after go-smtp
// moved on to the next transaction.
type envelope struct {
	account, from, rcpts string
	domainID             int64
}

func (s *session) envelope(rcpts string) envelope {
	e := envelope{from: s.from, rcpts: rcpts}
	if s.acct != nil {
		e.account, e.domainID = s.acct.Address, s.acct.DomainID
	}
	return e
}

// sender is the envelope sender of env's refusal record, and why with
// the MAIL FROM address added when it is another one. The record names
// the signed-in account as its sender, as the submitted record does:
// the account is who the session sends for, and a search by its address
// finds what it was refused (a forged sender's record, a revoked
// sign-in's before any MAIL FROM). The address the client gave stays in
// the detail, so that the administrator sees both, and a forged one is
// not recorded as the sender of what it did not send.
func (env envelope) sender(why string) (from, detail string) {
	if env.account == "" {
		return env.from, why
	}
	if env.from != "" && env.from != env.account {
		why += fmt.Sprintf("; MAIL FROM %q", env.from)
	}
	return env.account, why
}

// refused records a refused message in the message log, answered reply
// for why, as capture records its own ("submission: 552 5.3.4 why").
func (s *session) refused(rcpt string, reply *smtp.SMTPError, why string) {
	s.refusedAs(s.envelope(rcpt), reply, why, 0)
}

// refusedErr is refused for an error of Submit or of a check of the
// session's: the record says it in the words of the answer, which hold
// no internal ids and no package prefix (the errors' text carries both,
// and is for the log); an error of the system's, not the sender's or
// the message's, adds its own text for the administrator.
func (s *session) refusedErr(rcpt string, reply *smtp.SMTPError, err error) {
	s.refused(rcpt, reply, refusalWhy(reply, err))
}

// refusalWhy is what a refusal record says of err (refusedErr).
func refusalWhy(reply *smtp.SMTPError, err error) string {
	if systemFault(reply, err) {
		return reply.Message + ": " + err.Error()
	}
	return reply.Message
}

// systemFault reports whether an error answered reply is a local fault
// (logged at error level, its text kept for the administrator), not a
// refusal of the sender's or of the message's.
func systemFault(reply *smtp.SMTPError, err error) bool {
	return smtpserver.Temporary(reply) && !errors.Is(err, ErrRateLimited) && reply != errTooManyRcpts
}

// refusedAs records a refusal of env's transaction, of size bytes read
// (0 when none was).
func (s *session) refusedAs(env envelope, reply *smtp.SMTPError, why string, size int64) {
	ctx, cancel := s.ctx()
	defer cancel()
	from, why := env.sender(why)
	ev := msglog.With(msglog.Message(time.Now(), nil, from, size, s.ip), msglog.Refused, env.rcpts, env.domainID,
		"submission: "+smtpserver.ReplyText(reply)+" "+why)
	if err := s.srv.msglog.Add(ctx, ev); err != nil {
		s.log.Warn("message log: refusal", "err", err)
	}
}

// signInRevoked reads the session's account again, before a transaction
// begins and before its message is kept: a session whose account was
// disabled or removed, or given a new password, since it signed in sends
// nothing more. The rule is IMAP's (store.SignInRevoked), and it is read
// here rather than told, since the CLI changes accounts from another
// process. Such a session is answered 530 5.7.0 and hung up after it:
// RFC 4954 6 has 530 for a command that needs authentication when none
// is in force, which is what the revocation leaves. A 4xx would have the
// client retry on credentials that no longer work; 535 is AUTH's own
// answer, which the client hears when it signs in again. Until the hang
// up, pipelined commands hear 530 too (acct is nil).
func (s *session) signInRevoked(ctx context.Context) *smtp.SMTPError {
	cur, err := s.srv.st.AccountByID(ctx, s.acct.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("re-read account", "err", err)
	}
	reason := store.SignInRevoked(*s.acct, cur, err)
	if reason == "" {
		return nil
	}
	s.log.Info("signed-in session ended: account changed", "reason", reason)
	reply := &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
		Message: "Authentication required: " + reason + "; closing connection"}
	s.refused(strings.Join(s.rcpts, ", "), reply, "sign-in ended: "+reason)
	s.acct = nil
	s.srv.drain.Hangup(s.conn, "")
	return reply
}

func (s *session) Reset() {
	s.from, s.utf8, s.rcpts, s.routes = "", false, nil, nil
	s.ret, s.envid, s.dsn = "", "", nil
	s.srv.drain.End(s.conn)
}

func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	s.Reset()
	// RFC 6409 4.3 / RFC 4954 6: no transaction before AUTH. go-smtp does
	// not gate MAIL on AUTH itself.
	if s.acct == nil {
		s.log.Info("MAIL before AUTH refused", "from", from)
		return errAuthRequired
	}
	if (opts == nil || !opts.UTF8) && !isASCII(from) {
		// As for RCPT (RFC 6531 3.5); go-smtp takes a UTF-8 reverse-path
		// without SMTPUTF8.
		return errNeedsUTF8
	}
	ctx, cancel := s.ctx()
	defer cancel()
	// The account is read again at DATA, before anything is kept, at
	// most once a second: a client sending message after message costs
	// a store read a second, not one a message (2% of the server's CPU
	// under xtramail-bench submit), and what an administrator changes
	// holds for it within the second. A MAIL is answered on DATA's read
	// within the second, else reads again: an idle session learns at
	// once.
	if time.Since(s.readAt) > time.Second {
		if err := s.signInRevoked(ctx); err != nil {
			return err
		}
	}
	if !s.srv.drain.Begin(s.conn) {
		return smtpserver.ErrShuttingDown
	}
	defer func() {
		if err != nil {
			s.srv.drain.End(s.conn)
		}
	}()
	addr, aerr := store.NormalizeAddress(from)
	may := false
	if aerr == nil {
		if may, aerr = s.srv.sub.MaySendAs(ctx, *s.acct, addr); aerr != nil {
			s.log.Error("check envelope sender", "from", addr, "err", aerr)
			return smtpserver.Error(aerr)
		}
	}
	if !may {
		s.from = strings.ToLower(from)
		why := "the envelope sender is neither the signed-in address, a sub-address of it nor an allowed alias"
		if from == "" {
			why = "the null envelope sender (MAIL FROM:<>) is not the signed-in address"
		}
		s.refused("", errSpoofed, why)
		return errSpoofed
	}
	if opts != nil && opts.Size > 0 && !s.srv.budget.Fits(opts.Size) {
		// RFC 1870 6.1: 452 when the size is too big for now.
		s.from = addr
		s.refused("", smtpserver.ErrStorageFull, "in-flight message bytes over the budget")
		return smtpserver.ErrStorageFull
	}
	if err := s.srv.sub.Allowed(ctx, s.acct.ID); err != nil {
		s.from = addr
		if !errors.Is(err, ErrRateLimited) {
			s.log.Error("count sends", "err", err)
			return smtpserver.Error(err)
		}
		reply := rateError(err)
		s.refusedErr("", reply, err)
		return reply
	}
	if opts != nil && len(opts.EnvelopeID) > maxEnvID {
		// RFC 3461 4.4: at most 100 characters.
		return errBadDSN
	}
	s.from = addr
	s.utf8 = opts != nil && opts.UTF8
	if opts != nil {
		s.ret, s.envid = string(opts.Return), opts.EnvelopeID
	}
	return nil
}

// The bounds of RFC 3461 4.2 and 4.4 on ORCPT's address and ENVID.
const (
	maxORcpt = 500
	maxEnvID = 100
)

// errBadDSN answers a DSN parameter that go-smtp's syntax check let by
// but RFC 3461 does not allow.
var errBadDSN = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 4}, Message: "Malformed DSN parameter value (RFC 3461)"}

// rcptDSN is what a RCPT's options ask of notifications, with the
// transaction's RET and ENVID; ok is false for an ORCPT RFC 3461 does not
// allow.
func (s *session) rcptDSN(opts *smtp.RcptOptions) (d store.DSN, ok bool) {
	d = store.DSN{Ret: s.ret, EnvID: s.envid}
	if opts == nil {
		return d, true
	}
	var notify []string
	for _, n := range opts.Notify {
		notify = append(notify, string(n))
	}
	d.Notify = strings.Join(notify, ",")
	if a := opts.OriginalRecipient; a != "" {
		if len(a) > maxORcpt || strings.ContainsFunc(a, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return d, false
		}
		d.ORcpt = strings.ToLower(string(opts.OriginalRecipientType)) + ";" + a
	}
	return d, true
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.acct == nil {
		return errAuthRequired
	}
	if !s.utf8 && !isASCII(to) {
		// SMTPUTF8 in MAIL is what allows UTF-8 in the transaction's
		// addresses; without it, RFC 6531 3.5: 553 5.6.7, "non-ASCII
		// addresses not permitted for that sender/recipient".
		return errNeedsUTF8
	}
	if strings.EqualFold(to, "postmaster") {
		// RFC 5321 4.1.1.3: <Postmaster> without a domain must be taken.
		// For a user it names the postmaster of their own organisation,
		// reached as any address of their domain is.
		to += "@" + domainOf(s.acct.Address)
	}
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		return errBadRcpt
	}
	dsn, ok := s.rcptDSN(opts)
	if !ok {
		return errBadDSN
	}
	if len(s.rcpts) >= s.srv.sub.MaxRecipients() {
		// RFC 5321 4.5.3.1.10: 452 for too many recipients; the client
		// sends the rest in another transaction.
		return errTooManyRcpts
	}
	ctx, cancel := s.ctx()
	defer cancel()
	rt, err := s.srv.sub.checkRoute(ctx, addr)
	if err != nil {
		if !errors.Is(err, ErrNoRoute) {
			s.log.Error("check recipient", "rcpt", addr, "err", err)
		}
		reply := smtpError(err)
		s.refusedErr(addr, reply, err)
		return reply
	}
	if s.routes == nil {
		s.routes = map[string]route{}
	}
	s.routes[addr] = rt
	// As given: Submit sends on the local part's case (store.SendAddress).
	s.rcpts = append(s.rcpts, strings.TrimSpace(to))
	if dsn != (store.DSN{}) {
		if s.dsn == nil {
			s.dsn = map[string]store.DSN{}
		}
		s.dsn[addr] = dsn
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.acct == nil || s.from == "" {
		return errAuthRequired
	}
	env := s.envelope(strings.Join(s.rcpts, ", "))
	body, done := smtpserver.LineGuardOf(s.conn.Conn()).Body(r)
	defer done()
	// The body streams through the line-ending rule and the header
	// completion into a spool (memory, then an unlinked file): memory
	// per connection does not grow with message size. Its bytes count
	// against the account's share of the budget, over all its
	// connections: one account, however many connections it opens and
	// however slowly it sends, cannot make everyone else wait.
	sp := s.srv.bufs.NewSpool(s.srv.cfg.SpoolDir, s.srv.budget).For(s.acct.Address)
	defer sp.Close()
	in := smtpserver.NewBodyReader(body, s.conn.Conn(), s.srv.cfg.ReadTimeout)
	defer in.Stop()
	hc := newHeaderCompleter(sp, domainOf(s.acct.Address), s.acct.Address, time.Now())
	nw := smtpserver.NewCRLFWriter(hc)
	buf := s.takeBuf()
	_, err := io.CopyBuffer(nw, in, buf)
	if !errors.Is(err, smtp.ErrDataReset) {
		s.giveBuf(buf)
	}
	if err == nil {
		if err = nw.Close(); err == nil {
			err = hc.Close()
		}
	}
	if err != nil {
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se):
			// Over the size limit (smtpserver's bodyLimit, for DATA and
			// BDAT alike): go-smtp reads the rest.
			s.refusedAs(env, se, "message over the size limit", in.Size())
			return err
		case errors.Is(err, smtp.ErrDataReset):
			// BDAT without LAST, then RSET or EHLO (RFC 3030 4: the
			// transaction is aborted, the session goes on) or a
			// disconnect. go-smtp has moved on to the next command: this
			// Data runs in a goroutine of its own, so the session's
			// fields are no longer this transaction's; nothing is kept.
			s.log.Info("chunked message abandoned by the client", "received", in.Size())
			s.refusedAs(env, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}},
				"transfer aborted before the last chunk (RSET, EHLO or disconnect)", in.Size())
			return err
		case in.ReadErr() == nil:
			// The spool refused it: the budget is spent or the disk
			// full. Read the rest without keeping it, so that the
			// answer comes where the client waits for it; the log
			// hears of it now, not when a slow client is done.
			sp.Close()
			reply := s.spoolRefused(err, in.Size())
			io.Copy(io.Discard, in)
			s.srv.cfg.Storage.Record(err)
			s.refusedAs(env, reply, "spool: "+err.Error(), in.Size())
			return reply
		}
		// A timeout or a broken connection: go-smtp would answer 421
		// and keep reading commands (upstream issue 196), so hang up.
		s.log.Info("data aborted", "err", err)
		s.conn.Conn().Close()
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if time.Since(s.readAt) > time.Second {
		if err := s.signInRevoked(ctx); err != nil {
			return err
		}
		s.readAt = time.Now()
	}
	res, err := s.srv.sub.Submit(ctx, Message{Account: *s.acct, MailFrom: s.from, Rcpts: s.rcpts, Spool: sp, SentSize: in.Size(),
		RemoteIP: s.ip, routes: s.routes, DSN: s.dsn,
		// Signed in over TLS, as MAIL requires here: ESMTPSA (RFC 3848).
		Origin: store.Origin{Client: s.conn.Hostname(), With: "ESMTPSA"}})
	// The health check hears of a full disk from here too, and of its
	// end at a message kept.
	s.srv.cfg.Storage.Record(err)
	if err != nil {
		reply := smtpError(err)
		if systemFault(reply, err) {
			s.log.Error("submit", "err", err)
		} else {
			s.log.Info("message refused", "err", err)
		}
		s.refusedAs(env, reply, refusalWhy(reply, err), sp.Size())
		return reply
	}
	s.log.Info("message submitted", "message_id", res.MessageID, "rcpts", res.Queued, "local", res.Local, "size", sp.Size())
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: submittedText(res)}
}

// spoolRefused logs why the spool refused a body after received bytes,
// and returns the answer.
func (s *session) spoolRefused(err error, received int64) *smtp.SMTPError {
	if errors.Is(err, smtpserver.ErrShare) {
		// The account's own messages in flight: its doing, not the
		// server's (info, not error). The session's log names the
		// account and the client's address.
		s.log.Info("message refused for now: the account's share of the in-flight budget is taken",
			"held", s.srv.budget.HeldBy(s.acct.Address), "share", s.srv.budget.Share(), "received", received)
		return errShare
	}
	s.log.Error("spool submitted message", "err", err, "received", received)
	if errors.Is(err, smtpserver.ErrBudget) || smtpserver.StorageFull(err) {
		return smtpserver.ErrStorageFull
	}
	return smtpserver.Error(err)
}

// submittedText is the 250 to a message kept: what became of its
// recipients, the queued and those of "continuity only" domains whose
// continuity INBOX is their delivery (a "queued for 0" for those read as
// if nothing had gone anywhere).
func submittedText(res Result) string {
	queued := fmt.Sprintf("queued for %d recipient(s)", res.Queued)
	switch {
	case res.Kept == 0:
		return queued
	case res.Queued == 0:
		return fmt.Sprintf("delivered to %d continuity mailbox(es)", res.Kept)
	}
	return fmt.Sprintf("delivered to %d continuity mailbox(es), %s", res.Kept, queued)
}

// longField names the header field of an ErrLongLine.
func longField(err error) string {
	var le *message.LongHeaderError
	if errors.As(err, &le) && le.Field != "" {
		return "shorten the " + le.Field + " field"
	}
	return "shorten it"
}

// takeBuf returns the session's copy buffer, or a new one when another
// Data holds it.
func (s *session) takeBuf() []byte {
	s.bufMu.Lock()
	defer s.bufMu.Unlock()
	b := s.copyBuf
	s.copyBuf = nil
	if b == nil {
		b = make([]byte, 32<<10)
	}
	return b
}

func (s *session) giveBuf(b []byte) {
	s.bufMu.Lock()
	s.copyBuf = b
	s.bufMu.Unlock()
}

// rateError is the answer over the messages-per-hour limit: temporary
// (RFC 3463 4.7.1, delivery not authorized now), saying when one more
// message fits, so that the user or the client's retry knows when.
func rateError(err error) *smtp.SMTPError {
	msg := "Too many messages sent in the last hour, try again later"
	var le *store.SendLimitError
	if errors.As(err, &le) {
		wait := max(time.Until(le.RetryAt).Round(time.Minute), time.Minute)
		msg = fmt.Sprintf("Too many messages sent in the last hour (limit %d); try again after %s (in about %s)",
			le.Limit.Max, le.RetryAt.UTC().Format("15:04 MST"), wait)
	}
	return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: msg}
}
