package admin

// Passwords a person chose, given in bulk (a CSV import), are not hashed
// on the import's path: at the full argon2id cost (auth.DefaultParams,
// about 25 ms of one core each) 10,000 of them take over four minutes
// on one worker, while an import must finish in seconds and leave hash
// slots to sign-ins (issue 15). So the import stores each address at
// once, enabled, with its password sealed (AES-256-GCM under the
// service's seal key, never in clear) in store.PendingPasswords, and
// this file hashes those copies:
//
//   - RunPendingPasswords, started by the service, works through them
//     oldest first on bulkHashWorkers workers (sign-ins keep a slot),
//     and resumes from the store after a restart or on another node
//     with the same key;
//   - a sign-in that finds its address still pending compares the
//     password with the unsealed one and hashes it once, storing the
//     hash on a match (PendingCredential, auth.PendingPassword): one
//     hash, as for any sign-in, and every imported address can sign in
//     from the moment the import wrote it.
//
// What is kept where and for how long: the sealed copy lives in the
// database from the import until its hash is written (the job's pace,
// seconds to minutes), at most pendingPasswordTTL (then dropped, the
// address left without a password, logged); a password set meanwhile
// drops it in the same write. The seal key lives in a file of the data
// directory (service: password-seal.key, 0600), so a copy of the database
// alone reveals no password. Memory holds a clear password only while
// one hash of it runs.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// SealKeySize is the length of Options.SealKey (AES-256).
const SealKeySize = 32

// pendingPasswordTTL bounds how long a sealed copy may wait.
const pendingPasswordTTL = 24 * time.Hour

// pendingBatch is how many pending rows the job hashes per store write.
const pendingBatch = 64

// pendingPoll is how often the job looks for rows nobody told it of
// (another node's import, rows left by a restart).
const pendingPoll = time.Minute

// sealer seals and opens pending passwords.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	if len(key) != SealKeySize {
		return sealer{}, fmt.Errorf("password seal key: %d bytes, want %d", len(key), SealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, fmt.Errorf("password seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("password seal key: %w", err)
	}
	return sealer{aead}, nil
}

// sealAAD binds a sealed copy to its address: a copy moved to another
// row does not open.
func sealAAD(address string) []byte { return []byte("xtramail pending password\x00" + address) }

func (s sealer) seal(address, password string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(password)+s.aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
	return s.aead.Seal(nonce, nonce, []byte(password), sealAAD(address))
}

func (s sealer) open(address string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed password too short")
	}
	pw, err := s.aead.Open(nil, sealed[:n], sealed[n:], sealAAD(address))
	if err != nil {
		return "", fmt.Errorf("open sealed password of %s: %w", address, err)
	}
	return string(pw), nil
}

// wakePending tells RunPendingPasswords that an import added rows.
func (s *Service) wakePending() {
	select {
	case s.pendingWake <- struct{}{}:
	default:
	}
}

// RunPendingPasswords hashes pending passwords until ctx ends: at once
// when an import adds some, and every pendingPoll for rows another node
// or an earlier run left.
func (s *Service) RunPendingPasswords(ctx context.Context) {
	t := time.NewTicker(pendingPoll)
	defer t.Stop()
	for {
		for {
			n, err := s.HashPendingPasswords(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("hash pending passwords", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.pendingWake:
		case <-t.C:
		}
	}
}

// HashPendingPasswords hashes one batch of pending passwords (the oldest)
// and returns how many rows it settled; 0 when none wait.
func (s *Service) HashPendingPasswords(ctx context.Context) (int, error) {
	rows, err := s.st.PendingPasswords(ctx, pendingBatch)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	jobs := make([]hashJob, len(rows))
	done := make([]store.FinishedPassword, len(rows))
	for i, r := range rows {
		done[i].AccountID = r.AccountID
		pw, err := s.openPending(r)
		if err != nil {
			s.log.Warn("pending password dropped: the address has none until one is set", "address", r.Address, "err", err)
			continue
		}
		jobs[i] = hashJob{password: pw, params: s.hasher.Params()}
	}
	s.hashJobs(ctx, jobs)
	for i, j := range jobs {
		if j.err != nil {
			return 0, fmt.Errorf("hash pending password of %s: %w", rows[i].Address, j.err)
		}
		done[i].PasswordHash = j.hash
	}
	if err := s.st.FinishPendingPasswords(ctx, done); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// openPending returns the clear password of a pending row, or why it
// cannot be used (expired, sealed under another key).
func (s *Service) openPending(r store.PendingPassword) (string, error) {
	if s.now().Sub(r.Created) > pendingPasswordTTL {
		return "", fmt.Errorf("waited since %v, over %v", r.Created.UTC().Format(time.RFC3339), pendingPasswordTTL)
	}
	return s.seal.open(r.Address, r.Sealed)
}

// PendingCredential is what a sign-in needs of an address whose account
// still reads store.PendingPasswordHash (the webmail, IMAP and submission
// sign-ins meet it through the service's lookup): its pending password
// in clear, for auth.Authenticator to compare and hash once (see
// auth.PendingPassword: the same work as any other sign-in), or, when
// the job settled the row meanwhile, the account's hash. Both empty:
// the address has no password (its sealed copy expired or does not open,
// and is dropped here).
func (s *Service) PendingCredential(ctx context.Context, address string) (hash string, pending *auth.PendingPassword, err error) {
	r, err := s.st.PendingPasswordOf(ctx, address)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a, err := s.st.Account(ctx, address)
		if err != nil {
			return "", nil, fmt.Errorf("account %s after its pending password: %w", address, err)
		}
		if a.PasswordHash == store.PendingPasswordHash {
			return "", nil, nil
		}
		return a.PasswordHash, nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("pending password of %s: %w", address, err)
	}
	pw, err := s.openPending(r)
	if err != nil {
		s.log.Warn("pending password dropped: the address has none until one is set", "address", r.Address, "err", err)
		if err := s.st.FinishPendingPasswords(ctx, []store.FinishedPassword{{AccountID: r.AccountID}}); err != nil {
			return "", nil, err
		}
		return "", nil, nil
	}
	store1 := func(ctx context.Context, hash string) error {
		return s.st.FinishPendingPasswords(ctx, []store.FinishedPassword{{AccountID: r.AccountID, PasswordHash: hash}})
	}
	return "", &auth.PendingPassword{Clear: pw, Store: store1}, nil
}

// PendingPasswordCount counts the passwords of an import (ImportOptions.
// Batch) still waiting to be hashed.
func (s *Service) PendingPasswordCount(ctx context.Context, batch string) (int, error) {
	return s.st.PendingPasswordCount(ctx, batch)
}
