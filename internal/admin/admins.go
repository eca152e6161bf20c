package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// principalOf builds the Principal of an admin row.
func (s *Service) principalOf(ctx context.Context, a store.Admin) Principal {
	p := Principal{AdminID: a.ID, Email: a.Email, Role: a.Role, ScopeID: a.ScopeID}
	if a.Role == store.RoleCustomer {
		if c, err := s.st.Customer(ctx, store.AllScope(), a.ScopeID); err == nil {
			p.ResellerID = c.ResellerID
		}
	}
	return p
}

// adminLookup serves the admins' Authenticator.
func (s *Service) adminLookup(ctx context.Context, email string) (auth.Credential, error) {
	a, err := s.st.AdminByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Credential{}, fmt.Errorf("%w: admin %s", auth.ErrUnknownUser, email)
	}
	if err != nil {
		return auth.Credential{}, err
	}
	return auth.Credential{AccountID: a.ID, Username: a.Email, PasswordHash: a.PasswordHash, Enabled: !a.Disabled}, nil
}

// SignInResult is the outcome of a correct email and password.
type SignInResult struct {
	Principal Principal
	// NeedTOTP: the admin has a second factor; the session is not signed
	// in until VerifyTOTP accepts a code.
	NeedTOTP bool
	// MustEnrollTOTP: a provider admin without a second factor; the
	// console asks them to enrol one (PendingEnrollment, SignInEnrol)
	// before anything else.
	MustEnrollTOTP bool
	// Passkey: the admin has a passkey, which may be given instead of a
	// TOTP code (SignInPasskey); the session is not signed in until one
	// of them is right.
	Passkey bool
	// Pending names the pending sign-in (in the store, for PendingTTL)
	// when a second factor is needed: the browser holds it until the
	// second step, which may reach any node.
	Pending string
}

// SignIn checks an admin's email and password from remoteIP, with the
// same throttles (per address, per IP, per pair) and timing as IMAP
// sign-in. Wrong credentials, an unknown or disabled admin are all
// ErrUnauthenticated; a throttled attempt also matches auth.ErrThrottled.
func (s *Service) SignIn(ctx context.Context, email, password, remoteIP string) (SignInResult, error) {
	cred, err := s.authn.Authenticate(ctx, email, password, remoteIP)
	if err != nil {
		if errors.Is(err, auth.ErrThrottled) || errors.Is(err, auth.ErrInvalidCredentials) {
			return SignInResult{}, fmt.Errorf("admin sign-in %s: %w: %w", email, ErrUnauthenticated, err)
		}
		return SignInResult{}, err
	}
	a, err := s.st.AdminByID(ctx, store.AllScope(), cred.AccountID)
	if err != nil || a.Disabled {
		return SignInResult{}, fmt.Errorf("admin sign-in %s: %w", email, ErrUnauthenticated)
	}
	p := s.principalOf(ctx, a).WithIP(remoteIP)
	passkey, err := s.hasPasskeys(ctx, a.ID)
	if err != nil {
		return SignInResult{}, err
	}
	res := SignInResult{Principal: p, NeedTOTP: a.TOTPSecret != "", Passkey: passkey,
		MustEnrollTOTP: a.TOTPSecret == "" && !passkey && a.Role == store.RoleProvider}
	if res.NeedTOTP || res.Passkey || res.MustEnrollTOTP {
		if res.Pending, err = s.createChallenge(ctx, store.ChallengeSignIn, a.ID, PendingTTL, "", nil); err != nil {
			return SignInResult{}, err
		}
	}
	return res, nil
}

