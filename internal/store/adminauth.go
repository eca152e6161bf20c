package store

import (
	"context"
	"time"
)

// Purposes of an AdminChallenge.
const (
	// ChallengeSignIn: the password was right and the second factor
	// (TOTP code, enrolment or passkey) is still to come.
	ChallengeSignIn = "signin"
	// ChallengeTOTPReset: a signed-in administrator gave a code of the
	// current TOTP secret; Secret is the new one, awaiting a code.
	ChallengeTOTPReset = "totp-reset"
	// ChallengePasskey: a signed-in administrator is registering a
	// passkey; Data is the WebAuthn ceremony's session data.
	ChallengePasskey = "passkey-register"
)

// AdminChallenge is one step of an administrator's authentication that
// spans requests: the state between the password and the second factor,
// a TOTP secret shown and not yet confirmed, a WebAuthn challenge. It is
// kept in the store, not in a node's memory, so that the next request may
// reach any node and a restart in between loses nothing. The browser
// holds a random id; the store knows only its hash (IDHash), so that a
// copy of the database hands out no sign-in half done.
type AdminChallenge struct {
	IDHash  []byte // SHA-256 of the id the browser holds
	Purpose string // ChallengeSignIn, ChallengeTOTPReset, ChallengePasskey
	AdminID int64
	Created time.Time
	Expires time.Time
	// Attempts counts the codes or assertions tried against it
	// (TryAdminChallenge), so that one challenge allows a bounded number.
	Attempts int
	// Secret is a TOTP secret (base32) being enrolled: shown to the
	// administrator, not theirs until a code made from it is right.
	Secret string
	// Data is the WebAuthn ceremony's session data (the challenge and
	// what it allows), opaque to the store.
	Data []byte
}

// AdminAuth keeps what administrators' second factors need across
// requests and nodes. Expiry and limits are the caller's policy: the
// store keeps, counts and finds.
type AdminAuth interface {
	// CreateAdminChallenge stores c (ErrExists for an IDHash already
	// there). In the same write it drops every challenge expired at
	// c.Created, so that abandoned ones do not pile up.
	CreateAdminChallenge(ctx context.Context, c AdminChallenge) error
	// AdminChallenge finds a challenge that has not expired at now:
	// ErrNotFound when it never existed, was deleted or has expired.
	AdminChallenge(ctx context.Context, idHash []byte, now time.Time) (AdminChallenge, error)
	// TryAdminChallenge counts one attempt against a challenge that has
	// not expired at now and returns it with the count after this one,
	// atomically: concurrent attempts on any node each get their own
	// count. ErrNotFound as for AdminChallenge.
	TryAdminChallenge(ctx context.Context, idHash []byte, now time.Time) (AdminChallenge, error)
	// SetAdminChallenge replaces a live challenge's Secret and Data
	// (ErrNotFound when it is gone).
	SetAdminChallenge(ctx context.Context, idHash []byte, secret string, data []byte) error
	// DeleteAdminChallenge removes one; removing one that is gone is not
	// an error (it was used on another node, or expired).
	DeleteAdminChallenge(ctx context.Context, idHash []byte) error

	// CountAdminCodeAttempt records one second-factor attempt of the
	// administrator at at, drops their attempts before since, and
	// returns how many are left at or after since, this one included,
	// in one write: the count bounds guesses across every pending
	// sign-in and node, and concurrent attempts cannot all see a low
	// count. ClearAdminCodeAttempts forgets them (a right code).
	CountAdminCodeAttempt(ctx context.Context, adminID int64, at, since time.Time) (int, error)
	ClearAdminCodeAttempts(ctx context.Context, adminID int64) error

	Passkeys
}

// Passkey is a WebAuthn credential an administrator registered as a
// second factor (issue 15): named by them, kept with its public key and
// sign counter.
type Passkey struct {
	ID      int64
	AdminID int64
	Name    string
	// CredentialID is the authenticator's id of the credential (unique
	// over all administrators).
	CredentialID []byte
	// Credential is the whole credential record (public key, flags,
	// authenticator data) as the WebAuthn library encodes it: opaque to
	// the store.
	Credential []byte
	// SignCount is the authenticator's signature counter at the last
	// sign-in (WebAuthn section 6.1.1).
	SignCount uint32
	Created   time.Time
	LastUsed  time.Time // zero: never used to sign in
}

// Passkeys keeps administrators' passkeys.
type Passkeys interface {
	// AddPasskey stores a new passkey: ErrExists when its CredentialID is
	// registered already, ErrNotFound when the administrator is not
	// there.
	AddPasskey(ctx context.Context, p Passkey) (Passkey, error)
	// Passkeys lists an administrator's passkeys, oldest first.
	Passkeys(ctx context.Context, adminID int64) ([]Passkey, error)
	// UsePasskey records a sign-in with the administrator's passkey id:
	// the credential record and sign counter are replaced, atomically,
	// only if signCount is above the stored counter, or both are 0 (an
	// authenticator that keeps no counter). Otherwise it is ErrReplay: an
	// assertion seen before, or a cloned authenticator (WebAuthn section
	// 6.1.1). ErrNotFound when the passkey is gone.
	UsePasskey(ctx context.Context, adminID, id int64, signCount uint32, credential []byte, at time.Time) error
	// RemovePasskey deletes one of the administrator's passkeys
	// (ErrNotFound when they have no such passkey).
	RemovePasskey(ctx context.Context, adminID, id int64) error
}
