package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// state is a connection state (RFC 9051 section 3).
type state int

const (
	stateNotAuth state = iota
	stateAuth
	stateSelected
	stateLogout
)

// session is one client connection. Only its own goroutine reads and
// writes the connection; the change feed reaches it through dirty and
// wake, and Shutdown through interrupt.
type session struct {
	srv        *Server
	raw        net.Conn // the TCP connection
	conn       net.Conn // the current layer: TCP, then TLS
	tlsOn      bool
	ip         string
	log        *slog.Logger
	br         *bufio.Reader
	bw         *bufio.Writer
	rd         *imapwire.Reader
	wr         *imapwire.Writer
	deflate    *flate.Writer // after COMPRESS DEFLATE
	ctx        context.Context
	cancel     context.CancelFunc
	state      state
	account    store.Account
	utf8       bool // mailbox names and strings in UTF-8 (IMAP4rev2 or UTF8=ACCEPT)
	utf8Accept bool // ENABLE UTF8=ACCEPT (RFC 6855)
	rev2       bool
	cond       bool // CONDSTORE enabled (RFC 7162 section 3.1)
	qresync    bool
	sel        *selected
	saved      []uint32 // SEARCHRES result "$", as UIDs (RFC 5182)
	// cmd is the command running, and cmdSaved "$" as it was when it
	// began (what "$" in it means, RFC 5182 section 2.1).
	cmd      *imapwire.Command
	cmdSaved []uint32
	// expungeIssued: the command runs by sequence number while another
	// session's expunges wait to be reported; its plain OK says so.
	expungeIssued bool
	feedStop      func()

	dirty atomic.Bool // the change feed touched the selected mailbox
	// accountStale is set by the change feed when the account itself
	// changed (store.ChangeAccount); accountRead is when the session
	// last read its account (revoke.go).
	accountStale atomic.Bool
	accountRead  time.Time
	// feedModSeq is the highest modseq the feed reported for the selected
	// mailbox since the last sync (MaxUint64: unknown, re-read). Changes
	// the session made itself are already in its view (ownChange), so
	// their events cost no store read.
	feedModSeq atomic.Uint64
	wake       chan struct{} // signalled with dirty, for IDLE
	selectedID atomic.Int64
	// feedCount counts every change of the account the feed passed to
	// noteChange, counted before noteChange looks at selectedID: SELECT
	// compares it around its read to tell whether a change may have
	// passed while it was not yet listening (select.go).
	feedCount atomic.Uint64
	intr      atomic.Bool // Shutdown or end asked the session to end
	endReason atomic.Pointer[string]
	// signedIn is the account as it was at sign-in, for the sweep of
	// changed accounts (revoke.go); nil before sign-in.
	signedIn atomic.Pointer[store.Account]

	opened time.Time
	stats  struct{ commands, no, bad int } // for the closing log line
}

// selected is the state of the selected mailbox (RFC 9051 section 3.3).
type selected struct {
	mb       store.Mailbox
	key      mailboxKey // what the server's per-mailbox state is kept under
	readOnly bool
	view     uidView
	modseq   uint64 // changes up to here are reflected in view
	// written is the modseq of the session's own last write to the
	// mailbox: no read of the session may come from a view or snapshot
	// older than that (issue 11 part 2).
	written  uint64
	expunged []uint32 // UIDs gone from the store, not yet reported
	recent   uidRanges
	keywords keywordSet // announced in FLAGS (see keywords.go)
	// live are the results kept up to date (RFC 5267 section 4.3,
	// searchupdate.go); they end with the selection.
	live []*liveResult
	// gone: the mailbox was deleted (by this session, another one or
	// another process). The session ends with BYE before it could answer
	// anything about it.
	gone bool
}

func newSession(srv *Server, c net.Conn, ip string, implicitTLS bool) *session {
	// The connection counts its bytes; raw stays the bare TCP
	// connection for deadlines.
	cc := &countingConn{Conn: c, in: srv.metrics.bytes.WithLabelValues("in"), out: srv.metrics.bytes.WithLabelValues("out"),
		writeTimeout: srv.cfg.WriteTimeout}
	s := &session{srv: srv, raw: c, conn: cc, ip: ip, wake: make(chan struct{}, 1), opened: time.Now()}
	s.log = srv.log.With("cid", srv.nextID.Add(1), "remote", ip)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if implicitTLS {
		s.conn = tls.Server(cc, srv.cfg.TLS)
		s.tlsOn = true
	}
	s.setIO(s.conn, s.conn)
	return s
}

// setIO (re)builds the buffered reader and writer over r and w, keeping
// the UTF-8 mode: after STARTTLS and COMPRESS.
func (s *session) setIO(r io.Reader, w io.Writer) {
	// Small buffers: most connections sit in IDLE. The writer holds one
	// TLS record's worth; longer responses stream through it.
	s.br = bufio.NewReaderSize(r, 4<<10)
	s.bw = bufio.NewWriterSize(w, 16<<10)
	s.rd = imapwire.NewReader(s.br, s.readerOptions())
	s.wr = imapwire.NewWriter(s.bw)
	s.rd.SetUTF8(s.utf8)
	s.wr.SetUTF8(s.utf8)
}