// PrincipalByID rebuilds a signed-in admin's Principal (for each request
// of a web session); ErrUnauthenticated once the admin is disabled or
// removed.
func (s *Service) PrincipalByID(ctx context.Context, adminID int64) (Principal, error) {
	a, err := s.st.AdminByID(ctx, store.AllScope(), adminID)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Disabled {
		return Principal{}, fmt.Errorf("admin %d: %w", adminID, ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	return s.principalOf(ctx, a), nil
}

// AdminInfo is an admin as lists show it (no secrets).
type AdminInfo struct {
	ID          int64
	Email       string
	Role        store.Role
	ScopeID     int64
	TOTPEnabled bool
	// Passkeys counts the admin's passkeys (filled by Admins).
	Passkeys  int
	Disabled  bool
	CreatedAt time.Time
}

func adminInfo(a store.Admin) AdminInfo {
	return AdminInfo{ID: a.ID, Email: a.Email, Role: a.Role, ScopeID: a.ScopeID, TOTPEnabled: a.TOTPSecret != "", Disabled: a.Disabled, CreatedAt: a.CreatedAt}
}

func (s *Service) adminTenant(ctx context.Context, role store.Role, scopeID int64) tenant {
	switch role {
	case store.RoleReseller:
		return tenant{reseller: scopeID}
	case store.RoleCustomer:
		return s.customerTenant(ctx, scopeID)
	}
	return tenant{}
}

// AddAdmin creates an administrator with a role in p's subtree: a
// provider admin may create any, a reseller admin reseller admins of
// their reseller and customer admins of its customers, a customer admin
// customer admins of their customer. scopeID is the reseller's or
// customer's id (0 for RoleProvider).
func (s *Service) AddAdmin(ctx context.Context, p Principal, email, password string, role store.Role, scopeID int64) (AdminInfo, error) {
	if err := s.allow(ctx, p, OpAdminAdd); err != nil {
		return AdminInfo{}, err
	}
	addr, err := store.NormalizeAddress(email)
	if err != nil {
		return AdminInfo{}, fieldErr("email", "%q is not an email address", email)
	}
	switch role {
	case store.RoleProvider:
		if scopeID != 0 {
			return AdminInfo{}, fieldErr("scope_id", "a provider admin has no scope id")
		}
		if p.Scope().Kind != store.ScopeAll {
			s.audit(ctx, p, p.actorTenant(), "forbidden", OpAdminAdd, "provider admin "+addr)
			return AdminInfo{}, fmt.Errorf("%s may not create provider admins: %w", p.Role, ErrForbidden)
		}
	case store.RoleReseller, store.RoleCustomer:
		if scopeID <= 0 {
			return AdminInfo{}, fieldErr("scope_id", "name the %s", role)
		}
	default:
		return AdminInfo{}, fieldErr("role", "provider, reseller or customer")
	}
	if err := CheckPassword(addr, password); err != nil {
		return AdminInfo{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return AdminInfo{}, fmt.Errorf("hash password of %s: %w", addr, err)
	}
	a, err := s.st.CreateAdmin(ctx, p.Scope(), store.Admin{Email: addr, PasswordHash: hash, Role: role, ScopeID: scopeID})
	if err != nil {
		exists := s.resellerExists(scopeID)
		if role == store.RoleCustomer {
			exists = s.customerExists(scopeID)
		}
		return AdminInfo{}, s.denied(ctx, p, OpAdminAdd, fmt.Sprintf("%s %d", role, scopeID), exists, err)
	}
	s.audit(ctx, p, s.adminTenant(ctx, role, scopeID), OpAdminAdd, "admin "+a.Email, fmt.Sprintf("role %s, scope %d", role, scopeID))
	return adminInfo(a), nil
}

// Admins lists the admins p sees.
func (s *Service) Admins(ctx context.Context, p Principal) ([]AdminInfo, error) {
	if err := s.allow(ctx, p, OpAdminList); err != nil {
		return nil, err
	}
	as, err := s.st.Admins(ctx, p.Scope())
	if err != nil {
		return nil, err
	}
	out := make([]AdminInfo, len(as))
	for i, a := range as {
		out[i] = adminInfo(a)
		// One read per admin: a subtree has a handful of admins, and
		// the admins page shows each one's second factors.
		pks, err := s.st.Passkeys(ctx, a.ID)
		if err != nil {
			return nil, fmt.Errorf("passkeys of admin %d: %w", a.ID, err)
		}
		out[i].Passkeys = len(pks)
	}
	return out, nil
}

func (s *Service) adminExists(id int64) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := s.st.AdminByID(ctx, store.AllScope(), id)
		return err == nil
	}
}

// Admin returns one admin in p's scope.
func (s *Service) Admin(ctx context.Context, p Principal, id int64) (AdminInfo, error) {
	if err := s.allow(ctx, p, OpAdminList); err != nil {
		return AdminInfo{}, err
	}
	a, err := s.st.AdminByID(ctx, p.Scope(), id)
	if err != nil {
		return AdminInfo{}, s.denied(ctx, p, OpAdminList, fmt.Sprintf("admin %d", id), s.adminExists(id), err)
	}
	return adminInfo(a), nil
}

// AdminByEmail returns one admin in p's scope by email.
func (s *Service) AdminByEmail(ctx context.Context, p Principal, email string) (AdminInfo, error) {
	if err := s.allow(ctx, p, OpAdminList); err != nil {
		return AdminInfo{}, err
	}
	a, err := s.st.AdminByEmail(ctx, email)
	if err == nil {
		a, err = s.st.AdminByID(ctx, p.Scope(), a.ID)
		if err != nil {
			return AdminInfo{}, s.denied(ctx, p, OpAdminList, "admin "+email, func(context.Context) bool { return true }, err)
		}
	}
	if err != nil {
		return AdminInfo{}, err
	}
	return adminInfo(a), nil
}

// changeAdmin finds an admin in p's scope for a change; a provider admin
// can only be changed from the provider scope.
func (s *Service) changeAdmin(ctx context.Context, p Principal, op string, id int64) (store.Admin, error) {
	if err := s.allow(ctx, p, op); err != nil {
		return store.Admin{}, err
	}
	a, err := s.st.AdminByID(ctx, p.Scope(), id)
	if err != nil {
		return a, s.denied(ctx, p, op, fmt.Sprintf("admin %d", id), s.adminExists(id), err)
	}
	return a, nil
}

// SetAdminPassword sets an admin's password under the policy and ends
// every console session of theirs: one may be open by whoever learnt the
// old password.
func (s *Service) SetAdminPassword(ctx context.Context, p Principal, id int64, password string) error {
	a, err := s.changeAdmin(ctx, p, OpAdminChange, id)
	if err != nil {
		return err
	}
	if err := CheckPassword(a.Email, password); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password of %s: %w", a.Email, err)
	}
	if err := s.st.SetAdminPassword(ctx, p.Scope(), id, hash); err != nil {
		return err
	}
	s.authn.Forget(a.Email)
	if err := s.endSessions(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpAdminChange, "admin "+a.Email, "password set")
	return nil
}

