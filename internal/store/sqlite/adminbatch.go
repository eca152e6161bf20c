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

func (s *Store) SetAccountPasswords(ctx context.Context, sc store.Scope, rows []store.AccountPassword) ([]error, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	c, cargs := domainIn(sc, "domain_id")
	type tenant struct{ reseller, customer int64 }
	var errs []error
	err := s.writeBulk(ctx, len(rows), func(t *tx) error {
		// fn may run again after a retried group: start clean.
		errs = make([]error, len(rows))
		tenants := map[int64]tenant{} // by domain: a batch has few
		upd, err := t.Tx.Prepare("UPDATE accounts SET password_hash = ? WHERE address = ? AND " + c + " RETURNING domain_id")
		if err != nil {
			return fmt.Errorf("prepare password update: %w", err)
		}
		defer upd.Close()
		aud, err := t.Tx.Prepare("INSERT INTO audit (time, admin_id, actor, action, object, detail, remote_ip, reseller_id, customer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return fmt.Errorf("prepare audit insert: %w", err)
		}
		defer aud.Close()
		for i, r := range rows {
			addr := strings.ToLower(strings.TrimSpace(r.Address))
			var domainID int64
			err := upd.QueryRow(append([]any{r.PasswordHash, addr}, cargs...)...).Scan(&domainID)
			if errors.Is(err, sql.ErrNoRows) {
				errs[i] = fmt.Errorf("address %s: %w", addr, store.ErrNotFound)
				continue
			}
			if err != nil {
				return fmt.Errorf("set password of %s: %w", addr, err)
			}
			tn, ok := tenants[domainID]
			if !ok {
				err := t.QueryRow(`SELECT coalesce(c.reseller_id, 0), d.customer_id FROM domains d
					LEFT JOIN customers c ON c.id = d.customer_id WHERE d.id = ?`, domainID).Scan(&tn.reseller, &tn.customer)
				if err != nil {
					return fmt.Errorf("tenant of domain %d: %w", domainID, err)
				}
				tenants[domainID] = tn
			}
			a := r.Audit
			if a.Action == "" {
				continue
			}
			if a.Time.IsZero() {
				a.Time = time.Now()
			}
			if _, err := aud.Exec(a.Time.UnixMilli(), a.AdminID, a.Actor, a.Action, a.Object, a.Detail, a.RemoteIP, tn.reseller, tn.customer); err != nil {
				return fmt.Errorf("append audit record of %s: %w", addr, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

func (s *Store) QueueEntriesOutside(ctx context.Context, sc store.Scope, ids []int64) ([]int64, error) {
	if sc.Kind == store.ScopeAll || len(ids) == 0 {
		return nil, nil
	}
	c, cargs := domainIn(sc, "domain_id")
	args := make([]any, 0, len(ids)+len(cargs))
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, cargs...)
	// A entry of no domain (domain_id 0) lies outside every tenant's
	// scope: NOT (0 IN (...)) holds.
	q := "SELECT id FROM queue WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ") AND NOT (" + c + ") ORDER BY id"
	return queryList(s, ctx, "queue entries outside scope", scanOne[int64], q, args...)
}
