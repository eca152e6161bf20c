package store

import (
	"context"
	"errors"
	"time"
)

// Tenancy: provider > reseller (optional level) > customer > domain >
// address (DESIGN.md, "Tenant isolation"). There is one provider, the
// operator of the service; resellers and customers are rows; a customer
// sits either directly under the provider (ResellerID 0) or under one
// reseller; every domain belongs to exactly one customer.
//
// Every method of Tenancy that reads or changes an administrative object
// takes the Scope of the administrator asking (internal/admin builds it
// from the signed-in principal) and confines the query to that subtree:
// an object outside it is ErrNotFound, exactly as one that does not exist,
// so an id or name from a URL can never reach another tenant's data. The
// conformance suite (storetest) checks this rule for every method.

// ScopeKind says which subtree a Scope covers.
type ScopeKind int

const (
	// ScopeAll is the provider's whole tree (provider admins, the CLI).
	ScopeAll ScopeKind = iota
	// ScopeReseller is one reseller and every customer under it.
	ScopeReseller
	// ScopeCustomer is one customer.
	ScopeCustomer
)

// Scope is the subtree an administrative read or write is confined to.
// The zero Scope is ScopeAll.
type Scope struct {
	Kind ScopeKind
	ID   int64 // the reseller's or the customer's id; 0 for ScopeAll
}

// AllScope is the provider's scope.
func AllScope() Scope { return Scope{} }

// ResellerScope is the scope of a reseller's administrators.
func ResellerScope(id int64) Scope { return Scope{Kind: ScopeReseller, ID: id} }

// CustomerScope is the scope of a customer's administrators.
func CustomerScope(id int64) Scope { return Scope{Kind: ScopeCustomer, ID: id} }

// DefaultCustomerID is the customer, directly under the provider, that
// holds every domain created without naming one (CreateDomain, `xtramail
// domain add` without --customer) and every domain that existed before
// tenancy. It is created with the store and cannot be removed.
const DefaultCustomerID = 1

// ErrReplay reports a one-time value used a second time: a TOTP code whose
// time step is not after the last one accepted, a sign-in link already
// consumed.
var ErrReplay = errors.New("already used")

// Reseller is an intermediary between the provider and some customers.
type Reseller struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Customer is an organisation whose domains are protected.
type Customer struct {
	ID         int64
	ResellerID int64 // 0: directly under the provider
	Name       string
	CreatedAt  time.Time
}

// DomainSettings are what an administrator edits on a domain.
type DomainSettings struct {
	RetentionDays int
	// WholeDomain protects every address of the domain: the capture
	// listener accepts a copy for any address of it and creates the
	// account (enabled, without a password) on the first copy. An
	// address an administrator disabled stays refused.
	WholeDomain bool
	// AllowedIPs are addresses or CIDR prefixes of the upstream servers
	// allowed to hand this domain's copies to the capture listener: when
	// set, copies for the domain from any other upstream are refused
	// (550 5.7.1). The service-wide capture allow-list still decides who
	// may connect at all; empty: that list alone.
	AllowedIPs []string
	// RelayHost (host or host:port) is the domain's primary mail system,
	// where an administrator redelivers a message.
	RelayHost string
	// ContinuityOnly is for a set-up where no primary mail system exists
	// to relay to: a message submitted to a protected address of the
	// domain is stored in its continuity INBOX and not relayed (by
	// default it is both, so that the primary mailbox has it when it is
	// back), and one to an address of the domain that is not protected
	// is refused, having nowhere to go.
	ContinuityOnly bool
	// RecipientDelimiter is the set of characters that separate a tag
	// from the address it belongs to (RFC 5233 sub-addresses:
	// alice+news@ is alice@'s mail): DefaultRecipientDelimiter for a
	// new domain, "" for none, else CheckRecipientDelimiter's rule. An
	// address without an account of its own is taken as its base
	// address (RecipientAccount).
	RecipientDelimiter string
}

// Settings returns the domain's settings, for a change of some of them:
// every editor starts from these, so that a field it does not show is
// kept, not reset.
func (d Domain) Settings() DomainSettings {
	return DomainSettings{RetentionDays: d.RetentionDays, WholeDomain: d.WholeDomain, AllowedIPs: d.AllowedIPs,
		RelayHost: d.RelayHost, ContinuityOnly: d.ContinuityOnly, RecipientDelimiter: d.RecipientDelimiter}
}

// Role is an administrator's level; its scope is the provider's whole
// tree, one reseller or one customer.
type Role string

const (
	RoleProvider Role = "provider"
	RoleReseller Role = "reseller"
	RoleCustomer Role = "customer"
)

// Admin is an administrator of the console and the API.
type Admin struct {
	ID           int64
	Email        string // lower case
	PasswordHash string // argon2id PHC string
	Role         Role
	// ScopeID is the reseller's id (RoleReseller) or the customer's
	// (RoleCustomer); 0 for RoleProvider.
	ScopeID int64
	// TOTPSecret is the base32 TOTP secret (RFC 6238); empty: no second
	// factor enrolled. TOTPLastStep is the time step of the last code
	// accepted: a code of that step or an earlier one is refused (replay).
	TOTPSecret   string
	TOTPLastStep int64
	Disabled     bool
	CreatedAt    time.Time
}