// SetAdminDisabled disables or enables an admin; a disabled admin's
// sessions end now, and their tokens stop working at their next use.
func (s *Service) SetAdminDisabled(ctx context.Context, p Principal, id int64, disabled bool) error {
	a, err := s.changeAdmin(ctx, p, OpAdminChange, id)
	if err != nil {
		return err
	}
	if !p.cli && a.ID == p.AdminID && disabled {
		return fieldErr("id", "you cannot disable yourself")
	}
	if err := s.st.SetAdminDisabled(ctx, p.Scope(), id, disabled); err != nil {
		return err
	}
	s.authn.Forget(a.Email)
	if disabled {
		if err := s.endSessions(ctx, a); err != nil {
			return err
		}
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpAdminChange, "admin "+a.Email, fmt.Sprintf("disabled %t", disabled))
	return nil
}

// RemoveAdmin deletes an admin and their API tokens.
func (s *Service) RemoveAdmin(ctx context.Context, p Principal, id int64) error {
	a, err := s.changeAdmin(ctx, p, OpAdminRemove, id)
	if err != nil {
		return err
	}
	if !p.cli && a.ID == p.AdminID {
		return fieldErr("id", "you cannot remove yourself")
	}
	if err := s.st.DeleteAdmin(ctx, p.Scope(), id); err != nil {
		return err
	}
	s.authn.Forget(a.Email)
	if err := s.endSessions(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpAdminRemove, "admin "+a.Email, "")
	return nil
}

// endSessions ends every console session of a: here, so that every
// front end that changes an admin's password or state (console, API,
// command line) ends them, not only the one that remembers to.
func (s *Service) endSessions(ctx context.Context, a store.Admin) error {
	if _, err := s.st.DeleteSessions(ctx, store.PrincipalAdmin, a.ID, nil); err != nil {
		return fmt.Errorf("end sessions of %s: %w", a.Email, err)
	}
	return nil
}

// --- TOTP (RFC 6238)

// totpOpts: 30-second steps, 6 digits, SHA-1: what every authenticator
// app reads from an otpauth:// URL.
var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrollment is a new secret to show the admin (as a QR code of URL),
// not stored until ConfirmTOTP accepts a code made from it.
type TOTPEnrollment struct {
	Secret string // base32
	URL    string // otpauth://totp/...
}

