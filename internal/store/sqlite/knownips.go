package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (s *Store) TouchKnownIP(ctx context.Context, address, ip string, seen, expired time.Time, keep int) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec(`INSERT INTO known_ips (address, ip, last_seen) VALUES (?, ?, ?)
			ON CONFLICT (address, ip) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
			address, ip, seen.UnixMilli()); err != nil {
			return fmt.Errorf("record known IP of %s: %w", address, err)
		}
		// The address's expired entries, and those past the keep most
		// recent (ties: the greater IP stays, so that the bound is exact).
		if _, err := t.Exec(`DELETE FROM known_ips WHERE address = ? AND (last_seen < ? OR ip NOT IN (
			SELECT ip FROM known_ips WHERE address = ? ORDER BY last_seen DESC, ip DESC LIMIT ?))`,
			address, expired.UnixMilli(), address, keep); err != nil {
			return fmt.Errorf("bound known IPs of %s: %w", address, err)
		}
		return nil
	})
}

func (s *Store) KnownIP(ctx context.Context, address, ip string) (time.Time, bool, error) {
	var ms int64
	err := s.queryRow(ctx, "SELECT last_seen FROM known_ips WHERE address = ? AND ip = ?", address, ip).Scan(&ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("known IP of %s: %w", address, err)
	}
	return time.UnixMilli(ms), true, nil
}

func (s *Store) ForgetKnownIPs(ctx context.Context, address string) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM known_ips WHERE address = ?", address); err != nil {
			return fmt.Errorf("forget known IPs of %s: %w", address, err)
		}
		return nil
	})
}

func (s *Store) PurgeKnownIPs(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.Exec("DELETE FROM known_ips WHERE last_seen < ?", before.UnixMilli())
		if err != nil {
			return fmt.Errorf("purge known IPs: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
