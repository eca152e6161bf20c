package admin

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/xtramail/xtramail/internal/store"
)

// Passkeys (WebAuthn Level 3) are an administrator's optional second
// factor, instead of a TOTP code after the password. The ceremonies'
// state (the challenge and what it allows) is kept in the store with the
// pending sign-in or a registration challenge, never in memory, for the
// reason the pending sign-in is (secondfactor.go). Each sign-in moves
// the credential's sign counter forward in the store, atomically, so an
// assertion seen before, or one from a cloned authenticator, is refused
// (WebAuthn section 6.1.1, step 21 of 7.2).

// OpPasskey names passkey changes in the audit log.
const OpPasskey = "admin.passkey"

const (
	passkeyTTL   = 5 * time.Minute
	maxPasskeys  = 10
	passkeyNameN = 64
)

// PasskeyInfo is a passkey as lists show it.
type PasskeyInfo struct {
	ID       int64
	Name     string
	Created  time.Time
	LastUsed time.Time
}

// webauthnUser is an administrator as go-webauthn sees them.
type webauthnUser struct {
	a     store.Admin
	creds []webauthn.Credential
}

// WebAuthnID is the user handle: the administrator's id, which is never
// reused (WebAuthn section 14.6.1: no personal data in it).
func (u webauthnUser) WebAuthnID() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(u.a.ID))
}
func (u webauthnUser) WebAuthnName() string                       { return u.a.Email }
func (u webauthnUser) WebAuthnDisplayName() string                { return u.a.Email }
func (u webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeyUser loads an administrator with their passkeys.
func (s *Service) passkeyUser(ctx context.Context, adminID int64) (webauthnUser, []store.Passkey, error) {
	a, err := s.st.AdminByID(ctx, store.AllScope(), adminID)
	if err != nil || a.Disabled {
		return webauthnUser{}, nil, fmt.Errorf("passkeys of admin %d: %w", adminID, ErrUnauthenticated)
	}
	pks, err := s.st.Passkeys(ctx, adminID)
	if err != nil {
		return webauthnUser{}, nil, fmt.Errorf("passkeys of admin %d: %w", adminID, err)
	}
	u := webauthnUser{a: a}
	for _, pk := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(pk.Credential, &c); err != nil {
			return webauthnUser{}, nil, fmt.Errorf("passkey %d of admin %d: %w", pk.ID, adminID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, pks, nil
}

// relyingParty is the WebAuthn relying party for a page at origin
// ("https://host[:port]", as the browser sends it). The relying party id
// is the service's host name (Options.PasskeyRPID): a passkey works only
// on pages of that host, whatever the port, and a page anywhere else
// (another host name of the same server, an address) is refused.
func (s *Service) relyingParty(origin string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Hostname(), s.opts.PasskeyRPID) || u.Path != "" {
		return nil, fieldErr("origin", "passkeys work only on https://%s", s.opts.PasskeyRPID)
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: s.opts.PasskeyRPID, RPDisplayName: s.opts.Issuer, RPOrigins: []string{origin}})
	if err != nil {
		return nil, fmt.Errorf("WebAuthn relying party %s: %w", origin, err)
	}
	return wa, nil
}

// HasPasskeys reports whether the administrator has a passkey.
func (s *Service) hasPasskeys(ctx context.Context, adminID int64) (bool, error) {
	pks, err := s.st.Passkeys(ctx, adminID)
	return len(pks) > 0, err
}

// Passkeys lists p's own passkeys.
func (s *Service) Passkeys(ctx context.Context, p Principal) ([]PasskeyInfo, error) {
	if p.cli || p.AdminID == 0 {
		return nil, fmt.Errorf("passkeys are for a signed-in admin: %w", ErrForbidden)
	}
	pks, err := s.st.Passkeys(ctx, p.AdminID)
	if err != nil {
		return nil, err
	}
	out := make([]PasskeyInfo, len(pks))
	for i, pk := range pks {
		out[i] = PasskeyInfo{ID: pk.ID, Name: pk.Name, Created: pk.Created, LastUsed: pk.LastUsed}
	}
	return out, nil
}

// BeginPasskey starts the registration of a passkey for p on a page at
// origin: the id that FinishPasskey takes, and the options for the
// browser's navigator.credentials.create() (the publicKey member, as
// JSON: PublicKeyCredential.parseCreationOptionsFromJSON reads it).
func (s *Service) BeginPasskey(ctx context.Context, p Principal, origin string) (string, json.RawMessage, error) {
	if p.cli || p.AdminID == 0 {
		return "", nil, fmt.Errorf("passkeys are for a signed-in admin: %w", ErrForbidden)
	}
	wa, err := s.relyingParty(origin)
	if err != nil {
		return "", nil, err
	}
	u, pks, err := s.passkeyUser(ctx, p.AdminID)
	if err != nil {
		return "", nil, err
	}
	if len(pks) >= maxPasskeys {
		return "", nil, fieldErr("name", "you have %d passkeys already: remove one first", len(pks))
	}
	// A discoverable credential (resident key) and user verification
	// when the authenticator can: a passkey, not a bare security key.
	// Credentials the admin has are excluded, so one authenticator is
	// registered once.
	creation, session, err := wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{ResidentKey: protocol.ResidentKeyRequirementPreferred,
			RequireResidentKey: protocol.ResidentKeyNotRequired(), UserVerification: protocol.VerificationPreferred}))
	if err != nil {
		return "", nil, fmt.Errorf("begin passkey registration of admin %d: %w", p.AdminID, err)
	}
	data, err := json.Marshal(session)
	if err != nil {
		return "", nil, err
	}
	id, err := s.createChallenge(ctx, store.ChallengePasskey, p.AdminID, passkeyTTL, "", data)
	if err != nil {
		return "", nil, err
	}
	opts, err := json.Marshal(creation.Response)
	return id, opts, err
}

