package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

func (s *Store) MTASTSPolicy(ctx context.Context, domain string) (store.MTASTSPolicy, error) {
	var p store.MTASTSPolicy
	name, err := store.NormalizeDomain(domain)
	if err != nil {
		return p, err
	}
	var fetched, expires int64
	err = s.queryRow(ctx, `SELECT domain, policy_id, policy, fetched, expires FROM mtasts_policies WHERE domain = ?`, name).
		Scan(&p.Domain, &p.ID, &p.Policy, &fetched, &expires)
	if err != nil {
		return store.MTASTSPolicy{}, notFound(err, "mta-sts policy of "+name)
	}
	p.Fetched, p.Expires = time.UnixMilli(fetched), time.UnixMilli(expires)
	return p, nil
}

func (s *Store) SetMTASTSPolicy(ctx context.Context, p store.MTASTSPolicy) error {
	name, err := store.NormalizeDomain(p.Domain)
	if err != nil {
		return err
	}
	if p.ID == "" || len(p.Policy) == 0 {
		return fmt.Errorf("mta-sts policy of %s: id and policy needed: %w", name, store.ErrInvalid)
	}
	return s.write(ctx, func(t *tx) error {
		_, err := t.Exec(`INSERT INTO mtasts_policies (domain, policy_id, policy, fetched, expires) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, policy = excluded.policy,
				fetched = excluded.fetched, expires = excluded.expires`,
			name, p.ID, p.Policy, p.Fetched.UnixMilli(), p.Expires.UnixMilli())
		if err != nil {
			return fmt.Errorf("store mta-sts policy of %s: %w", name, err)
		}
		return nil
	})
}
