package imapserver

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdAuthenticate runs AUTHENTICATE PLAIN (RFC 4616), with the initial
// response inline (SASL-IR, RFC 4959) or after a "+" continuation.
func (s *session) cmdAuthenticate(tag string, a *imapwire.Authenticate) error {
	if !s.tlsOn {
		s.no(tag, imapwire.CodePrivacyRequired, "sign-in needs TLS: use STARTTLS first")
		return nil
	}
	if a.Mechanism != "PLAIN" {
		s.no(tag, imapwire.CodeCannot, "unsupported mechanism; use PLAIN")
		return nil
	}
	resp := a.InitialResponse
	if resp == nil {
		// An empty challenge: "+ " alone (RFC 9051 section 7.5; RFC 4616
		// PLAIN has no server challenge).
		s.wr.Challenge(nil)
		if err := s.flush(); err != nil {
			return err
		}
		line, err := s.rd.ReadLine()
		if err != nil {
			var perr *imapwire.ParseError
			if errors.As(err, &perr) {
				// A response line over the limit: answered as the
				// command reader answers one (TOOBIG, then BYE), and the
				// connection ends, as the rest of the line is unread.
				s.wr.Tagged(tag, imapwire.BAD, imapwire.Code{Name: perr.Code}, perr.Msg)
				s.wr.Untagged(imapwire.BYE, imapwire.Code{}, "cannot continue after this error")
				return errClose
			}
			return err
		}
		resp, err = imapwire.DecodeSASL(line)
		if errors.Is(err, imapwire.ErrSASLCancelled) {
			s.bad(tag, "authentication cancelled")
			return nil
		}
		if err != nil {
			s.bad(tag, "invalid base64 in SASL response")
			return nil
		}
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		// Not a PLAIN message (RFC 4616 section 2: authzid NUL authcid
		// NUL passwd, with an authcid), the empty one of "=" (RFC 4959
		// section 3) included. The command was well-formed, so this is a
		// failed sign-in, not a syntax error: answered, timed and counted
		// toward the throttles as a wrong password for an unknown user is,
		// so that garbage is no free way to probe the server.
		s.login(tag, "", malformedPLAIN)
		return nil
	}
	if len(parts[0]) > 0 && !bytes.EqualFold(parts[0], parts[1]) {
		s.no(tag, imapwire.CodeAuthorizationFailed, "cannot act as another user")
		return nil
	}
	s.login(tag, string(parts[1]), string(parts[2]))
	return nil
}

// malformedPLAIN is the password checked for a malformed PLAIN message:
// one that PLAIN cannot carry (NUL is its separator), so that it matches
// no account, yet not empty, which the Authenticator turns away without
// counting it.
const malformedPLAIN = "\x00"

// login checks a user name and password and moves to the authenticated
// state; LOGIN and AUTHENTICATE end here.
func (s *session) login(tag, username, password string) {
	if !s.tlsOn {
		s.no(tag, imapwire.CodePrivacyRequired, "LOGINDISABLED: use STARTTLS first")
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	cred, err := s.srv.auth.Authenticate(ctx, username, password, s.ip)
	if err == nil {
		var acct store.Account
		acct, err = s.srv.store.AccountByID(ctx, cred.AccountID)
		if err == nil && !acct.Enabled {
			err = auth.ErrInvalidCredentials
		}
		if err == nil {
			s.signIn(acct)
			s.okCode(tag, imapwire.CapabilityCode(s.srv.capabilities(true, true)), "signed in")
			return
		}
	}
	var thr *auth.ThrottledError
	switch {
	case errors.As(err, &thr):
		s.log.Info("IMAP sign-in throttled", "user", username, "retry_after", thr.RetryAfter)
		s.no(tag, imapwire.CodeUnavailable, "too many failed sign-ins; try again later")
	case errors.Is(err, auth.ErrInvalidCredentials):
		s.log.Info("IMAP sign-in failed", "user", username, "err", err)
		s.no(tag, imapwire.CodeAuthenticationFailed, "invalid user name or password")
	default:
		s.log.Error("IMAP sign-in could not be checked", "user", username, "err", err)
		s.no(tag, imapwire.CodeUnavailable, "sign-in is unavailable; try again later")
		return
	}
	// Only for addresses we hold: the record is scoped to their tenant,
	// and guessed names do not fill the log.
	if acct, lerr := s.srv.store.Account(ctx, username); lerr == nil {
		s.logEvent(msglog.LoginFailed, acct.Address, acct.DomainID, "IMAP sign-in failed")
	}
}

// signIn moves the session to the authenticated state as acct. It is
// the one place where a session becomes signed in, whatever the command
// or mechanism that got it there, so that what comes with it happens
// once: the account is added to the session's logger here and nowhere
// else (slog's With does not replace a key, it repeats it: two places
// adding it gave every later line "account" twice).
func (s *session) signIn(acct store.Account) {
	s.account = acct
	s.signedIn.Store(&acct)
	s.state = stateAuth
	// Signed in: APPEND's literals up to APPENDLIMIT.
	s.rd.SetOptions(s.readerOptions())
	s.log = s.log.With("account", acct.Address)
	command := ""
	if s.cmd != nil {
		command = s.cmd.Name
	}
	s.log.Info("IMAP sign-in", "command", command)
	s.startFeed()
	s.logEvent(msglog.Login, acct.Address, acct.DomainID, "IMAP sign-in")
}

// logEvent queues a session event for the message log; a failure is only
// logged, since the sign-in itself is decided. The answer does not wait
// for the record to be durable (msglog.Writer).
func (s *session) logEvent(status store.LogStatus, address string, domainID int64, detail string) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	err := s.srv.msglog.Add(ctx, msglog.Session(time.Now(), status, address, domainID, s.ip, detail))
	if err != nil {
		s.log.Warn("message log", "status", status, "err", err)
	}
}
