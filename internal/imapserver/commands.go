package imapserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// command is everything the server knows about one IMAP command: adding a
// command is adding a row to commandTable (its argument type and parser
// live in imapwire, its handler in a file named for it).
type command struct {
	name string
	// states are the connection states the command may run in (RFC 9051
	// section 3). A command outside them is refused before its arguments
	// are read, so a literal is never read for it.
	states stateSet
	// uid is set for commands with a UID form (RFC 9051 section 6.4.9).
	uid bool
	// expunges says whether EXPUNGE responses for other sessions'
	// expunges may be sent before the command runs.
	expunges expungePolicy
	// parse reads the arguments into one of imapwire's Args types.
	parse imapwire.ParseFunc
	// handle runs the command. It returns nil once it has answered, or
	// has nothing more to say than "OK <name> completed"; an error is
	// answered by answer, the one place mapping errors to the wire.
	handle func(s *session, c *imapwire.Command) error
	// announce lists the capabilities that announce the command (and its
	// extensions), given whether TLS is on and the session signed in.
	announce func(srv *Server, tlsOn, authed bool) []string
}

// stateSet is a set of connection states.
type stateSet uint8

func (set stateSet) has(st state) bool { return set&(1<<st) != 0 }

const (
	notAuthOnly  stateSet = 1 << stateNotAuth
	authOnly     stateSet = 1 << stateAuth
	selectedOnly stateSet = 1 << stateSelected
	authed                = authOnly | selectedOnly
	anyState              = notAuthOnly | authed
)

// expungePolicy says what sync runs before a command in the selected
// state.
type expungePolicy uint8

const (
	// expungeBefore: pending expunges are reported before the command.
	expungeBefore expungePolicy = iota
	// expungeIfUID: by sequence number the command names messages, which
	// an EXPUNGE response would renumber (RFC 9051 section 7.5.1): other
	// changes are reported, expunges only before the UID form.
	expungeIfUID
	// expungeSelf: the command syncs itself (NOOP, IDLE, SELECT, CLOSE...).
	expungeSelf
)

// announceAlways announces caps whatever the connection's state.
func announceAlways(caps ...string) func(*Server, bool, bool) []string {
	return func(*Server, bool, bool) []string { return caps }
}

