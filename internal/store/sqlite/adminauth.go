package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// adminAuthSchema keeps administrators' second-factor state
// (store.AdminAuth): challenges between requests, and code attempts.
const adminAuthSchema = `
CREATE TABLE admin_challenges (
	id_hash BLOB PRIMARY KEY,
	purpose TEXT NOT NULL,
	admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	created INTEGER NOT NULL, -- Unix milliseconds
	expires INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	secret TEXT NOT NULL DEFAULT '',
	data BLOB
) WITHOUT ROWID;
CREATE INDEX admin_challenges_expires ON admin_challenges(expires);
CREATE INDEX admin_challenges_admin ON admin_challenges(admin_id);

CREATE TABLE admin_code_attempts (
	admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	at INTEGER NOT NULL -- Unix milliseconds
);
CREATE INDEX admin_code_attempts_admin ON admin_code_attempts(admin_id, at);
`

// passkeySchema keeps administrators' passkeys (store.Passkeys).
const passkeySchema = `
CREATE TABLE passkeys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	credential_id BLOB NOT NULL UNIQUE,
	credential BLOB NOT NULL,
	sign_count INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_admin ON passkeys(admin_id);
`

const challengeCols = "id_hash, purpose, admin_id, created, expires, attempts, secret, data"

func scanChallenge(sc scanner) (store.AdminChallenge, error) {
	var c store.AdminChallenge
	var created, expires int64
	err := sc.Scan(&c.IDHash, &c.Purpose, &c.AdminID, &created, &expires, &c.Attempts, &c.Secret, &c.Data)
	c.Created, c.Expires = time.UnixMilli(created), time.UnixMilli(expires)
	return c, err
}

func (s *Store) CreateAdminChallenge(ctx context.Context, c store.AdminChallenge) error {
	if len(c.IDHash) == 0 || c.Purpose == "" || c.AdminID <= 0 {
		return fmt.Errorf("admin challenge without id, purpose or admin: %w", store.ErrInvalid)
	}
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM admin_challenges WHERE expires <= ?", c.Created.UnixMilli()); err != nil {
			return fmt.Errorf("drop expired admin challenges: %w", err)
		}
		_, err := t.Exec("INSERT INTO admin_challenges ("+challengeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			c.IDHash, c.Purpose, c.AdminID, c.Created.UnixMilli(), c.Expires.UnixMilli(), c.Attempts, c.Secret, c.Data)
		switch {
		case err != nil && strings.Contains(err.Error(), "UNIQUE"):
			return fmt.Errorf("create admin challenge: %w", store.ErrExists)
		case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
			return fmt.Errorf("create admin challenge for admin %d: %w", c.AdminID, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("create admin challenge: %w", err)
		}
		return nil
	})
}

func (s *Store) AdminChallenge(ctx context.Context, idHash []byte, now time.Time) (store.AdminChallenge, error) {
	c, err := scanChallenge(s.queryRow(ctx, "SELECT "+challengeCols+" FROM admin_challenges WHERE id_hash = ? AND expires > ?", idHash, now.UnixMilli()))
	if err != nil {
		return store.AdminChallenge{}, notFound(err, "admin challenge")
	}
	return c, nil
}

func (s *Store) TryAdminChallenge(ctx context.Context, idHash []byte, now time.Time) (store.AdminChallenge, error) {
	var c store.AdminChallenge
	err := s.write(ctx, func(t *tx) error {
		var err error
		c, err = scanChallenge(t.QueryRow("UPDATE admin_challenges SET attempts = attempts + 1 WHERE id_hash = ? AND expires > ? RETURNING "+challengeCols,
			idHash, now.UnixMilli()))
		if err != nil {
			return notFound(err, "admin challenge")
		}
		return nil
	})
	return c, err
}

func (s *Store) SetAdminChallenge(ctx context.Context, idHash []byte, secret string, data []byte) error {
	return s.updateOne(ctx, "admin challenge", "UPDATE admin_challenges SET secret = ?, data = ? WHERE id_hash = ?", secret, data, idHash)
}

func (s *Store) DeleteAdminChallenge(ctx context.Context, idHash []byte) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM admin_challenges WHERE id_hash = ?", idHash); err != nil {
			return fmt.Errorf("delete admin challenge: %w", err)
		}
		return nil
	})
}

