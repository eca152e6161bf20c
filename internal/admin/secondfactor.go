package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// Second factors span requests: the password on one, the code (or
// passkey) on the next, perhaps on another node behind a load balancer,
// perhaps after a restart. So everything between the steps is in the
// store (store.AdminAuth), never in this process: the pending sign-in,
// the TOTP secret shown and not yet confirmed, the count of codes tried.
// The browser holds a random id (a cookie, or a form field for a
// signed-in administrator's own changes); the store knows only its
// SHA-256.
//
// Codes are bounded twice, and both counts are taken in the store before
// a code is checked, so that racing requests on many nodes cannot try
// more: pendingTries codes per pending sign-in (then the password is
// needed again), and codeTriesMax codes per administrator within
// codeWindow across all of their pending sign-ins (someone holding the
// password cannot open sign-ins until one code is right). A 6-digit code
// has a million values and three are right at any moment (the step and
// one either side), so 5 tries per 15 minutes give a guesser about 0.15%
// a day.

const (
	// PendingTTL bounds the time between the password and the second
	// factor.
	PendingTTL   = 5 * time.Minute
	pendingTries = 5
	codeTriesMax = 5
	codeWindow   = 15 * time.Minute
	// resetTTL bounds a signed-in administrator's TOTP re-enrolment
	// between the current code and the new one.
	resetTTL = 10 * time.Minute
)

// ErrExpired: the pending sign-in or change is gone (too old, used, or
// ended by too many wrong codes); start again.
var ErrExpired = errors.New("expired")

// newChallengeID returns a random id for the browser and its hash for
// the store.
func newChallengeID() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	return id, challengeHash(id)
}

func challengeHash(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// createChallenge stores a new challenge of purpose for adminID.
func (s *Service) createChallenge(ctx context.Context, purpose string, adminID int64, ttl time.Duration, secret string, data []byte) (string, error) {
	id, hash := newChallengeID()
	now := s.now()
	err := s.st.CreateAdminChallenge(ctx, store.AdminChallenge{IDHash: hash, Purpose: purpose, AdminID: adminID,
		Created: now, Expires: now.Add(ttl), Secret: secret, Data: data})
	if err != nil {
		return "", fmt.Errorf("start %s of admin %d: %w", purpose, adminID, err)
	}
	return id, nil
}

// challenge finds a live challenge of purpose (and of adminID, unless 0).
func (s *Service) challenge(ctx context.Context, id, purpose string, adminID int64) (store.AdminChallenge, error) {
	if id == "" || len(id) > 64 {
		return store.AdminChallenge{}, fmt.Errorf("%s: no id: %w", purpose, ErrExpired)
	}
	c, err := s.st.AdminChallenge(ctx, challengeHash(id), s.now())
	return checkChallenge(c, err, purpose, adminID)
}

func checkChallenge(c store.AdminChallenge, err error, purpose string, adminID int64) (store.AdminChallenge, error) {
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("%s: %w", purpose, ErrExpired)
	}
	if err != nil {
		return c, err
	}
	if c.Purpose != purpose || adminID != 0 && c.AdminID != adminID {
		return c, fmt.Errorf("%s: a challenge of another kind or admin: %w", purpose, ErrExpired)
	}
	return c, nil
}

// tryChallenge counts one attempt against a live challenge, then one
// against its administrator; either over its bound refuses the attempt
// (auth.ErrThrottled), and a challenge over its bound is ended.
func (s *Service) tryChallenge(ctx context.Context, id, purpose string, adminID int64) (store.AdminChallenge, error) {
	if id == "" || len(id) > 64 {
		return store.AdminChallenge{}, fmt.Errorf("%s: no id: %w", purpose, ErrExpired)
	}
	hash := challengeHash(id)
	c, err := s.st.TryAdminChallenge(ctx, hash, s.now())
	if c, err = checkChallenge(c, err, purpose, adminID); err != nil {
		return c, err
	}
	if c.Attempts > pendingTries {
		if err := s.st.DeleteAdminChallenge(ctx, hash); err != nil {
			return c, err
		}
		return c, fmt.Errorf("%s of admin %d: %d attempts: %w: %w", purpose, c.AdminID, c.Attempts, ErrExpired, auth.ErrThrottled)
	}
	if err := s.countCode(ctx, c.AdminID); err != nil {
		return c, err
	}
	return c, nil
}

