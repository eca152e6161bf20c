package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// throttlesSchema holds failed sign-in counters (store.Throttles). drain
// is kept per row (failures forgiven per second) so that the purge can
// tell a drained key without knowing its policy.
const throttlesSchema = `
CREATE TABLE IF NOT EXISTS throttles (
	key TEXT PRIMARY KEY,
	level REAL NOT NULL,
	last INTEGER NOT NULL, -- Unix milliseconds of the last failure
	drain REAL NOT NULL
) WITHOUT ROWID;
`

func (s *Store) ThrottleLevel(ctx context.Context, key string) (float64, time.Time, bool, error) {
	var level float64
	var last int64
	err := s.queryRow(ctx, "SELECT level, last FROM throttles WHERE key = ?", key).Scan(&level, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, time.Time{}, false, nil
	case err != nil:
		return 0, time.Time{}, false, fmt.Errorf("throttle level of %s: %w", key, err)
	}
	return level, time.UnixMilli(last), true, nil
}

func (s *Store) ThrottleFailure(ctx context.Context, key string, now time.Time, drain float64) error {
	return s.write(ctx, func(t *tx) error {
		// One statement: the drained level is computed from the row as
		// it stands when this write holds the lock.
		if _, err := t.Exec(`INSERT INTO throttles (key, level, last, drain) VALUES (?, 1, ?, ?)
			ON CONFLICT (key) DO UPDATE SET
				level = max(0, level - max(0, excluded.last - last) / 1000.0 * excluded.drain) + 1,
				last = max(last, excluded.last),
				drain = excluded.drain`, key, now.UnixMilli(), drain); err != nil {
			return fmt.Errorf("record failure of %s: %w", key, err)
		}
		return nil
	})
}

func (s *Store) PurgeThrottles(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.Exec("DELETE FROM throttles WHERE level <= max(0, ? - last) / 1000.0 * drain", now.UnixMilli())
		if err != nil {
			return fmt.Errorf("purge throttles: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
