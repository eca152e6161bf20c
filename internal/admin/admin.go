package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// Errors of the admin package, besides the store's kinds.
var (
	// ErrForbidden: the principal's role may not do this at all (HTTP
	// 403). An object outside the principal's subtree is
	// store.ErrNotFound instead, so that its existence does not leak.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: wrong credentials, an unknown, revoked or
	// expired token, a disabled admin, a wrong or replayed TOTP code
	// (HTTP 401). Details go to the log, never to the client.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// FieldError is bad input in one field of a request. It matches
// store.ErrInvalid with errors.Is.
type FieldError struct {
	Field string // "password", "email", "name", "retention_days", ...
	Msg   string // plain words for the user
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, store.ErrInvalid) hold.
func (e *FieldError) Is(target error) bool { return target == store.ErrInvalid }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Principal is who asks for an operation.
type Principal struct {
	AdminID int64 // 0 for the command line
	Email   string
	Role    store.Role
	// ScopeID is the reseller's (RoleReseller) or customer's
	// (RoleCustomer) id.
	ScopeID int64
	// ResellerID is the reseller above a customer admin's customer (0
	// when the customer is directly under the provider, and for other
	// roles): audit records of the admin go to that reseller's log too.
	ResellerID int64
	// RemoteIP is the client's address, for the audit log.
	RemoteIP string
	cli      bool
}

// CLI is the command line's principal: the whole tree, audited as "cli".
func CLI() Principal {
	return Principal{Email: "cli", Role: store.RoleProvider, cli: true}
}

// WithIP returns p with the client's address set.
func (p Principal) WithIP(ip string) Principal {
	p.RemoteIP = ip
	return p
}

// IsCLI reports whether p is the command line.
func (p Principal) IsCLI() bool { return p.cli }

// Scope is the subtree p may see.
func (p Principal) Scope() store.Scope {
	switch p.Role {
	case store.RoleReseller:
		return store.ResellerScope(p.ScopeID)
	case store.RoleCustomer:
		return store.CustomerScope(p.ScopeID)
	}
	return store.AllScope()
}

// String names the principal for logs.
func (p Principal) String() string {
	if p.cli {
		return "cli"
	}
	return fmt.Sprintf("%s (%s admin %d)", p.Email, p.Role, p.AdminID)
}

// Options configure a Service.
type Options struct {
	// Hasher hashes and verifies passwords. Pass the IMAP
	// Authenticator's (auth.Authenticator.Hasher) so that bulk work and
	// sign-ins share one bound on argon2 computations. Default: a new one.
	Hasher *auth.Hasher
	// Forget is called with an address whose password or state changed
	// (the Authenticator's Forget). Optional.
	Forget func(address string)
	// Issuer names the service in authenticator apps (TOTP); default
	// "xtramail".
	Issuer string
	// PasskeyRPID is the WebAuthn relying party id of administrators'
	// passkeys: the host name the console is served at (passkeys
	// registered there work only there). Default: Issuer.
	PasskeyRPID string
	// SignInLinkTTL is how long a one-time sign-in link is valid;
	// default 15 minutes.
	SignInLinkTTL time.Duration
	// Wake tells the outbound queue that entries were added (a
	// redelivery, a sign-in link's mail). Optional: the queue also polls.
	Wake func()
	// SystemSender is the From address of mail the service sends on its
	// own (sign-in links). Empty: such mail is refused with a clear
	// error.
	SystemSender string
	// SealKey (SealKeySize bytes) seals imported passwords waiting to be
	// hashed (pendinghash.go); keep it apart from the database, the same
	// on every node. Default: a random key of this process, so that rows
	// left pending by a restart cannot be opened and are dropped.
	SealKey []byte
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs the administrative operations over a store. It is safe for
// concurrent use.
type Service struct {
	st     store.Store
	hasher *auth.Hasher
	authn  *auth.Authenticator // admins' passwords: throttles and cache
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	seal   sealer
	// pendingWake wakes RunPendingPasswords after an import.
	pendingWake chan struct{}
}

// New returns a Service over st. It panics if opts.SealKey is set but
// not SealKeySize bytes long (a wiring mistake, caught at start).
func New(st store.Store, opts Options) *Service {
	if opts.Hasher == nil {
		// DefaultParams are within limits: this cannot fail.
		opts.Hasher, _ = auth.NewHasher(auth.DefaultParams(), 0)
	}
	if opts.Issuer == "" {
		opts.Issuer = "xtramail"
	}
	if opts.PasskeyRPID == "" {
		opts.PasskeyRPID = opts.Issuer
	}
	if opts.SignInLinkTTL <= 0 {
		opts.SignInLinkTTL = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SealKey == nil {
		opts.SealKey = make([]byte, SealKeySize)
		rand.Read(opts.SealKey) // never fails (crypto/rand, Go 1.24+)
	}
	seal, err := newSealer(opts.SealKey)
	if err != nil {
		panic(err)
	}
	s := &Service{st: st, hasher: opts.Hasher, opts: opts, now: opts.Now, log: opts.Logger, seal: seal, pendingWake: make(chan struct{}, 1)}
	// Failed sign-in counters in the store: a restart or a second node
	// does not hand an attacker a fresh set of guesses (issue 15).
	s.authn = auth.NewAuthenticator(s.adminLookup, auth.Options{Hasher: opts.Hasher, Now: opts.Now, KnownIPStore: adminKnownIPs{st},
		UserThrottle: auth.NewStoreThrottle(auth.DefaultThrottlePolicy(), st, "admin-user:"),
		IPThrottle:   auth.NewStoreThrottle(auth.DefaultIPThrottlePolicy(), st, "admin-ip:"),
		PairThrottle: auth.NewStoreThrottle(auth.DefaultThrottlePolicy(), st, "admin-pair:")})
	return s
}

// Store returns the store, for read paths the admin package does not
// wrap (a message body for the console's message view goes through
// MessageBody instead; this is for service wiring).
func (s *Service) Store() store.Store { return s.st }

func (s *Service) forget(address string) {
	if s.opts.Forget != nil {
		s.opts.Forget(address)
	}
}

// tenant places an audit record in the tree.
type tenant struct{ reseller, customer int64 }

// actorTenant is where records of p's own acts go when no object places
// them lower.
func (p Principal) actorTenant() tenant {
	switch p.Role {
	case store.RoleReseller:
		return tenant{reseller: p.ScopeID}
	case store.RoleCustomer:
		return tenant{reseller: p.ResellerID, customer: p.ScopeID}
	}
	return tenant{}
}

// customerTenant is the tenant of a customer's objects.
func (s *Service) customerTenant(ctx context.Context, customerID int64) tenant {
	c, err := s.st.Customer(ctx, store.AllScope(), customerID)
	if err != nil {
		return tenant{customer: customerID}
	}
	return tenant{reseller: c.ResellerID, customer: c.ID}
}

// domainTenant is the tenant of a domain's objects.
func (s *Service) domainTenant(ctx context.Context, domainID int64) tenant {
	d, err := s.st.DomainByID(ctx, store.AllScope(), domainID)
	if err != nil {
		return tenant{}
	}
	return s.customerTenant(ctx, d.CustomerID)
}

// audit writes one record. A failure to write it is logged, not returned:
// the change it describes is already done.
func (s *Service) audit(ctx context.Context, p Principal, t tenant, action, object, detail string) {
	rec := s.auditRecord(p, t, action, object, detail)
	if err := s.st.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
		s.log.Error("write audit record", "action", action, "object", object, "err", err)
	}
}

// auditRecord is the record of p's act, placed at t.
func (s *Service) auditRecord(p Principal, t tenant, action, object, detail string) store.AuditRecord {
	rec := store.AuditRecord{
		Time: s.now(), AdminID: p.AdminID, Actor: p.Email, Action: action, Object: object,
		Detail: detail, RemoteIP: p.RemoteIP, ResellerID: t.reseller, CustomerID: t.customer,
	}
	if p.cli {
		rec.Actor = "cli"
	}
	return rec
}

// denied returns err unchanged; when err is ErrNotFound for p's scope but
// exists(ctx) finds the object in the whole tree, it is a cross-tenant
// attempt and is written to the audit log (action "denied").
func (s *Service) denied(ctx context.Context, p Principal, op, object string, exists func(context.Context) bool, err error) error {
	if err == nil || !errors.Is(err, store.ErrNotFound) || p.Scope().Kind == store.ScopeAll {
		return err
	}
	if exists != nil && exists(ctx) {
		s.log.Warn("cross-tenant attempt", "principal", p.String(), "op", op, "object", object, "ip", p.RemoteIP)
		s.audit(ctx, p, p.actorTenant(), "denied", object, op)
	}
	return err
}

// allow checks that p's role may run op (permissions table) and audits a
// refusal.
func (s *Service) allow(ctx context.Context, p Principal, op string) error {
	min, ok := permissions[op]
	if !ok {
		return fmt.Errorf("operation %q has no permission entry: %w", op, ErrForbidden)
	}
	if rank(p.Role) >= rank(min) {
		return nil
	}
	s.audit(ctx, p, p.actorTenant(), "forbidden", op, "")
	return fmt.Errorf("%s may not %s: %w", p.Role, op, ErrForbidden)
}