// countCode counts one second-factor attempt of the administrator,
// refused past codeTriesMax within codeWindow.
func (s *Service) countCode(ctx context.Context, adminID int64) error {
	now := s.now()
	n, err := s.st.CountAdminCodeAttempt(ctx, adminID, now, now.Add(-codeWindow))
	if err != nil {
		return fmt.Errorf("count code attempt of admin %d: %w", adminID, err)
	}
	if n > codeTriesMax {
		return fmt.Errorf("admin %d: %d codes within %v: %w", adminID, n, codeWindow, auth.ErrThrottled)
	}
	return nil
}

// codeRight ends a successful second factor: the administrator's count
// of attempts starts again and the challenge is used up.
func (s *Service) codeRight(ctx context.Context, adminID int64, id string) error {
	if err := s.st.ClearAdminCodeAttempts(ctx, adminID); err != nil {
		return fmt.Errorf("clear code attempts of admin %d: %w", adminID, err)
	}
	if err := s.st.DeleteAdminChallenge(ctx, challengeHash(id)); err != nil {
		return fmt.Errorf("end challenge of admin %d: %w", adminID, err)
	}
	return nil
}

// PendingSignIn returns the administrator of a pending sign-in (the
// password was right, the second factor is to come): ErrExpired when it
// is gone, ErrUnauthenticated when the administrator was disabled or
// removed since.
func (s *Service) PendingSignIn(ctx context.Context, pending string) (Principal, error) {
	c, err := s.challenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return Principal{}, err
	}
	return s.PrincipalByID(ctx, c.AdminID)
}

// EndSignIn forgets a pending sign-in (the browser started again).
func (s *Service) EndSignIn(ctx context.Context, pending string) error {
	if pending == "" {
		return nil
	}
	return s.st.DeleteAdminChallenge(ctx, challengeHash(pending))
}

// SignInTOTP is the second step of a pending sign-in with a TOTP code:
// the Principal once the code is right. A wrong or replayed code is
// ErrUnauthenticated; too many are auth.ErrThrottled; a pending sign-in
// that is gone is ErrExpired.
func (s *Service) SignInTOTP(ctx context.Context, pending, code, remoteIP string) (Principal, error) {
	c, err := s.tryChallenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return Principal{}, err
	}
	if err := s.verifyTOTP(ctx, c.AdminID, code); err != nil {
		return Principal{}, err
	}
	if err := s.codeRight(ctx, c.AdminID, pending); err != nil {
		return Principal{}, err
	}
	p, err := s.PrincipalByID(ctx, c.AdminID)
	return p.WithIP(remoteIP), err
}

// PendingEnrollment returns the TOTP secret that a pending sign-in of an
// administrator without a second factor enrols: made at the first call
// and kept in the pending sign-in (never in the form), so that showing
// the page again shows the same QR code, on any node.
func (s *Service) PendingEnrollment(ctx context.Context, pending string) (TOTPEnrollment, error) {
	c, err := s.challenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	a, err := s.st.AdminByID(ctx, store.AllScope(), c.AdminID)
	if err != nil || a.Disabled {
		return TOTPEnrollment{}, fmt.Errorf("enrolment of admin %d: %w", c.AdminID, ErrUnauthenticated)
	}
	if a.TOTPSecret != "" {
		return TOTPEnrollment{}, fmt.Errorf("admin %d has a second factor already: %w", a.ID, ErrForbidden)
	}
	if c.Secret != "" {
		return s.enrollment(a.Email, c.Secret)
	}
	en, err := s.newTOTP(a.Email)
	if err != nil {
		return en, err
	}
	if err := s.st.SetAdminChallenge(ctx, c.IDHash, en.Secret, c.Data); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("keep TOTP secret of admin %d: %w", a.ID, err)
	}
	return en, nil
}

