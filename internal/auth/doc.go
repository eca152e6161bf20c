// Package auth owns password authentication for every front end (IMAP,
// SMTP submission, webmail, API): argon2id password hashes in PHC string
// form, a bound on concurrent hash computations, a short-lived cache of
// verified credentials, login throttling per address and per client IP,
// and random session/API tokens.
//
// The package does not know where accounts live. Callers hand an
// [Authenticator] a [LookupFunc]; the store adapter translates its
// "not found" into [ErrUnknownUser].
//
// Usernames are matched case-insensitively: [Authenticator.Authenticate]
// lowercases the address before the lookup, the cache and the throttle, so
// the store must keep login addresses lowercased. (RFC 5321 leaves the
// local part's case to the receiving system; we choose to ignore it, as
// nearly all providers do, so "Alice@Example.com" and "alice@example.com"
// are the same login.)
//
// Errors returned by [Authenticator.Authenticate] carry detail meant for
// the log (why a login failed, for whom). Front ends must map them with
// errors.Is/errors.As to their wire answers and never send err.Error() to
// a client: "unknown user" versus "wrong password" is exactly what an
// attacker wants to learn.
package auth