// Scope returns the subtree the administrator may see.
func (a Admin) Scope() Scope {
	switch a.Role {
	case RoleReseller:
		return ResellerScope(a.ScopeID)
	case RoleCustomer:
		return CustomerScope(a.ScopeID)
	}
	return AllScope()
}

// APIToken is a bearer token of the REST API. Only a hash of the token is
// stored; it acts with its administrator's role and scope.
type APIToken struct {
	ID        int64
	AdminID   int64
	Name      string
	Hash      string // hex SHA-256 of the token
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	LastUsed  time.Time // zero: never used
	Revoked   bool
}

// AuditRecord is one entry of the audit log: who changed what, or tried
// to reach what they may not.
type AuditRecord struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	AdminID  int64     `json:"admin_id,omitempty"` // 0: the command line
	Actor    string    `json:"actor"`              // the admin's email, or "cli"
	Action   string    `json:"action"`             // "domain.add", "address.password", "denied", ...
	Object   string    `json:"object"`             // "domain example.com", "address a@example.com"
	Detail   string    `json:"detail,omitempty"`
	RemoteIP string    `json:"remote_ip,omitempty"`
	// ResellerID and CustomerID place the record in the tree: the
	// administrators of that reseller or customer (and the provider's)
	// see it. Both 0: provider-level only.
	ResellerID int64 `json:"reseller_id,omitempty"`
	CustomerID int64 `json:"customer_id,omitempty"`
}

// AuditQuery selects audit records, newest first. Zero fields match all.
type AuditQuery struct {
	Actor    string // exact email or "cli"
	Action   string // exact
	Object   string // substring
	Since    time.Time
	Until    time.Time
	BeforeID int64 // cursor: only records with a smaller id
	Limit    int   // default 100
}

// AccountQuery selects accounts in a scope, ordered by address.
type AccountQuery struct {
	Domain string // only this domain
	Search string // substring of the address
	After  string // cursor: only addresses after this one
	Limit  int    // default 1000
}

// NewAccount is one row of AddAccounts.
type NewAccount struct {
	Address      string
	PasswordHash string
	Enabled      bool
	// Sealed, when set, is the password's sealed copy to hash later
	// (PendingPasswords): PasswordHash must then be PendingPasswordHash,
	// and the pending row is written with the account, in the same
	// write. Batch names the import, for its progress.
	Sealed []byte
	Batch  string
}

// UsageDay is the number of protected (enabled) addresses of a customer
// on one day (UTC), as the daily snapshot counted them.
type UsageDay struct {
	Day        time.Time // UTC midnight
	CustomerID int64
	Addresses  int
}

// DayCount counts message events of one day (UTC) in a scope.
type DayCount struct {
	Day      time.Time
	Captured int64 // messages accepted by the capture listener
	Sent     int64 // messages submitted by users
}

// DomainUsage is what one domain holds: every message copy, deleted ones
// too until purged.
type DomainUsage struct {
	DomainID int64
	Name     string
	Messages int64
	Bytes    int64
}

// Dashboard is the figures of the console's first page, from counters
// kept at write time (never a scan of messages or the log).
type Dashboard struct {
	Days    []DayCount // oldest first, days without events included
	Domains []DomainUsage
	Queue   int64 // outbound queue entries of the scope's domains
}

