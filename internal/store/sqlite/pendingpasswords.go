package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// pendingPasswordsSchema keeps imported passwords until the background
// job hashes them (store.PendingPasswords). The trigger drops a row once
// its account's password changes, whoever changes it, so that a sealed
// copy never outlives its use; the foreign key drops it with the account.
const pendingPasswordsSchema = `
CREATE TABLE IF NOT EXISTS password_pending (
	account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	sealed BLOB NOT NULL,
	batch TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL -- Unix milliseconds
);
CREATE INDEX IF NOT EXISTS password_pending_batch ON password_pending(batch);
CREATE TRIGGER IF NOT EXISTS password_pending_done AFTER UPDATE OF password_hash ON accounts
WHEN NEW.password_hash <> '$pending$'
BEGIN
	DELETE FROM password_pending WHERE account_id = NEW.id;
END;
`

func scanPending(sc scanner) (store.PendingPassword, error) {
	var p store.PendingPassword
	var created int64
	err := sc.Scan(&p.AccountID, &p.Address, &p.Sealed, &p.Batch, &created)
	p.Created = time.UnixMilli(created)
	return p, err
}

const pendingCols = "p.account_id, a.address, p.sealed, p.batch, p.created"

func (s *Store) PendingPasswords(ctx context.Context, limit int) ([]store.PendingPassword, error) {
	return queryList(s, ctx, "list pending passwords", scanPending,
		"SELECT "+pendingCols+" FROM password_pending p JOIN accounts a ON a.id = p.account_id ORDER BY p.created, p.account_id LIMIT ?", limit)
}

func (s *Store) PendingPasswordOf(ctx context.Context, address string) (store.PendingPassword, error) {
	addr := strings.ToLower(strings.TrimSpace(address))
	p, err := scanPending(s.queryRow(ctx, "SELECT "+pendingCols+" FROM password_pending p JOIN accounts a ON a.id = p.account_id WHERE a.address = ?", addr))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("pending password of %s: %w", addr, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("pending password of %s: %w", addr, err)
	}
	return p, nil
}

func (s *Store) FinishPendingPasswords(ctx context.Context, rows []store.FinishedPassword) error {
	if len(rows) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		upd, err := t.Tx.Prepare("UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?")
		if err != nil {
			return fmt.Errorf("prepare pending password update: %w", err)
		}
		defer upd.Close()
		del, err := t.Tx.Prepare("DELETE FROM password_pending WHERE account_id = ?")
		if err != nil {
			return fmt.Errorf("prepare pending password delete: %w", err)
		}
		defer del.Close()
		for _, r := range rows {
			if _, err := upd.Exec(r.PasswordHash, r.AccountID, store.PendingPasswordHash); err != nil {
				return fmt.Errorf("finish password of account %d: %w", r.AccountID, err)
			}
			// The trigger dropped it when the hash was set; not when a
			// password set meanwhile had done so already.
			if _, err := del.Exec(r.AccountID); err != nil {
				return fmt.Errorf("drop pending password of account %d: %w", r.AccountID, err)
			}
		}
		return nil
	})
}

func (s *Store) PendingPasswordCount(ctx context.Context, batch string) (int, error) {
	var n int
	if err := s.queryRow(ctx, "SELECT count(*) FROM password_pending WHERE batch = ?", batch).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending passwords of %q: %w", batch, err)
	}
	return n, nil
}