// commandTable returns the server's commands, in the order their
// capabilities are announced. It is built per Server (no package-level
// state), once.
func commandTable() []*command {
	return []*command{
		{name: "CAPABILITY", states: anyState, expunges: expungeBefore, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error {
				s.wr.Capability(s.srv.capabilities(s.tlsOn, s.state != stateNotAuth))
				return nil
			},
			announce: func(srv *Server, tlsOn, authed bool) []string {
				// Extensions of the protocol as a whole rather than of one
				// command. Non-synchronising literals: before sign-in each
				// literal is bounded (64 KiB, preAuthLiteral), so the server
				// promises only LITERAL- (at most 4096 bytes, RFC 7888
				// section 4); once signed in any literal within the
				// configured limit, LITERAL+ (section 3).
				literal := "LITERAL-"
				if authed {
					literal = "LITERAL+"
				}
				return []string{literal, "BINARY", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT"}
			}},
		{name: "NOOP", states: anyState, expunges: expungeSelf, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error { s.sync(true); return nil }},
		{name: "CHECK", states: selectedOnly, expunges: expungeSelf, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error { s.sync(true); return nil }},
		{name: "LOGOUT", states: anyState, expunges: expungeSelf, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error {
				s.wr.Untagged(imapwire.BYE, imapwire.Code{}, "logging out")
				s.state = stateLogout
				return nil
			}},
		{name: "ID", states: anyState, parse: imapwire.ParseID, announce: announceAlways("ID"),
			handle: func(s *session, c *imapwire.Command) error {
				// RFC 2971: say who we are; the client's fields are only logged.
				s.wr.Raw(`* ID ("name" "xtramail")` + "\r\n")
				return nil
			}},
		{name: "STARTTLS", states: notAuthOnly, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error { return closeOn(s.cmdStartTLS(c.Tag)) },
			announce: func(srv *Server, tlsOn, authed bool) []string {
				if !tlsOn && srv.cfg.TLS != nil {
					return []string{"STARTTLS"}
				}
				return nil
			}},
		// COMPRESS only once signed in (RFC 4978 section 5, command-auth):
		// before, an anonymous client would make the server inflate and
		// deflate for it.
		{name: "COMPRESS", states: authed, parse: imapwire.ParseCompress, announce: announceAlways("COMPRESS=DEFLATE"),
			handle: func(s *session, c *imapwire.Command) error {
				return closeOn(s.cmdCompress(c.Tag, c.Args.(*imapwire.Compress)))
			}},
		{name: "LOGIN", states: notAuthOnly, parse: imapwire.ParseLogin,
			handle: func(s *session, c *imapwire.Command) error {
				a := c.Args.(*imapwire.Login)
				s.login(c.Tag, a.Username, a.Password)
				return nil
			},
			announce: func(srv *Server, tlsOn, authed bool) []string {
				if !tlsOn {
					return []string{"LOGINDISABLED"} // RFC 9051 section 6.2.3
				}
				return nil
			}},
		{name: "AUTHENTICATE", states: notAuthOnly, parse: imapwire.ParseAuthenticate,
			handle: func(s *session, c *imapwire.Command) error {
				return closeOn(s.cmdAuthenticate(c.Tag, c.Args.(*imapwire.Authenticate)))
			},
			announce: func(srv *Server, tlsOn, authed bool) []string {
				if tlsOn && !authed {
					return []string{"AUTH=PLAIN", "SASL-IR"}
				}
				return nil
			}},
		// ENABLE only before a mailbox is selected (RFC 5161 section 3.1).
		{name: "ENABLE", states: authOnly, parse: imapwire.ParseEnable, announce: announceAlways("ENABLE"),
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdEnable(c.Tag, c.Args.(*imapwire.Enable))
			}},
		{name: "NAMESPACE", states: authed, parse: imapwire.ParseNone, announce: announceAlways("NAMESPACE"),
			handle: func(s *session, c *imapwire.Command) error {
				s.wr.Raw(`* NAMESPACE (("" "/")) NIL NIL` + "\r\n")
				return nil
			}},
		{name: "SELECT", states: authed, expunges: expungeSelf, parse: imapwire.ParseSelect,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdSelect(c.Tag, false, c.Args.(*imapwire.Select))
			}},
		{name: "EXAMINE", states: authed, expunges: expungeSelf, parse: imapwire.ParseSelect,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdSelect(c.Tag, true, c.Args.(*imapwire.Select))
			}},
		{name: "CLOSE", states: selectedOnly, expunges: expungeSelf, parse: imapwire.ParseNone,
			handle: func(s *session, c *imapwire.Command) error { return s.cmdClose(c.Tag, true) }},
		{name: "UNSELECT", states: selectedOnly, expunges: expungeSelf, parse: imapwire.ParseNone, announce: announceAlways("UNSELECT"),
			handle: func(s *session, c *imapwire.Command) error { return s.cmdClose(c.Tag, false) }},
		{name: "CREATE", states: authed, parse: imapwire.ParseCreate,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdCreate(c.Tag, c.Args.(*imapwire.Create))
			}},
		{name: "DELETE", states: authed, parse: imapwire.ParseMailbox,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdDelete(c.Tag, c.Args.(*imapwire.MailboxArgs).Mailbox)
			}},
		{name: "RENAME", states: authed, parse: imapwire.ParseRename,
			handle: func(s *session, c *imapwire.Command) error {
				a := c.Args.(*imapwire.Rename)
				return s.cmdRename(c.Tag, a.From, a.To)
			}},
		{name: "SUBSCRIBE", states: authed, parse: imapwire.ParseMailbox,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdSubscribe(c.Tag, c.Args.(*imapwire.MailboxArgs).Mailbox, true)
			}},
		{name: "UNSUBSCRIBE", states: authed, parse: imapwire.ParseMailbox,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdSubscribe(c.Tag, c.Args.(*imapwire.MailboxArgs).Mailbox, false)
			}},
		{name: "LIST", states: authed, parse: imapwire.ParseList,
			announce: announceAlways("SPECIAL-USE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS"),
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdList(c.Tag, false, c.Args.(*imapwire.List))
			}},
		{name: "LSUB", states: authed, parse: imapwire.ParseLSub,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdList(c.Tag, true, c.Args.(*imapwire.List))
			}},
		{name: "STATUS", states: authed, parse: imapwire.ParseStatus, announce: announceAlways("STATUS=SIZE"),
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdStatus(c.Tag, c.Args.(*imapwire.Status))
			}},
		{name: "APPEND", states: authed, parse: imapwire.ParseAppend, handle: (*session).cmdAppendAny,
			announce: func(srv *Server, tlsOn, authed bool) []string {
				return []string{"APPENDLIMIT=" + strconv.FormatInt(srv.cfg.MaxLiteral, 10), "MULTIAPPEND"} // RFC 7889, RFC 3502
			}},
		{name: "IDLE", states: authed, expunges: expungeSelf, parse: imapwire.ParseNone, announce: announceAlways("IDLE"),
			handle: func(s *session, c *imapwire.Command) error {
				s.srv.metrics.idle.Inc()
				defer s.srv.metrics.idle.Dec()
				return closeOn(s.cmdIdle(c.Tag))
			}},
		{name: "EXPUNGE", states: selectedOnly, uid: true, parse: imapwire.ParseExpunge, announce: announceAlways("UIDPLUS"),
			handle: func(s *session, c *imapwire.Command) error {
				var uids *imapwire.NumSet
				if c.UID {
					uids = &c.Args.(*imapwire.Expunge).UIDs
				}
				return s.cmdExpunge(c.Tag, uids)
			}},
		{name: "FETCH", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseFetch,
			handle: func(s *session, c *imapwire.Command) error {
				return closeOn(s.cmdFetch(c.Tag, c.UID, c.Args.(*imapwire.Fetch)))
			}},
		{name: "STORE", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseStore,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdStore(c.Tag, c.UID, c.Args.(*imapwire.Store))
			}},
		{name: "COPY", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseCopy,
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdCopy(c.Tag, c.UID, false, c.Args.(*imapwire.Copy))
			}},
		{name: "MOVE", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseCopy, announce: announceAlways("MOVE"),
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdCopy(c.Tag, c.UID, true, c.Args.(*imapwire.Copy))
			}},
		{name: "SEARCH", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseSearch,
			announce: announceAlways("ESEARCH", "SEARCHRES", "CONTEXT=SEARCH", "PARTIAL"),
			handle: func(s *session, c *imapwire.Command) error {
				return s.cmdSearch(c.Tag, c.UID, c.Args.(*imapwire.Search))
			}},
		{name: "SORT", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseSort,
			announce: announceAlways("SORT", "SORT=DISPLAY", "ESORT", "CONTEXT=SORT"), handle: (*session).cmdSort},
		// RFC 5267 section 4.3.5. The results it names were kept by
		// SEARCH and SORT with RETURN (UPDATE) (searchupdate.go).
		{name: "CANCELUPDATE", states: selectedOnly, parse: imapwire.ParseCancelUpdate, handle: (*session).cmdCancelUpdate},
		{name: "GETQUOTAROOT", states: authed, parse: imapwire.ParseGetQuotaRoot, handle: (*session).cmdGetQuotaRoot,
			announce: func(srv *Server, tlsOn, authed bool) []string {
				if srv.cfg.QuotaStorage > 0 || slices.ContainsFunc(slices.Collect(maps.Values(srv.cfg.QuotaByDomain)), func(l int64) bool { return l > 0 }) {
					return []string{"QUOTA", "QUOTA=RES-STORAGE"} // RFC 9208 section 3.1.1
				}
				return nil
			}},
		{name: "GETQUOTA", states: authed, parse: imapwire.ParseGetQuota, handle: (*session).cmdGetQuota},
		{name: "THREAD", states: selectedOnly, uid: true, expunges: expungeIfUID, parse: imapwire.ParseThread,
			announce: announceAlways("THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"), handle: (*session).cmdThread},
	}
}