// FinishPasskey ends p's registration id with the browser's response
// (PublicKeyCredential.toJSON() of the created credential) and keeps the
// passkey under name. Audited.
func (s *Service) FinishPasskey(ctx context.Context, p Principal, id, name, origin string, response []byte) (PasskeyInfo, error) {
	if p.cli || p.AdminID == 0 {
		return PasskeyInfo{}, fmt.Errorf("passkeys are for a signed-in admin: %w", ErrForbidden)
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > passkeyNameN || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return PasskeyInfo{}, fieldErr("name", "name the passkey (up to %d characters), so that you can tell it apart", passkeyNameN)
	}
	c, err := s.challenge(ctx, id, store.ChallengePasskey, p.AdminID)
	if err != nil {
		return PasskeyInfo{}, err
	}
	// One response per challenge, right or wrong.
	if err := s.st.DeleteAdminChallenge(ctx, c.IDHash); err != nil {
		return PasskeyInfo{}, err
	}
	wa, err := s.relyingParty(origin)
	if err != nil {
		return PasskeyInfo{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil {
		return PasskeyInfo{}, fmt.Errorf("passkey registration of admin %d: %w", p.AdminID, err)
	}
	u, _, err := s.passkeyUser(ctx, p.AdminID)
	if err != nil {
		return PasskeyInfo{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return PasskeyInfo{}, fieldErr("response", "the browser's answer could not be read: %s", webauthnDetail(err))
	}
	cred, err := wa.CreateCredential(u, session, parsed)
	if err != nil {
		return PasskeyInfo{}, fieldErr("response", "the passkey was not accepted: %s", webauthnDetail(err))
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return PasskeyInfo{}, err
	}
	pk, err := s.st.AddPasskey(ctx, store.Passkey{AdminID: p.AdminID, Name: name, CredentialID: cred.ID, Credential: data,
		SignCount: cred.Authenticator.SignCount, Created: s.now()})
	if err != nil {
		return PasskeyInfo{}, err
	}
	s.audit(ctx, p, s.adminTenant(ctx, p.Role, p.ScopeID), OpPasskey, "admin "+p.Email, "passkey added: "+name)
	return PasskeyInfo{ID: pk.ID, Name: pk.Name, Created: pk.Created}, nil
}

// RemovePasskey removes one of p's own passkeys. Audited.
func (s *Service) RemovePasskey(ctx context.Context, p Principal, id int64) error {
	if p.cli || p.AdminID == 0 {
		return fmt.Errorf("passkeys are for a signed-in admin: %w", ErrForbidden)
	}
	pks, err := s.st.Passkeys(ctx, p.AdminID)
	if err != nil {
		return err
	}
	name := ""
	for _, pk := range pks {
		if pk.ID == id {
			name = pk.Name
		}
	}
	if err := s.st.RemovePasskey(ctx, p.AdminID, id); err != nil {
		return err
	}
	s.audit(ctx, p, s.adminTenant(ctx, p.Role, p.ScopeID), OpPasskey, "admin "+p.Email, "passkey removed: "+name)
	return nil
}

// BeginPasskeySignIn starts the passkey step of a pending sign-in on a
// page at origin: the options for navigator.credentials.get() (the
// publicKey member, as JSON). The ceremony's state is kept in the
// pending sign-in; a new one replaces it.
func (s *Service) BeginPasskeySignIn(ctx context.Context, pending, origin string) (json.RawMessage, error) {
	c, err := s.challenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return nil, err
	}
	wa, err := s.relyingParty(origin)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeyUser(ctx, c.AdminID)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, fmt.Errorf("admin %d has no passkey: %w", c.AdminID, ErrForbidden)
	}
	assertion, session, err := wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in of admin %d: %w", c.AdminID, err)
	}
	data, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	if err := s.st.SetAdminChallenge(ctx, c.IDHash, c.Secret, data); err != nil {
		return nil, fmt.Errorf("keep passkey challenge of admin %d: %w", c.AdminID, err)
	}
	return json.Marshal(assertion.Response)
}