// preAuthLiteral bounds each literal, and so what a refused literal may
// make the server read and discard, before sign-in: only LOGIN and
// AUTHENTICATE run then, and they take a user name and a password.
const preAuthLiteral = 64 << 10

// readerOptions are the command reader's limits and hooks in the
// session's state: before sign-in literals are small; in every state a
// command not allowed is refused before its literals are read (lookup),
// and every literal takes its size from the server-wide budget first
// (issue 11 part 4).
func (s *session) readerOptions() imapwire.Options {
	o := imapwire.Options{
		MaxLine:     s.srv.cfg.MaxLine,
		MaxLiteral:  s.srv.cfg.MaxLiteral,
		Commands:    s.lookup,
		MultiAppend: true,
		Continue: func(string) error {
			s.wr.Continuation("ready for literal")
			return s.flush()
		},
		Budget: heldLiterals{s.srv.literals, s.holder()},
		// Large APPEND literals go to a spool as they arrive, not into
		// memory (appendspool.go).
		Spool:     s.spoolLiteral,
		SpoolFrom: spoolFrom,
	}
	o.MaxCommand = maxCommand(s.srv.cfg)
	if s.state == stateNotAuth {
		o.MaxLiteral = preAuthLiteral
		o.MaxStringLiteral = preAuthLiteral
		o.MaxCommand = 4 * preAuthLiteral
		// LITERAL-, as announced before sign-in (commands.go).
		o.MaxNonSyncLiteral = 4096
	}
	return o
}

// maxCommand bounds a signed-in session's command, lines and literals
// together: its largest message and a megabyte.
func maxCommand(cfg Config) int64 { return cfg.MaxLiteral + 1<<20 }

// holder is whose share of the server's budgets the session's literals
// count against: its account, or no one before sign-in.
func (s *session) holder() string {
	if s.state == stateNotAuth {
		return ""
	}
	return s.account.Address
}

// interrupt makes a session waiting for a command or idling end with BYE.
func (s *session) interrupt() {
	s.intr.Store(true)
	s.raw.SetReadDeadline(time.Now())
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flush sends the buffered responses.
func (s *session) flush() error {
	if err := s.wr.Flush(); err != nil {
		return err
	}
	if s.deflate != nil {
		return s.deflate.Flush()
	}
	return nil
}

// errClose ends the session after the response is flushed.
var errClose = errors.New("close connection")

func (s *session) run() {
	s.srv.metrics.sessions.Inc()
	s.log.Info("IMAP connection opened", "tls", s.tlsOn)
	defer func() {
		s.srv.metrics.sessions.Dec()
		s.log.Info("IMAP connection closed", "duration", time.Since(s.opened).Round(time.Millisecond),
			"commands", s.stats.commands, "no", s.stats.no, "bad", s.stats.bad)
	}()
	defer func() {
		if v := recover(); v != nil {
			s.srv.panics.Add(1)
			s.log.Error("panic in IMAP session", "panic", v, "stack", string(debug.Stack()))
			s.wr.Untagged(imapwire.BYE, imapwire.Code{Name: imapwire.CodeServerBug}, "internal server error")
			s.flush()
		}
		s.closeFeed()
		if s.sel != nil {
			s.srv.flags.release(s.sel.key)
		}
		s.cancel()
		if s.state == stateLogout {
			linger(s.conn)
		}
		s.conn.Close()
	}()
	if tc, ok := s.conn.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.log.Debug("TLS handshake failed", "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
	}
	s.wr.Untagged(imapwire.OK, imapwire.CapabilityCode(s.srv.capabilities(s.tlsOn, false)), "xtramail IMAP ready")
	if s.flush() != nil {
		return
	}
	for s.state != stateLogout {
		if err := s.next(); err != nil {
			if !errors.Is(err, errClose) && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("session ends", "err", err)
			}
			return
		}
	}
}

// Bounds of linger.
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

// linger ends the sending side of a connection whose session logged out
// and reads what the client still sends, for a moment, before it is
// closed. Closed with input unread, the connection would be reset, and
// a reset can destroy the BYE and OK the client has not read yet: that
// happens to a client whose compressed LOGOUT (COMPRESS DEFLATE) comes in
// two writes, the command and then the flush that ends its block, as
// Go's flate writer sends it. The same as nginx's lingering close.
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c, lingerBytes)
}