// SignInEnrol is the second step of a pending sign-in that enrols: the
// code must come from the secret PendingEnrollment showed, which then
// becomes the administrator's. Errors as SignInTOTP.
func (s *Service) SignInEnrol(ctx context.Context, pending, code, remoteIP string) (Principal, error) {
	c, err := s.tryChallenge(ctx, pending, store.ChallengeSignIn, 0)
	if err != nil {
		return Principal{}, err
	}
	if c.Secret == "" {
		return Principal{}, fmt.Errorf("enrolment of admin %d: no secret shown: %w", c.AdminID, ErrExpired)
	}
	p, err := s.PrincipalByID(ctx, c.AdminID)
	if err != nil {
		return Principal{}, err
	}
	p = p.WithIP(remoteIP)
	if err := s.confirmTOTP(ctx, p, c.Secret, code, "enrolled"); err != nil {
		return Principal{}, err
	}
	if err := s.codeRight(ctx, c.AdminID, pending); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// TOTPReset is a signed-in administrator's re-enrolment in progress: the
// new secret to show, and the id that ConfirmTOTPReset takes.
type TOTPReset struct {
	ID string
	TOTPEnrollment
}

// BeginTOTPReset starts a signed-in administrator's own re-enrolment (a
// new phone, a secret that may have been seen): current must be a code
// of their current secret (none is asked of one without a second
// factor: this is then their first enrolment). The new secret is kept in
// the store until a code made from it is right (ConfirmTOTPReset); until
// then the current one stays. Wrong codes count as at sign-in.
func (s *Service) BeginTOTPReset(ctx context.Context, p Principal, current string) (TOTPReset, error) {
	if p.cli || p.AdminID == 0 {
		return TOTPReset{}, fmt.Errorf("TOTP is for a signed-in admin: %w", ErrForbidden)
	}
	a, err := s.st.AdminByID(ctx, store.AllScope(), p.AdminID)
	if err != nil || a.Disabled {
		return TOTPReset{}, fmt.Errorf("TOTP reset of admin %d: %w", p.AdminID, ErrUnauthenticated)
	}
	if a.TOTPSecret != "" {
		if err := s.countCode(ctx, a.ID); err != nil {
			return TOTPReset{}, err
		}
		if err := s.verifyTOTP(ctx, a.ID, current); err != nil {
			return TOTPReset{}, err
		}
		if err := s.st.ClearAdminCodeAttempts(ctx, a.ID); err != nil {
			return TOTPReset{}, err
		}
	}
	en, err := s.newTOTP(a.Email)
	if err != nil {
		return TOTPReset{}, err
	}
	id, err := s.createChallenge(ctx, store.ChallengeTOTPReset, a.ID, resetTTL, en.Secret, nil)
	if err != nil {
		return TOTPReset{}, err
	}
	s.audit(ctx, p, s.adminTenant(ctx, a.Role, a.ScopeID), OpTOTP, "admin "+a.Email, "re-enrolment started")
	return TOTPReset{ID: id, TOTPEnrollment: en}, nil
}

// TOTPResetEnrollment returns the new secret of p's re-enrolment id
// again (to show the page again after a wrong code).
func (s *Service) TOTPResetEnrollment(ctx context.Context, p Principal, id string) (TOTPReset, error) {
	c, err := s.challenge(ctx, id, store.ChallengeTOTPReset, p.AdminID)
	if err != nil {
		return TOTPReset{}, err
	}
	en, err := s.enrollment(p.Email, c.Secret)
	return TOTPReset{ID: id, TOTPEnrollment: en}, err
}

// ConfirmTOTPReset ends p's re-enrolment id: code must come from the new
// secret, which then replaces the current one (audited). Errors as
// SignInTOTP; a wrong code keeps the re-enrolment open, within its
// bounds.
func (s *Service) ConfirmTOTPReset(ctx context.Context, p Principal, id, code string) error {
	if p.cli || p.AdminID == 0 {
		return fmt.Errorf("TOTP is for a signed-in admin: %w", ErrForbidden)
	}
	c, err := s.tryChallenge(ctx, id, store.ChallengeTOTPReset, p.AdminID)
	if err != nil {
		return err
	}
	if err := s.confirmTOTP(ctx, p, c.Secret, code, "re-enrolled: new secret"); err != nil {
		return err
	}
	return s.codeRight(ctx, p.AdminID, id)
}

// enrollment is the otpauth URL of an existing secret (base32, as
// newTOTP made it).
func (s *Service) enrollment(email, secret string) (TOTPEnrollment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("TOTP secret of %s: %w", email, err)
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.opts.Issuer, AccountName: email, Secret: raw})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("TOTP key of %s: %w", email, err)
	}
	return TOTPEnrollment{Secret: k.Secret(), URL: k.URL()}, nil
}

// newTOTP makes a new TOTP secret for email.
func (s *Service) newTOTP(email string) (TOTPEnrollment, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: s.opts.Issuer, AccountName: email})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return TOTPEnrollment{Secret: k.Secret(), URL: k.URL()}, nil
}

// Own returns the signed-in administrator p as lists show them: their
// own account page needs no permission beyond being signed in.
func (s *Service) Own(ctx context.Context, p Principal) (AdminInfo, error) {
	if p.cli || p.AdminID == 0 {
		return AdminInfo{}, fmt.Errorf("own account: not a signed-in admin: %w", ErrForbidden)
	}
	a, err := s.st.AdminByID(ctx, store.AllScope(), p.AdminID)
	if err != nil {
		return AdminInfo{}, err
	}
	return adminInfo(a), nil
}
