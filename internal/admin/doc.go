// Package admin owns xtramail's administrative operations: the tenant tree
// (resellers, customers, domains, addresses), administrators and their
// roles, API tokens, TOTP second factors, password policy, bulk import,
// one-time sign-in links, restore and redelivery of messages, the message
// log and queue views, the audit log, dashboard figures and the usage
// report. The console (internal/web/console), the REST API
// (internal/web/api) and the command line (cmd/xtramail) all call it and
// never the store's administrative methods themselves, so that each
// permission check and audit record exists once.
//
// # Using it
//
// Build one Service per process with New(store, Options{...}); it is safe
// for concurrent use. Every operation takes a Principal, who is asking:
//
//   - CLI() for the command line: the provider's whole tree, audited as
//     actor "cli";
//   - a signed-in administrator: SignIn (email + password) returns a
//     Principal and whether a second factor is still needed, with the
//     id of the pending sign-in that SignInTOTP or SignInEnrol ends (kept
//     in the store: the steps may reach different nodes); a web session keeps the admin's id and rebuilds the Principal on each
//     request with PrincipalByID, which fails once the admin is disabled
//     or removed;
//   - an API token: AuthenticateToken(token) returns the Principal of the
//     token's administrator (ErrUnauthenticated when unknown, revoked or
//     expired, or its admin disabled).
//
// Set Principal.RemoteIP (WithIP) so that audit records carry it.
//
// # Roles and scope
//
// A provider admin sees the whole tree; a reseller admin their reseller and
// its customers; a customer admin their customer. What each role may do
// is the table in permissions.go (for example: only a provider creates
// resellers, a customer admin cannot add or remove domains). An operation
// the role may not do is ErrForbidden (HTTP 403). An object outside the
// principal's subtree is store.ErrNotFound (HTTP 404), exactly as a missing
// one, and the attempt is written to the audit log (action "denied"):
// the store confines each query to the subtree, so there is no path that
// could forget the check.
//
// # Errors
//
// Operations return the store's kinds (store.ErrNotFound, ErrExists,
// ErrInvalid, ErrNotEmpty), ErrForbidden, ErrUnauthenticated, and for bad
// input a *FieldError naming the field (errors.As; it also matches
// store.ErrInvalid), for RFC 9457 problem details.
//
// # Sign-in links
//
// CreateSignInLink returns a one-time token (stored hashed, valid for
// Options.SignInLinkTTL, 15 minutes by default) for a user; the webmail's
// sign-in handler calls ConsumeSignInLink(token), which returns the
// account exactly once, and starts a user session for it. Build the
// link on LinkBase (the service's own host, never the request's Host
// header).
//
// # Bulk changes and what an administrator sees
//
// An operation on many objects (addresses, queue entries, messages)
// looks every one up in p's scope first and is refused whole when one is
// outside it (inScope, queueDenied): a 404 never leaves part of it done.
// Log events are confined to p's tenant before they are returned
// (confine: another tenant's recipients are not named). Changing an
// administrator's password or state ends their console sessions here
// (endSessions), whichever front end asked.
//
// # Passwords
//
// CheckPassword is the one password policy (users and admins alike);
// passwords are hashed with the shared auth.Hasher (Options.Hasher: pass
// the IMAP Authenticator's, so that a bulk import never takes more hash
// slots than sign-ins leave free). Options.Forget is called with an
// address whose password or state changed, so that the Authenticator's
// cache of verified credentials forgets it.
package admin
