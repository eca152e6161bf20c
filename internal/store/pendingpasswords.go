package store

import (
	"context"
	"time"
)

// PendingPasswordHash is the password_hash of an account whose password
// was given (by a bulk import) but not hashed yet: its sealed copy waits
// in PendingPasswords. Verifying against it fails (it is no PHC string),
// so a front end that reads it must finish the row first (or refuse).
const PendingPasswordHash = "$pending$"

// PendingPassword is an account's password waiting to be hashed: the
// caller's sealed (encrypted) copy, never the clear text.
type PendingPassword struct {
	AccountID int64
	Address   string
	Sealed    []byte
	// Batch names what added it (a console import job), for progress.
	Batch   string
	Created time.Time
}

// PendingPasswords keeps passwords that a bulk import stored before
// hashing them (AddAccounts with NewAccount.Sealed), so that 10,000
// addresses are written at once and hashed after, by a bounded
// background job that resumes from here after a restart (issue 15). The
// account's password_hash is PendingPasswordHash meanwhile. Any change of
// the account's password (SetAccountPassword, SetAccountPasswords,
// FinishPendingPasswords) drops its pending row in the same write, and
// removing the account drops it too.
type PendingPasswords interface {
	// PendingPasswords returns up to limit rows, oldest first.
	PendingPasswords(ctx context.Context, limit int) ([]PendingPassword, error)
	// PendingPasswordOf returns address's pending row; ErrNotFound when
	// it has none.
	PendingPasswordOf(ctx context.Context, address string) (PendingPassword, error)
	// FinishPendingPasswords sets each account's hash, in one durable
	// write, where its password_hash is still PendingPasswordHash (a
	// password set meanwhile wins), and drops the rows' pending copies
	// either way. A hash of "" leaves the account without a password (a
	// copy that could not be unsealed, or expired).
	FinishPendingPasswords(ctx context.Context, rows []FinishedPassword) error
	// PendingPasswordCount counts the rows of batch still pending.
	PendingPasswordCount(ctx context.Context, batch string) (int, error)
}

// FinishedPassword is one row of FinishPendingPasswords.
type FinishedPassword struct {
	AccountID    int64
	PasswordHash string
}