// Tenancy is the administrative part of a Store: the tenant tree,
// administrators, API tokens, the audit log, sign-in links and usage.
// Methods that take a Scope find nothing outside it (ErrNotFound).
type Tenancy interface {
	// Resellers. Only ScopeAll creates or deletes them; a reseller's
	// scope sees itself.
	CreateReseller(ctx context.Context, sc Scope, name string) (Reseller, error)
	Resellers(ctx context.Context, sc Scope) ([]Reseller, error)
	Reseller(ctx context.Context, sc Scope, id int64) (Reseller, error)
	// DeleteReseller fails with ErrNotEmpty while it has customers.
	DeleteReseller(ctx context.Context, sc Scope, id int64) error

	// Customers. resellerID 0 puts the customer under the provider
	// (ScopeAll only); a reseller scope may create under itself only.
	CreateCustomer(ctx context.Context, sc Scope, resellerID int64, name string) (Customer, error)
	Customers(ctx context.Context, sc Scope) ([]Customer, error)
	Customer(ctx context.Context, sc Scope, id int64) (Customer, error)
	// DeleteCustomer fails with ErrNotEmpty while it has domains, and
	// with ErrInvalid for DefaultCustomerID.
	DeleteCustomer(ctx context.Context, sc Scope, id int64) error

	// Domains in a scope. AddDomain creates a domain under a customer of
	// the scope.
	AddDomain(ctx context.Context, sc Scope, customerID int64, name string, retentionDays int) (Domain, error)
	// ScopedDomains lists the scope's domains by name; customerID > 0
	// narrows to one customer (ErrNotFound when outside the scope).
	ScopedDomains(ctx context.Context, sc Scope, customerID int64) ([]Domain, error)
	ScopedDomain(ctx context.Context, sc Scope, name string) (Domain, error)
	DomainByID(ctx context.Context, sc Scope, id int64) (Domain, error)
	// ScopeDomainIDs returns the ids of the scope's domains, nil for
	// ScopeAll (LogQuery.DomainIDs, QueueQuery.DomainIDs).
	ScopeDomainIDs(ctx context.Context, sc Scope) ([]int64, error)
	SetDomainSettings(ctx context.Context, sc Scope, name string, s DomainSettings) error
	// RemoveDomain fails with ErrNotEmpty while the domain has accounts.
	RemoveDomain(ctx context.Context, sc Scope, name string) error

	// Accounts in a scope.
	ScopedAccounts(ctx context.Context, sc Scope, q AccountQuery) ([]Account, error)
	ScopedAccount(ctx context.Context, sc Scope, address string) (Account, error)
	// AddAccounts creates accounts (with their default mailboxes), each
	// wholly or not at all: errs[i] is rows[i]'s error (ErrExists,
	// ErrInvalid, ErrNotFound for a domain outside the scope) and
	// accts[i] its account when errs[i] is nil. err reports a failure of
	// the whole batch.
	AddAccounts(ctx context.Context, sc Scope, rows []NewAccount) (accts []Account, errs []error, err error)
	SetAccountEnabled(ctx context.Context, sc Scope, address string, enabled bool) error
	SetAccountPassword(ctx context.Context, sc Scope, address, passwordHash string) error
	// RemoveAccount is DeleteAccount within a scope.
	RemoveAccount(ctx context.Context, sc Scope, address string) error

	// Administrators. CreateAdmin fails with ErrNotFound when the new
	// admin's role and scope are outside sc, ErrExists for a taken email.
	CreateAdmin(ctx context.Context, sc Scope, a Admin) (Admin, error)
	Admins(ctx context.Context, sc Scope) ([]Admin, error)
	AdminByID(ctx context.Context, sc Scope, id int64) (Admin, error)
	// AdminByEmail finds an admin for sign-in, in every scope.
	AdminByEmail(ctx context.Context, email string) (Admin, error)
	SetAdminPassword(ctx context.Context, sc Scope, id int64, passwordHash string) error
	SetAdminDisabled(ctx context.Context, sc Scope, id int64, disabled bool) error
	// SetAdminTOTP sets (or with "" removes) the TOTP secret and resets
	// the last used step.
	SetAdminTOTP(ctx context.Context, sc Scope, id int64, secret string) error
	// UseTOTPStep records that a code of time step step was accepted for
	// the admin, atomically: ErrReplay if the last accepted step is step
	// or later (RFC 6238 section 5.2: a verifier must not accept the
	// same code twice).
	UseTOTPStep(ctx context.Context, id int64, step int64) error
	// DeleteAdmin removes an admin and their API tokens.
	DeleteAdmin(ctx context.Context, sc Scope, id int64) error

	// API tokens. A token is in a scope when its admin is.
	CreateAPIToken(ctx context.Context, sc Scope, t APIToken) (APIToken, error)
	APITokens(ctx context.Context, sc Scope) ([]APIToken, error)
	// APITokenByHash finds a token for authentication, in every scope,
	// revoked and expired ones included (the caller decides).
	APITokenByHash(ctx context.Context, hash string) (APIToken, error)
	RevokeAPIToken(ctx context.Context, sc Scope, id int64) error
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error

	// Audit log.
	AppendAudit(ctx context.Context, recs ...AuditRecord) error
	SearchAudit(ctx context.Context, sc Scope, q AuditQuery) ([]AuditRecord, error)

	// Sign-in links: one-time tokens, stored hashed, that sign a user in
	// to the webmail. CreateSignInLink fails with ErrNotFound for an
	// address outside sc. ConsumeSignInLink returns the account once:
	// ErrReplay when used before, ErrNotFound when unknown or expired.
	CreateSignInLink(ctx context.Context, sc Scope, address, hash string, expires time.Time) error
	ConsumeSignInLink(ctx context.Context, hash string, now time.Time) (Account, error)

	// Usage. SnapshotUsage records, for the UTC day of day, each
	// customer's enabled addresses (again: a later snapshot of the same
	// day replaces it). Usage lists the snapshots of days in [from, to)
	// for the scope's customers, by day then customer.
	SnapshotUsage(ctx context.Context, day time.Time) error
	Usage(ctx context.Context, sc Scope, from, to time.Time) ([]UsageDay, error)

	// Dashboard returns the scope's figures for the days since since
	// (UTC days).
	Dashboard(ctx context.Context, sc Scope, since time.Time) (Dashboard, error)
}