// commandsByName indexes the table.
func commandsByName(list []*command) map[string]*command {
	m := make(map[string]*command, len(list))
	for _, c := range list {
		if m[c.name] != nil {
			panic("imapserver: command " + c.name + " in the table twice")
		}
		m[c.name] = c
	}
	return m
}

// lookup is the session's imapwire.Options.Commands: it finds the
// command's parser, and refuses a command not allowed in the current
// state before its arguments (and any literal) are read.
func (s *session) lookup(name string, uid bool) (imapwire.ParseFunc, error) {
	c := s.srv.cmds[name]
	if c == nil || (uid && !c.uid) {
		return nil, nil
	}
	if !c.states.has(s.state) {
		return nil, errors.New(notAllowedText(name, s.state))
	}
	return c.parse, nil
}

// notAllowedText says why a command cannot run now, in words a person
// reading a transcript understands.
func notAllowedText(name string, st state) string {
	switch {
	case st == stateNotAuth:
		return "command not allowed in this state: sign in first (LOGIN or AUTHENTICATE)"
	case name == "LOGIN" || name == "AUTHENTICATE" || name == "STARTTLS":
		return "command not allowed in this state: already signed in"
	case name == "ENABLE":
		return "command not allowed in this state: ENABLE must come before SELECT (RFC 5161); UNSELECT first"
	case st == stateAuth:
		return "command not allowed in this state: SELECT a mailbox first"
	}
	return "command not allowed in this state"
}