// confirmTOTP stores secret as p's second factor once code, made from
// it now, is right; the code's step counts as used. what is the audit
// record's detail.
func (s *Service) confirmTOTP(ctx context.Context, p Principal, secret, code, what string) error {
	if p.cli || p.AdminID == 0 {
		return fmt.Errorf("TOTP is for a signed-in admin: %w", ErrForbidden)
	}
	step, ok := s.matchTOTP(secret, code)
	if !ok {
		return fmt.Errorf("TOTP enrolment of admin %d: wrong code: %w", p.AdminID, ErrUnauthenticated)
	}
	if err := s.st.SetAdminTOTP(ctx, store.AllScope(), p.AdminID, secret); err != nil {
		return err
	}
	if err := s.st.UseTOTPStep(ctx, p.AdminID, step); err != nil {
		return err
	}
	s.audit(ctx, p, s.adminTenant(ctx, p.Role, p.ScopeID), OpTOTP, "admin "+p.Email, what)
	return nil
}

// verifyTOTP checks a code of the admin's secret. A code is accepted
// once: its time step must come after the last one accepted (the store
// keeps it), so a code seen over a shoulder or in a log cannot be used
// again (RFC 6238 section 5.2). Codes of the previous and next step are
// accepted for clock drift. Callers count the attempt first
// (tryChallenge, countCode).
func (s *Service) verifyTOTP(ctx context.Context, adminID int64, code string) error {
	a, err := s.st.AdminByID(ctx, store.AllScope(), adminID)
	if err != nil || a.Disabled || a.TOTPSecret == "" {
		return fmt.Errorf("TOTP for admin %d: %w", adminID, ErrUnauthenticated)
	}
	step, ok := s.matchTOTP(a.TOTPSecret, code)
	if !ok {
		return fmt.Errorf("TOTP for admin %d: wrong code: %w", adminID, ErrUnauthenticated)
	}
	if err := s.st.UseTOTPStep(ctx, adminID, step); err != nil {
		if errors.Is(err, store.ErrReplay) {
			s.audit(ctx, s.principalOf(ctx, a), s.adminTenant(ctx, a.Role, a.ScopeID), "totp.replay", "admin "+a.Email, "")
			return fmt.Errorf("TOTP for admin %d: %w: %w", adminID, ErrUnauthenticated, err)
		}
		return err
	}
	return nil
}

// matchTOTP returns the time step whose code is code, trying the current
// step and one on each side.
func (s *Service) matchTOTP(secret, code string) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	now := s.now()
	for _, d := range []time.Duration{0, -30 * time.Second, 30 * time.Second} {
		t := now.Add(d)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return t.Unix() / 30, true
		}
	}
	return 0, false
}

// RemoveTOTP removes an admin's second factors, TOTP key and passkeys
// (their own, or one in p's scope: an admin who lost their device); the
// CLI's admin totp-reset. The console and the API use
// ResetSecondFactors, which also applies who may reset whom.
func (s *Service) RemoveTOTP(ctx context.Context, p Principal, id int64) error {
	a, err := s.changeAdmin(ctx, p, OpTOTP, id)
	if err != nil {
		return err
	}
	_, err = s.resetFactors(ctx, p, a)
	return err
}

// --- API tokens

// TokenInfo is an API token as lists show it (never the secret).
type TokenInfo struct {
	ID         int64
	AdminID    int64
	AdminEmail string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsed   time.Time
	Revoked    bool
}

// tokenPrefix marks xtramail API tokens so that secret scanners can find
// leaked ones.
const tokenPrefix = "xtm_"