func (s *Store) CountAdminCodeAttempt(ctx context.Context, adminID int64, at, since time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM admin_code_attempts WHERE admin_id = ? AND at < ?", adminID, since.UnixMilli()); err != nil {
			return fmt.Errorf("drop old code attempts of admin %d: %w", adminID, err)
		}
		if _, err := t.Exec("INSERT INTO admin_code_attempts (admin_id, at) VALUES (?, ?)", adminID, at.UnixMilli()); err != nil {
			if strings.Contains(err.Error(), "FOREIGN KEY") {
				return fmt.Errorf("code attempt of admin %d: %w", adminID, store.ErrNotFound)
			}
			return fmt.Errorf("record code attempt of admin %d: %w", adminID, err)
		}
		return t.QueryRow("SELECT count(*) FROM admin_code_attempts WHERE admin_id = ?", adminID).Scan(&n)
	})
	return n, err
}

func (s *Store) ClearAdminCodeAttempts(ctx context.Context, adminID int64) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM admin_code_attempts WHERE admin_id = ?", adminID); err != nil {
			return fmt.Errorf("clear code attempts of admin %d: %w", adminID, err)
		}
		return nil
	})
}

const passkeyCols = "id, admin_id, name, credential_id, credential, sign_count, created, last_used"

func scanPasskey(sc scanner) (store.Passkey, error) {
	var p store.Passkey
	var created, used int64
	err := sc.Scan(&p.ID, &p.AdminID, &p.Name, &p.CredentialID, &p.Credential, &p.SignCount, &created, &used)
	p.Created = time.UnixMilli(created)
	if used != 0 {
		p.LastUsed = time.UnixMilli(used)
	}
	return p, err
}

func (s *Store) AddPasskey(ctx context.Context, p store.Passkey) (store.Passkey, error) {
	if p.AdminID <= 0 || len(p.CredentialID) == 0 || len(p.Credential) == 0 || p.Name == "" {
		return store.Passkey{}, fmt.Errorf("passkey without admin, credential or name: %w", store.ErrInvalid)
	}
	err := s.write(ctx, func(t *tx) error {
		var err error
		p, err = scanPasskey(t.QueryRow("INSERT INTO passkeys (admin_id, name, credential_id, credential, sign_count, created) VALUES (?, ?, ?, ?, ?, ?) RETURNING "+passkeyCols,
			p.AdminID, p.Name, p.CredentialID, p.Credential, p.SignCount, p.Created.UnixMilli()))
		switch {
		case err != nil && strings.Contains(err.Error(), "UNIQUE"):
			return fmt.Errorf("add passkey of admin %d: %w", p.AdminID, store.ErrExists)
		case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
			return fmt.Errorf("add passkey of admin %d: %w", p.AdminID, store.ErrNotFound)
		case err != nil:
			return fmt.Errorf("add passkey of admin %d: %w", p.AdminID, err)
		}
		return nil
	})
	return p, err
}

func (s *Store) Passkeys(ctx context.Context, adminID int64) ([]store.Passkey, error) {
	return queryList(s, ctx, "list passkeys", scanPasskey, "SELECT "+passkeyCols+" FROM passkeys WHERE admin_id = ? ORDER BY id", adminID)
}

func (s *Store) UsePasskey(ctx context.Context, adminID, id int64, signCount uint32, credential []byte, at time.Time) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.Exec(`UPDATE passkeys SET sign_count = ?, credential = ?, last_used = ?
			WHERE id = ? AND admin_id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
			signCount, credential, at.UnixMilli(), id, adminID, signCount, signCount)
		if err != nil {
			return fmt.Errorf("record use of passkey %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := t.QueryRow("SELECT 1 FROM passkeys WHERE id = ? AND admin_id = ?", id, adminID).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("passkey %d of admin %d", id, adminID))
		}
		return fmt.Errorf("passkey %d: sign counter %d not above the stored one: %w", id, signCount, store.ErrReplay)
	})
}

func (s *Store) RemovePasskey(ctx context.Context, adminID, id int64) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.Exec("DELETE FROM passkeys WHERE id = ? AND admin_id = ?", id, adminID)
		if err != nil {
			return fmt.Errorf("remove passkey %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("passkey %d of admin %d: %w", id, adminID, store.ErrNotFound)
		}
		return nil
	})
}
