package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// sendLimitSchema is the migration step of the sending limit (issue 13
// part 3, store/sendlimit.go): one row per counted send. Each account's
// rows older than its window are deleted when it sends again, so an
// account holds at most its limit of rows.
const sendLimitSchema = `
CREATE TABLE sends (
	account_id INTEGER NOT NULL,
	time INTEGER NOT NULL -- Unix ms
);
CREATE INDEX sends_account_time ON sends(account_id, time);
`

// sendsExpirySchema is the migration step that lets the retention purge
// drop the sends of accounts that stopped sending, which their own next
// send never comes to delete: each row says when it leaves its window.
// Rows made before it were counted in a one-hour window, the only one
// submission has used.
const sendsExpirySchema = `
ALTER TABLE sends ADD COLUMN expires INTEGER NOT NULL DEFAULT 0; -- Unix ms
UPDATE sends SET expires = time + 3600000;
CREATE INDEX sends_expires ON sends(expires);
`

// sendCountsSchema is the migration step that keeps each account's number
// of sends rows in send_counts. Counting the rows of a window took a step
// per send in it, at every submission and every MAIL under a limit: with
// a large limit (a bulk sender's), the work per message grew with the
// limit. The triggers keep the number whoever inserts or deletes rows:
// the send itself, the retention purge.
const sendCountsSchema = `
CREATE TABLE IF NOT EXISTS send_counts (
	account_id INTEGER PRIMARY KEY,
	n INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS sends_counted AFTER INSERT ON sends BEGIN
	INSERT INTO send_counts (account_id, n) VALUES (NEW.account_id, 1)
		ON CONFLICT (account_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS sends_uncounted AFTER DELETE ON sends BEGIN
	UPDATE send_counts SET n = n - 1 WHERE account_id = OLD.account_id;
END;
DELETE FROM send_counts;
INSERT INTO send_counts (account_id, n) SELECT account_id, count(*) FROM sends GROUP BY account_id;
`

// pruneSends deletes up to limit sends whose window ended by now.
func (t *tx) pruneSends(now time.Time, limit int) (int, error) {
	r, err := t.Exec("DELETE FROM sends WHERE rowid IN (SELECT rowid FROM sends WHERE expires <= ? LIMIT ?)", now.UnixMilli(), limit)
	if err != nil {
		return 0, fmt.Errorf("prune sends: %w", err)
	}
	n, err := r.RowsAffected()
	return int(n), err
}

// sendsSince counts an account's sends from since on: all of its sends
// less those before since, which are few (each send deletes those that
// left its window), and finds the oldest by the index.
const sendsSince = `SELECT
	coalesce((SELECT n FROM send_counts WHERE account_id = ?1), 0)
		- (SELECT count(*) FROM sends WHERE account_id = ?1 AND time < ?2),
	(SELECT min(time) FROM sends WHERE account_id = ?1 AND time >= ?2)`

func (s *Store) SendsSince(ctx context.Context, accountID int64, since time.Time) (int, time.Time, error) {
	n, oldest, err := scanSends(s.queryRow(ctx, sendsSince, accountID, since.UnixMilli()))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count sends of account %d: %w", accountID, err)
	}
	return n, oldest, nil
}

func scanSends(row *sql.Row) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := row.Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, err
	}
	var t time.Time
	if oldest.Valid {
		t = time.UnixMilli(oldest.Int64)
	}
	return n, t, nil
}

// countSend checks l at now and records one send, in the delivery's
// transaction: the writer runs one transaction at a time, so no other
// send of the account slips in between the count and the insert.
func (t *tx) countSend(l *store.SendLimit, now time.Time) error {
	if l.Max <= 0 || l.Window <= 0 || l.AccountID == 0 {
		return fmt.Errorf("send limit %+v: %w", *l, store.ErrInvalid)
	}
	since := now.Add(-l.Window).UnixMilli()
	if _, err := t.Exec("DELETE FROM sends WHERE account_id = ? AND time < ?", l.AccountID, since); err != nil {
		return fmt.Errorf("drop old sends of account %d: %w", l.AccountID, err)
	}
	n, oldest, err := scanSends(t.QueryRow(sendsSince, l.AccountID, since))
	if err != nil {
		return fmt.Errorf("count sends of account %d: %w", l.AccountID, err)
	}
	if n >= l.Max {
		return &store.SendLimitError{Limit: *l, RetryAt: oldest.Add(l.Window)}
	}
	if _, err := t.Exec("INSERT INTO sends (account_id, time, expires) VALUES (?, ?, ?)", l.AccountID, now.UnixMilli(),
		now.Add(l.Window).UnixMilli()); err != nil {
		return fmt.Errorf("record send of account %d: %w", l.AccountID, err)
	}
	return nil
}