// CreateToken creates an API token for an admin in p's scope (adminID 0:
// p themself; another admin only when below p, not a peer: notPeer) that
// acts with that admin's role and scope; expires zero
// means it never expires. The token is returned once and only its hash is
// kept.
func (s *Service) CreateToken(ctx context.Context, p Principal, adminID int64, name string, expires time.Time) (string, TokenInfo, error) {
	if err := s.allow(ctx, p, OpTokenCreate); err != nil {
		return "", TokenInfo{}, err
	}
	if adminID == 0 {
		if p.cli {
			return "", TokenInfo{}, fieldErr("admin", "name the admin the token acts as")
		}
		adminID = p.AdminID
	}
	n, err := checkTenantName(name)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if !expires.IsZero() && !expires.After(s.now()) {
		return "", TokenInfo{}, fieldErr("expires", "must be in the future")
	}
	a, err := s.st.AdminByID(ctx, p.Scope(), adminID)
	if err != nil {
		return "", TokenInfo{}, s.denied(ctx, p, OpTokenCreate, fmt.Sprintf("admin %d", adminID), s.adminExists(adminID), err)
	}
	// A token acts as its administrator: one for a peer would act under
	// the peer's name, and outlive its maker's removal.
	if err := s.notPeer(ctx, p, a, OpTokenCreate, "API tokens"); err != nil {
		return "", TokenInfo{}, err
	}
	secret := tokenPrefix + auth.NewToken()
	t, err := s.st.CreateAPIToken(ctx, p.Scope(), store.APIToken{AdminID: a.ID, Name: n, Hash: tokenHash(secret), ExpiresAt: expires})
	if err != nil {
		return "", TokenInfo{}, err
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpTokenCreate, fmt.Sprintf("token %d %s", t.ID, t.Name), "for admin "+a.Email)
	return secret, TokenInfo{ID: t.ID, AdminID: a.ID, AdminEmail: a.Email, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}, nil
}

// Tokens lists the API tokens of the admins p sees.
func (s *Service) Tokens(ctx context.Context, p Principal) ([]TokenInfo, error) {
	if err := s.allow(ctx, p, OpTokenList); err != nil {
		return nil, err
	}
	ts, err := s.st.APITokens(ctx, p.Scope())
	if err != nil {
		return nil, err
	}
	emails := map[int64]string{}
	out := make([]TokenInfo, len(ts))
	for i, t := range ts {
		if _, ok := emails[t.AdminID]; !ok {
			if a, err := s.st.AdminByID(ctx, store.AllScope(), t.AdminID); err == nil {
				emails[t.AdminID] = a.Email
			}
		}
		out[i] = TokenInfo{ID: t.ID, AdminID: t.AdminID, AdminEmail: emails[t.AdminID], Name: t.Name, CreatedAt: t.CreatedAt,
			ExpiresAt: t.ExpiresAt, LastUsed: t.LastUsed, Revoked: t.Revoked}
	}
	return out, nil
}

// RevokeToken revokes a token in p's scope; it fails at its next use.
func (s *Service) RevokeToken(ctx context.Context, p Principal, id int64) error {
	if err := s.allow(ctx, p, OpTokenRevoke); err != nil {
		return err
	}
	if err := s.st.RevokeAPIToken(ctx, p.Scope(), id); err != nil {
		return s.denied(ctx, p, OpTokenRevoke, fmt.Sprintf("token %d", id), func(ctx context.Context) bool {
			ts, err := s.st.APITokens(ctx, store.AllScope())
			for _, t := range ts {
				if t.ID == id {
					return err == nil
				}
			}
			return false
		}, err)
	}
	s.audit(ctx, p, p.actorTenant(), OpTokenRevoke, fmt.Sprintf("token %d", id), "")
	return nil
}

// AuthenticateToken returns the Principal a bearer token acts as.
// Unknown, revoked and expired tokens, and tokens of a disabled admin,
// are ErrUnauthenticated.
func (s *Service) AuthenticateToken(ctx context.Context, token, remoteIP string) (Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 256 {
		return Principal{}, fmt.Errorf("API token: %w", ErrUnauthenticated)
	}
	t, err := s.st.APITokenByHash(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("API token unknown: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	switch {
	case t.Revoked:
		return Principal{}, fmt.Errorf("API token %d revoked: %w", t.ID, ErrUnauthenticated)
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return Principal{}, fmt.Errorf("API token %d expired: %w", t.ID, ErrUnauthenticated)
	}
	p, err := s.PrincipalByID(ctx, t.AdminID)
	if err != nil {
		return Principal{}, err
	}
	// Last use is kept to the minute: a write per request would be a
	// write per API call.
	if now.Sub(t.LastUsed) > time.Minute {
		if err := s.st.TouchAPIToken(ctx, t.ID, now); err != nil {
			s.log.Warn("record API token use", "token", t.ID, "err", err)
		}
	}
	return p.WithIP(remoteIP), nil
}
