package smtpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// Answers every SMTP listener gives alike (RFC 5321 4.2, enhanced codes
// from RFC 3463). The wire gets plain words; the detail goes to the log
// where the error is handled.
var (
	// ErrTemporary: a local problem that a retry may not meet (RFC
	// 3463 4.3.0, "other or undefined mail system status").
	ErrTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	// ErrStorageFull: RFC 3463 4.3.1 "mail system full"; 452 is
	// "insufficient system storage" (RFC 5321 4.2.3).
	ErrStorageFull = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	// ErrAuthFailed: RFC 4954 6, 535 5.7.8.
	ErrAuthFailed = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	// ErrAuthThrottled: RFC 4954 6, 454 4.7.0 "temporary authentication
	// failure".
	ErrAuthThrottled = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many failed logins, try again later"}
	// ErrMailboxUnavailable: the address is not (or no longer) served
	// here: RFC 3463 5.1.1 "bad destination mailbox address".
	ErrMailboxUnavailable = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	// ErrDisabled: the account is disabled: RFC 3463 5.2.1 "mailbox
	// disabled, not accepting messages".
	ErrDisabled = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 2, 1}, Message: "Mailbox disabled"}
	// ErrBadSyntax: an address or parameter the store refused as
	// invalid: RFC 3463 5.5.2 "syntax error".
	ErrBadSyntax = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Syntax error in parameters"}
)

// Error maps an error from the store, the authenticator or the context
// below a listener to the SMTP answer, in one place for capture and
// submission: each listener first maps its own error kinds (submission's
// ErrSpoofed...), then calls Error for the rest. An *smtp.SMTPError is
// answered as it is; anything not known is a temporary local problem, so
// that the client retries rather than losing the message.
func Error(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	var thr *auth.ThrottledError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrStorageFull):
		return ErrStorageFull
	case errors.As(err, &thr), errors.Is(err, auth.ErrThrottled):
		return ErrAuthThrottled
	case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrUnknownUser):
		return ErrAuthFailed
	case errors.Is(err, store.ErrDisabled):
		return ErrDisabled
	case errors.Is(err, store.ErrNotFound):
		return ErrMailboxUnavailable
	case errors.Is(err, store.ErrInvalid):
		return ErrBadSyntax
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ErrTemporary
	default:
		return ErrTemporary
	}
}

// Temporary reports whether a reply is a 4xx: the caller logs what led to
// it at error level (a local fault), a 5xx at info (the client's).
func Temporary(e *smtp.SMTPError) bool { return e != nil && e.Code >= 400 && e.Code < 500 }

// ReplyText is the code and enhanced code of a reply, for logs and the
// message log ("452 4.3.1").
func ReplyText(e *smtp.SMTPError) string {
	return fmt.Sprintf("%d %d.%d.%d", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2])
}