// SignInPasskey is the second step of a pending sign-in with a passkey:
// response is PublicKeyCredential.toJSON() of the assertion the browser
// made for BeginPasskeySignIn's options. Each try counts as a code does
// (tryChallenge). A wrong, replayed or cloned assertion is
// ErrUnauthenticated.
func (s *Service) SignInPasskey(ctx context.Context, pending, origin string, response []byte, remoteIP string) (Principal, error) {
	c, err := s.tryChallenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return Principal{}, err
	}
	if len(c.Data) == 0 {
		return Principal{}, fmt.Errorf("passkey sign-in of admin %d: no challenge given: %w", c.AdminID, ErrUnauthenticated)
	}
	wa, err := s.relyingParty(origin)
	if err != nil {
		return Principal{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil {
		return Principal{}, fmt.Errorf("passkey sign-in of admin %d: %w", c.AdminID, err)
	}
	u, pks, err := s.passkeyUser(ctx, c.AdminID)
	if err != nil {
		return Principal{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Principal{}, fmt.Errorf("passkey sign-in of admin %d: %s: %w", c.AdminID, webauthnDetail(err), ErrUnauthenticated)
	}
	cred, err := wa.ValidateLogin(u, session, parsed)
	if err != nil {
		return Principal{}, fmt.Errorf("passkey sign-in of admin %d: %s: %w", c.AdminID, webauthnDetail(err), ErrUnauthenticated)
	}
	var pk store.Passkey
	for _, k := range pks {
		if string(k.CredentialID) == string(cred.ID) {
			pk = k
		}
	}
	p := s.principalOf(ctx, u.a).WithIP(remoteIP)
	if cred.Authenticator.CloneWarning {
		s.audit(ctx, p, s.adminTenant(ctx, u.a.Role, u.a.ScopeID), "passkey.replay", "admin "+u.a.Email, "passkey "+pk.Name+": sign counter did not move forward")
		return Principal{}, fmt.Errorf("passkey %d of admin %d: sign counter: %w: %w", pk.ID, c.AdminID, ErrUnauthenticated, store.ErrReplay)
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return Principal{}, err
	}
	if err := s.st.UsePasskey(ctx, c.AdminID, pk.ID, cred.Authenticator.SignCount, data, s.now()); err != nil {
		if errors.Is(err, store.ErrReplay) {
			s.audit(ctx, p, s.adminTenant(ctx, u.a.Role, u.a.ScopeID), "passkey.replay", "admin "+u.a.Email, "passkey "+pk.Name)
			return Principal{}, fmt.Errorf("passkey sign-in of admin %d: %w: %w", c.AdminID, ErrUnauthenticated, err)
		}
		return Principal{}, err
	}
	if err := s.codeRight(ctx, c.AdminID, pending); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// webauthnDetail is the library's reason for a refusal, for the log and
// the form's message.
func webauthnDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return err.Error()
}

// SecondFactors reports which second factors the administrator has: a
// TOTP key, passkeys.
func (s *Service) SecondFactors(ctx context.Context, adminID int64) (totp, passkey bool, err error) {
	a, err := s.st.AdminByID(ctx, store.AllScope(), adminID)
	if err != nil {
		return false, false, err
	}
	passkey, err = s.hasPasskeys(ctx, adminID)
	return a.TOTPSecret != "", passkey, err
}