// next reads, runs and answers one command.
func (s *session) next() error {
	timeout := s.srv.cfg.UnauthTimeout
	if s.state != stateNotAuth {
		timeout = s.srv.cfg.AuthTimeout
	}
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	if s.intr.Load() || s.srv.shuttingDown() {
		return s.bye(s.byeText())
	}
	cmd, err := s.rd.ReadCommand()
	if err != nil {
		var perr *imapwire.ParseError
		if errors.As(err, &perr) {
			if perr.No {
				// A well-formed command naming a mailbox that cannot
				// exist (RFC 9051 section 7.1.2: NO, not BAD), or one
				// whose literal is over the memory budget for now
				// (UNAVAILABLE). Its state was checked before its
				// arguments were read (lookup).
				code := perr.Code
				if code == "" {
					code = imapwire.CodeCannot
				}
				s.no(perr.Tag, code, perr.Msg)
				return s.flush()
			}
			code := imapwire.Code{Name: perr.Code}
			s.log.Warn("IMAP protocol error", "tag", perr.Tag, "err", perr.Msg, "fatal", perr.Fatal)
			s.stats.bad++
			s.srv.metrics.commands.WithLabelValues("", "bad").Inc()
			s.wr.Tagged(perr.Tag, imapwire.BAD, code, perr.Msg)
			if perr.Fatal {
				s.wr.Untagged(imapwire.BYE, imapwire.Code{}, "cannot continue after this error")
				s.flush()
				return errClose
			}
			return s.flush()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if s.intr.Load() || s.srv.shuttingDown() {
				return s.bye(s.byeText())
			}
			return s.bye("autologout: idle for too long")
		}
		return err
	}
	if s.state != stateNotAuth {
		// The account may have been disabled, removed or given a new
		// password since sign-in, by this process or another (revoke.go).
		if reason := s.recheckAccount(); reason != "" {
			cmd.ReleaseLiterals()
			closeLiterals(cmd)
			s.log.Info("IMAP session ended: account changed", "reason", reason)
			return s.bye(reason)
		}
	}
	err = func() error {
		// The literals' memory is held until the command is done with
		// them, and given back before the answer goes out.
		defer cmd.ReleaseLiterals()
		defer closeLiterals(cmd)
		return s.dispatch(cmd)
	}()
	if err != nil {
		if errors.Is(err, errClose) {
			s.flush()
		}
		return err
	}
	if s.sel != nil && s.sel.gone && s.state != stateLogout {
		// Found deleted while the command ran (NOOP, IDLE, its own
		// DELETE): its answer is given, the session ends.
		return s.byeGone()
	}
	return s.flush()
}

// byeGone ends a session whose selected mailbox was deleted: no command
// can be answered about it, and its name may already belong to a new
// mailbox (RFC 9051 section 7.1.5 allows BYE at any time).
func (s *session) byeGone() error {
	s.log.Info("selected mailbox deleted; ending session", "mailbox", s.sel.mb.Name)
	return s.bye("selected mailbox was deleted")
}

func (s *session) bye(text string) error {
	s.wr.Untagged(imapwire.BYE, imapwire.Code{}, text)
	s.flush()
	return errClose
}

// Command handlers answer with these and return nil; they return an
// error only when the connection must close.
func (s *session) ok(tag, text string) { s.okCode(tag, imapwire.Code{}, text) }

// okCode writes a tagged OK; one without a code of its own says when
// expunges wait to be reported (session.expungeIssued).
func (s *session) okCode(tag string, code imapwire.Code, text string) {
	if code.Name == "" && s.expungeIssued {
		code.Name = imapwire.CodeExpungeIssued
	}
	s.wr.Tagged(tag, imapwire.OK, code, text)
}
func (s *session) no(tag string, code imapwire.CodeName, text string) {
	s.wr.Tagged(tag, imapwire.NO, imapwire.Code{Name: code}, text)
}
func (s *session) bad(tag, text string) { s.wr.Tagged(tag, imapwire.BAD, imapwire.Code{}, text) }

// userText is the part of a store error that is about the user's input,
// without the kind's own words.
func userText(err error) string {
	t := err.Error()
	for _, kind := range []error{store.ErrInvalid, store.ErrNotEmpty} {
		t = strings.TrimSuffix(t, ": "+kind.Error())
	}
	if len(t) > 200 {
		t = t[:200]
	}
	return t
}

// startFeed subscribes to the account's change feed: a change to the
// selected mailbox marks the session dirty, and the session then re-reads
// what changed (sync). The store calls noteChange before it acknowledges
// the write, so a command that begins after another session's write was
// acknowledged always sees it.
func (s *session) startFeed() {
	s.feedStop = s.srv.store.Subscribe(s.account.ID, s.noteChange)
}

// noteChange runs on the store's goroutine: atomics and a non-blocking
// wake only.
func (s *session) noteChange(c store.Change) {
	s.feedCount.Add(1)
	if c.Kind == store.ChangeAccount {
		s.accountStale.Store(true)
		// Sessions waiting for a command or in IDLE are not running
		// one: check now, off the store's goroutine.
		go s.srv.checkSessions(c.AccountID)
		return
	}
	sel := s.selectedID.Load()
	if sel == 0 || c.MailboxID != sel {
		return
	}
	if c.ModSeq == 0 {
		s.feedModSeq.Store(math.MaxUint64)
	} else {
		for {
			old := s.feedModSeq.Load()
			if old >= c.ModSeq || s.feedModSeq.CompareAndSwap(old, c.ModSeq) {
				break
			}
		}
	}
	s.dirty.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) closeFeed() {
	if s.feedStop != nil {
		s.feedStop()
	}
}