// respError is a handler's tagged NO or BAD, with an optional response
// code.
type respError struct {
	cond imapwire.Cond
	code imapwire.Code
	text string
}

func (e *respError) Error() string { return string(e.cond) + " " + e.text }

// errNo is a handler's NO [code] text.
func errNo(code imapwire.CodeName, text string) error {
	return &respError{cond: imapwire.NO, code: imapwire.Code{Name: code}, text: text}
}

// errBad is a handler's BAD text: arguments that parse but make no sense.
func errBad(text string) error { return &respError{cond: imapwire.BAD, text: text} }

// targetError marks a store error about the target mailbox of APPEND,
// COPY or MOVE: a missing one is TRYCREATE (RFC 9051 section 6.3.12).
type targetError struct{ err error }

func (e targetError) Error() string { return e.err.Error() }
func (e targetError) Unwrap() error { return e.err }

// closeError is a handler's request to end the connection: write errors,
// a failed TLS handshake, errClose.
type closeError struct{ err error }

func (e closeError) Error() string { return e.err.Error() }
func (e closeError) Unwrap() error { return e.err }

// closeOn turns the error of a handler that answers for itself into a
// request to close the connection.
func closeOn(err error) error {
	if err == nil {
		return nil
	}
	return closeError{err}
}

// answer completes a command: the one place where a handler's error
// becomes the wire answer. A nil error after a handler that wrote no
// tagged response is "OK <name> completed". It returns an error only when
// the connection must close.
func (s *session) answer(c *imapwire.Command, answered bool, err error) error {
	var ce closeError
	switch {
	case err == nil:
		if !answered {
			s.ok(c.Tag, c.Name+" completed")
		}
		return nil
	case errors.As(err, &ce):
		return ce.err
	}
	s.answerError(c.Tag, err)
	return nil
}

// answerError writes the tagged NO or BAD for a command's error.
func (s *session) answerError(tag string, err error) {
	var (
		re *respError
		te targetError
	)
	switch {
	case errors.As(err, &re):
		s.wr.Tagged(tag, re.cond, re.code, re.text)
	case errors.As(err, &te):
		s.storeError(tag, te.err, true)
	default:
		s.storeError(tag, err, false)
	}
}

// storeError answers a failed store call: the one place that maps store
// error kinds to IMAP response codes. For a target mailbox of APPEND,
// COPY or MOVE a missing mailbox is TRYCREATE (RFC 9051 section 6.3.12).
func (s *session) storeError(tag string, err error, target bool) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		if s.sel != nil {
			// Perhaps the selected mailbox itself is gone (deleted by
			// another process, with no event here): the next command's
			// sync finds out.
			s.markDirty()
		}
		if target {
			s.no(tag, imapwire.CodeTryCreate, "no such mailbox")
		} else {
			s.no(tag, imapwire.CodeNonExistent, "no such mailbox")
		}
	case errors.Is(err, store.ErrExists):
		s.no(tag, imapwire.CodeAlreadyExists, "mailbox already exists")
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotEmpty):
		s.no(tag, imapwire.CodeCannot, userText(err))
	case errors.Is(err, store.ErrLimit):
		s.no(tag, imapwire.CodeLimit, userText(err))
	case errors.Is(err, store.ErrStorageFull):
		// A full disk is temporary for the client: it keeps the message
		// and tries again (RFC 5530 UNAVAILABLE), rather than reporting
		// a server bug. Logged once per episode (storageFull).
		s.srv.storageFull(err)
		s.no(tag, imapwire.CodeUnavailable, "the server's storage is full; try again later")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		s.no(tag, imapwire.CodeUnavailable, "try again later")
	default:
		s.log.Error("IMAP command failed", "tag", tag, "err", err)
		s.no(tag, imapwire.CodeServerBug, "internal server error")
	}
}

