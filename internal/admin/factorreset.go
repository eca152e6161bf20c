package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/xtramail/xtramail/internal/store"
)

// Another administrator's second factors, from the console's admins page
// and the API (issue 15): listing their passkeys, removing one, and
// resetting them all with the TOTP key (a lost device). The target must
// be in p's subtree (else ErrNotFound, audited as a cross-tenant
// attempt). Removing is for a higher administrator: a provider
// administrator for anyone, others for administrators below their own
// level (a reseller admin for its customers' admins), never for a peer
// of the same scope, who could otherwise strip a colleague's second
// factor and, with a password set the same way, take the account over.
// An administrator resets their own TOTP key on their Account page,
// with a code of the current one; their own passkeys they may remove
// here too, as on that page.

// AdminPasskeys lists the passkeys of an administrator in p's scope.
func (s *Service) AdminPasskeys(ctx context.Context, p Principal, adminID int64) ([]PasskeyInfo, error) {
	a, err := s.changeAdmin(ctx, p, OpAdminList, adminID)
	if err != nil {
		return nil, err
	}
	pks, err := s.st.Passkeys(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("passkeys of %s: %w", a.Email, err)
	}
	out := make([]PasskeyInfo, len(pks))
	for i, pk := range pks {
		out[i] = PasskeyInfo{ID: pk.ID, Name: pk.Name, Created: pk.Created, LastUsed: pk.LastUsed}
	}
	return out, nil
}

// RemoveAdminPasskey removes one passkey of an administrator in p's
// scope: p's own, or one below p (see above). ErrNotFound when the
// administrator has no such passkey. Audited.
func (s *Service) RemoveAdminPasskey(ctx context.Context, p Principal, adminID, passkeyID int64) error {
	a, err := s.changeAdmin(ctx, p, OpTOTP, adminID)
	if err != nil {
		return err
	}
	if a.ID != p.AdminID || p.cli {
		if err := s.mayResetFactors(ctx, p, a); err != nil {
			return err
		}
	}
	pks, err := s.st.Passkeys(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("passkeys of %s: %w", a.Email, err)
	}
	name := ""
	for _, pk := range pks {
		if pk.ID == passkeyID {
			name = pk.Name
		}
	}
	if err := s.st.RemovePasskey(ctx, a.ID, passkeyID); err != nil {
		return fmt.Errorf("remove passkey %d of %s: %w", passkeyID, a.Email, err)
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpPasskey, "admin "+a.Email, "passkey removed: "+name)
	return nil
}

// FactorReset says what ResetSecondFactors removed.
type FactorReset struct {
	Email    string // the administrator's, as the reset found them
	TOTP     bool   // a TOTP key was enrolled
	Passkeys int
}

// ResetSecondFactors removes the TOTP key and every passkey of an
// administrator below p (see above): they enrol again at their next
// sign-in (a provider administrator must; others may). Their sessions
// end: one may be open on the lost device. Audited.
func (s *Service) ResetSecondFactors(ctx context.Context, p Principal, adminID int64) (FactorReset, error) {
	a, err := s.changeAdmin(ctx, p, OpTOTP, adminID)
	if err != nil {
		return FactorReset{}, err
	}
	if err := s.mayResetFactors(ctx, p, a); err != nil {
		return FactorReset{}, err
	}
	return s.resetFactors(ctx, p, a)
}

// mayResetFactors applies the rule above to a target already found in
// p's scope.
func (s *Service) mayResetFactors(ctx context.Context, p Principal, a store.Admin) error {
	if !p.cli && a.ID == p.AdminID {
		return fieldErr("id", "reset your own second factor on your Account page, with a code of the current one")
	}
	return s.notPeer(ctx, p, a, OpTOTP, "second factors")
}

// notPeer refuses (ErrForbidden, audited) an act on another
// administrator a, already found in p's scope, that only a higher
// administrator may do (the rule above): a is a peer when of p's role
// and scope. The command line and provider administrators have no peer
// for this rule; p's acts on themself are the caller's to judge.
func (s *Service) notPeer(ctx context.Context, p Principal, a store.Admin, op, what string) error {
	if p.cli || p.Role == store.RoleProvider || a.ID == p.AdminID || a.Role != p.Role || a.ScopeID != p.ScopeID {
		return nil
	}
	s.audit(ctx, p, p.actorTenant(), "forbidden", op, "admin "+a.Email+": a peer's "+what)
	return fmt.Errorf("%s may not act on the %s of %s, a peer: %w", p, what, a.Email, ErrForbidden)
}

// resetFactors removes a's TOTP key and passkeys and audits it.
func (s *Service) resetFactors(ctx context.Context, p Principal, a store.Admin) (FactorReset, error) {
	out := FactorReset{Email: a.Email, TOTP: a.TOTPSecret != ""}
	if err := s.st.SetAdminTOTP(ctx, p.Scope(), a.ID, ""); err != nil {
		return out, fmt.Errorf("remove TOTP key of %s: %w", a.Email, err)
	}
	// A lost device may hold the passkeys too: an admin left with one
	// of them could not sign in, so the reset takes every second factor.
	pks, err := s.st.Passkeys(ctx, a.ID)
	if err != nil {
		return out, fmt.Errorf("passkeys of %s: %w", a.Email, err)
	}
	for _, pk := range pks {
		if err := s.st.RemovePasskey(ctx, a.ID, pk.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return out, fmt.Errorf("remove passkey %q of %s: %w", pk.Name, a.Email, err)
		}
		out.Passkeys++
	}
	// A session may be open on the lost device: it ends too, whichever
	// front end asked for the reset.
	if err := s.endSessions(ctx, a); err != nil {
		return out, err
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpTOTP, "admin "+a.Email, fmt.Sprintf("removed (TOTP and %d passkeys)", len(pks)))
	return out, nil
}