// dispatch runs one command read by the Reader.
func (s *session) dispatch(cmd *imapwire.Command) error {
	c := s.srv.cmds[cmd.Name]
	if c == nil || (cmd.UID && !c.uid) {
		// The Reader asked lookup, so this does not happen.
		s.bad(cmd.Tag, "unknown command")
		return nil
	}
	if !c.states.has(s.state) {
		s.bad(cmd.Tag, notAllowedText(cmd.Name, s.state))
		return nil
	}
	if s.srv.shuttingDown() && s.state != stateNotAuth {
		// Finish this command; the BYE comes before the next one.
		s.intr.Store(true)
	}
	if s.state == stateSelected {
		switch c.expunges {
		case expungeBefore:
			s.sync(true)
		case expungeIfUID:
			s.sync(cmd.UID)
			// Expunges that this command may not report (RFC 9051
			// section 7.5.1) are flagged on its OK instead, so that the
			// client knows why messages of its set gave nothing and
			// issues a NOOP (RFC 5530 EXPUNGEISSUED).
			s.expungeIssued = !cmd.UID && s.sel != nil && len(s.sel.expunged) > 0
		}
		if s.sel != nil && s.sel.gone && cmd.Name != "LOGOUT" {
			return s.byeGone()
		}
	}
	debug := s.log.Enabled(s.ctx, slog.LevelDebug)
	if debug {
		s.log.Debug("IMAP command", "line", transcript(cmd))
	}
	start := time.Now()
	wr := s.wr
	before, _ := wr.TaggedCount()
	s.cmd, s.cmdSaved = cmd, s.saved
	err := c.handle(s, cmd)
	s.cmd = nil
	after, cond := wr.TaggedCount()
	// STARTTLS and COMPRESS answer, then replace the writer.
	answered := after != before || s.wr != wr
	rerr := s.answer(cmd, answered, err)
	s.expungeIssued = false
	if rerr != nil {
		return rerr
	}
	if n, last := s.wr.TaggedCount(); s.wr == wr && n != after {
		cond = last
	} else if s.wr != wr {
		cond = imapwire.OK
	}
	s.observe(c, cmd, cond, time.Since(start), debug)
	return nil
}

// observe counts a completed command in the metrics and the session's
// stats, and logs its result at debug level.
func (s *session) observe(c *command, cmd *imapwire.Command, cond imapwire.Cond, d time.Duration, debug bool) {
	result := strings.ToLower(string(cond))
	s.stats.commands++
	switch cond {
	case imapwire.NO:
		s.stats.no++
	case imapwire.BAD:
		s.stats.bad++
	}
	m := s.srv.metrics
	m.commands.WithLabelValues(c.name, result).Inc()
	if c.name != "IDLE" {
		m.latency.WithLabelValues(c.name).Observe(d.Seconds())
	}
	if debug {
		s.log.Debug("IMAP response", "tag", cmd.Tag, "result", result, "duration", d)
	}
}

// transcript is a command as the debug log shows it: passwords and SASL
// data redacted (RFC 9051 section 11.2 warns of both), message literals
// replaced by their size, long lines cut.
func transcript(cmd *imapwire.Command) string {
	prefix := cmd.Tag + " "
	if cmd.UID {
		prefix += "UID "
	}
	prefix += cmd.Name
	switch a := cmd.Args.(type) {
	case *imapwire.Login:
		return prefix + " " + a.Username + " <redacted>"
	case *imapwire.Authenticate:
		if a.InitialResponse != nil {
			return prefix + " " + a.Mechanism + " <redacted>"
		}
		return prefix + " " + a.Mechanism
	case *imapwire.Append:
		n := 0
		for _, m := range a.Messages {
			n += int(appendSize(m))
		}
		return fmt.Sprintf("%s %q <%d message(s), %d bytes>", prefix, a.Mailbox, len(a.Messages), n)
	}
	line := cmd.String()
	if len(line) > 300 {
		line = line[:300] + "..."
	}
	return line
}

// capabilities lists what the server advertises, from the command table:
// only what fully works.
func (s *Server) capabilities(tlsOn, authed bool) []string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	for _, c := range s.cmdList {
		if c.announce != nil {
			caps = append(caps, c.announce(s, tlsOn, authed)...)
		}
	}
	return caps
}

// errReadOnly answers a command that would change an EXAMINEd mailbox
// (RFC 9051 section 6.3.3: no change to its permanent state). RFC 9051
// section 7.1 names the code: the mailbox is selected read-only. A NO,
// where Dovecot answers "OK Store ignored": an OK to a STORE that stored
// nothing leaves the client showing flags the server never kept.
var errReadOnly = errNo(imapwire.CodeReadOnly, "mailbox is read-only (EXAMINE)")
