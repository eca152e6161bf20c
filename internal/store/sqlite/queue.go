package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

const queueCols = `id, account_id, domain_id, body_id, mail_from, rcpt, rcpt_domain, message_id, subject, size,
	queued, next_attempt, lease_until, attempts, last_error, delay_notified, route,
	dsn_notify, dsn_orcpt, dsn_ret, dsn_envid, continuity, origin_client, origin_with`

func scanQueueEntry(sc scanner) (store.QueueEntry, error) {
	var e store.QueueEntry
	var queued, next, lease int64
	err := sc.Scan(&e.ID, &e.AccountID, &e.DomainID, &e.BodyID, &e.MailFrom, &e.Rcpt, &e.RcptDomain, &e.MessageID,
		&e.Subject, &e.Size, &queued, &next, &lease, &e.Attempts, &e.LastError, &e.DelayNotified, &e.Route,
		&e.DSN.Notify, &e.DSN.ORcpt, &e.DSN.Ret, &e.DSN.EnvID, &e.Continuity, &e.Origin.Client, &e.Origin.With)
	e.Queued, e.NextAttempt = time.UnixMilli(queued), time.UnixMilli(next)
	if lease > 0 {
		e.LeaseUntil = time.UnixMilli(lease)
	}
	return e, err
}

// queueDelivery adds d's outbound entries, referring to bodyID, and
// applies d's settles, inside Deliver's transaction.
func (t *tx) queueDelivery(s *Store, bodyID int64, d *store.Delivery) error {
	for _, o := range d.Outbound {
		rcpt, err := store.SendAddress(o.Rcpt) // its local part as given: it is sent on
		if err != nil {
			return fmt.Errorf("queue for %q: %w", o.Rcpt, err)
		}
		from := ""
		if o.MailFrom != "" {
			if from, err = store.NormalizeAddress(o.MailFrom); err != nil {
				return fmt.Errorf("queue from %q: %w", o.MailFrom, err)
			}
		}
		// The entry's domain is the sending account's, read by the
		// insert itself: one statement less per recipient.
		now := d.Received.UnixMilli()
		res, err := t.Exec(`INSERT INTO queue (account_id, domain_id, body_id, mail_from, rcpt, rcpt_domain, message_id,
				subject, size, queued, next_attempt, route, dsn_notify, dsn_orcpt, dsn_ret, dsn_envid, continuity,
				origin_client, origin_with)
				SELECT id, domain_id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts WHERE id = ?`,
			bodyID, from, rcpt, store.DomainOf(rcpt), d.Info.MessageID, d.Info.Subject,
			d.Size, now, now, o.Route, o.DSN.Notify, o.DSN.ORcpt, o.DSN.Ret, o.DSN.EnvID, o.Continuity,
			o.Origin.Client, o.Origin.With, o.AccountID)
		if err != nil {
			return fmt.Errorf("queue for %s: %w", rcpt, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return notFound(sql.ErrNoRows, fmt.Sprintf("sending account %d", o.AccountID))
		}
	}
	return t.settle(s, d.Settle)
}

func (t *tx) settle(s *Store, settles []store.QueueSettle) error {
	for _, st := range settles {
		switch st.Outcome {
		case store.QueueDelivered, store.QueueFailed:
			var bodyID int64
			err := t.QueryRow("DELETE FROM queue WHERE id = ? RETURNING body_id", st.ID).Scan(&bodyID)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("settle queue entry %d: %w", st.ID, err)
			}
			if _, err := t.unref(s, bodyID); err != nil {
				return err
			}
		case store.QueueDeferred:
			_, err := t.Exec(`UPDATE queue SET next_attempt = ?, lease_until = 0, attempts = attempts + 1,
					last_error = ?, delay_notified = delay_notified OR ? WHERE id = ?`,
				st.Next.UnixMilli(), st.Error, st.DelayNotified, st.ID)
			if err != nil {
				return fmt.Errorf("defer queue entry %d: %w", st.ID, err)
			}
		case store.QueueReleased:
			next := int64(0) // as it was: due
			if !st.Next.IsZero() {
				next = st.Next.UnixMilli()
			}
			if _, err := t.Exec("UPDATE queue SET lease_until = 0, next_attempt = MAX(next_attempt, ?) WHERE id = ?", next, st.ID); err != nil {
				return fmt.Errorf("release queue entry %d: %w", st.ID, err)
			}
		default:
			return fmt.Errorf("settle queue entry %d: outcome %d: %w", st.ID, st.Outcome, store.ErrInvalid)
		}
	}
	return nil
}

func (s *Store) ClaimQueue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.QueueEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []store.QueueEntry
	err := s.writeRerun(ctx, 0, nil, func(t *tx) error {
		var err error
		out, err = collect("claim queue entries", scanQueueEntry)(t.Query(`UPDATE queue SET lease_until = ? WHERE id IN (
				SELECT id FROM queue WHERE next_attempt <= ? AND lease_until <= ? ORDER BY next_attempt, id LIMIT ?)
			RETURNING `+queueCols, now.Add(lease).UnixMilli(), now.UnixMilli(), now.UnixMilli(), limit))
		if err != nil {
			return err
		}
		// Where each body is, read here on the writer's connection,
		// whose pages are cached: the worker opens it without a query on
		// the read pool, where every read after a commit starts from an
		// empty page cache (about 0.1 ms per message, xtramail-bench
		// submit).
		for i := range out {
			if i > 0 && out[i].BodyID == out[i-1].BodyID {
				out[i].BodyKey = out[i-1].BodyKey
				continue
			}
			if err := t.QueryRow("SELECT blob_key FROM bodies WHERE id = ?", out[i].BodyID).Scan(&out[i].BodyKey); err != nil {
				return fmt.Errorf("find body %d of queue entry %d: %w", out[i].BodyID, out[i].ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.QueueEntry) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out, nil
}

func (s *Store) ReleaseQueueLeases(ctx context.Context) (int, error) {
	var n int64
	err := s.write(ctx, func(t *tx) error {
		res, err := t.Exec("UPDATE queue SET lease_until = 0 WHERE lease_until > 0")
		if err != nil {
			return fmt.Errorf("release queue leases: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (s *Store) OpenQueuedBody(ctx context.Context, e store.QueueEntry) (io.ReadCloser, error) {
	if e.BodyKey == "" {
		return s.OpenBody(ctx, e.AccountID, e.BodyID)
	}
	rc, err := s.blobs.Open(ctx, e.BodyKey)
	if err != nil {
		return nil, fmt.Errorf("open body %d of queue entry %d: %w", e.BodyID, e.ID, err)
	}
	return rc, nil
}

func (s *Store) SettleQueue(ctx context.Context, settles []store.QueueSettle, events ...store.LogEvent) error {
	return s.SettleQueueFrom(ctx, func() ([]store.QueueSettle, []store.LogEvent) { return settles, events })
}

// SettleQueueFrom is SettleQueue with what to settle taken when the write
// runs: take is called at most once, inside the write's transaction, and
// not at all when the write fails before it (queue.settleBatch joins the
// settles of several sessions this way without waiting for a write of
// its own).
//
// What take returned is kept, so that the write may run again
// (writeRerun) without a savepoint: a settle changes nothing but the
// database and the store's cache of body infos, from which dropping an
// entry twice is harmless.
func (s *Store) SettleQueueFrom(ctx context.Context, take func() ([]store.QueueSettle, []store.LogEvent)) error {
	var taken bool
	var settles []store.QueueSettle
	var events []store.LogEvent
	return s.writeRerun(ctx, 0, nil, func(t *tx) error {
		if !taken {
			settles, events = take()
			taken = true
		}
		if err := t.settle(s, settles); err != nil {
			return err
		}
		return t.appendLog(events)
	})
}

// queueScope turns a query's scope into a WHERE clause; ok is false when
// the scope is empty (nothing matches).
func queueScope(q store.QueueQuery) (where string, args []any, ok bool) {
	var conds []string
	if q.DomainIDs != nil {
		if len(q.DomainIDs) == 0 {
			return "", nil, false
		}
		conds = append(conds, "domain_id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(q.DomainIDs)), ",")+")")
		for _, id := range q.DomainIDs {
			args = append(args, id)
		}
	}
	if q.AccountID != 0 {
		conds = append(conds, "account_id = ?")
		args = append(args, q.AccountID)
	}
	if q.AfterID != 0 {
		conds = append(conds, "id > ?")
		args = append(args, q.AfterID)
	}
	conds = append(conds, "1")
	return strings.Join(conds, " AND "), args, true
}

func (s *Store) QueueEntries(ctx context.Context, q store.QueueQuery) ([]store.QueueEntry, error) {
	where, args, ok := queueScope(q)
	if !ok {
		return nil, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	return collect("list queue", scanQueueEntry)(s.query(ctx, "SELECT "+queueCols+" FROM queue WHERE "+where+" ORDER BY id LIMIT ?", append(args, limit)...))
}

func (s *Store) RetryQueue(ctx context.Context, q store.QueueQuery, ids []int64, now time.Time) (int, error) {
	where, args, ok := queueScope(q)
	if !ok {
		return 0, nil
	}
	n := 0
	err := s.write(ctx, func(t *tx) error {
		n = 0
		for _, id := range ids {
			res, err := t.Exec("UPDATE queue SET next_attempt = ? WHERE id = ? AND "+where,
				append([]any{now.UnixMilli(), id}, args...)...)
			if err != nil {
				return fmt.Errorf("retry queue entry %d: %w", id, err)
			}
			c, _ := res.RowsAffected()
			n += int(c)
		}
		return nil
	})
	return n, err
}

func (s *Store) DeleteQueue(ctx context.Context, q store.QueueQuery, ids []int64, now time.Time, by string) (int, error) {
	where, args, ok := queueScope(q)
	if !ok {
		return 0, nil
	}
	if by == "" {
		by = "an administrator"
	}
	n := 0
	var sending []int64
	err := s.write(ctx, func(t *tx) error {
		n, sending = 0, nil
		var events []store.LogEvent
		for _, id := range ids {
			var bodyID int64
			var attempts int
			ev := store.LogEvent{Time: now, Status: msglog.Cancelled}
			err := t.QueryRow("DELETE FROM queue WHERE id = ? AND lease_until <= ? AND "+where+
				" RETURNING body_id, domain_id, mail_from, rcpt, message_id, subject, size, attempts",
				append([]any{id, now.UnixMilli()}, args...)...).Scan(&bodyID, &ev.DomainID, &ev.MailFrom, &ev.Rcpt, &ev.MessageID,
				&ev.Subject, &ev.Size, &attempts)
			if errors.Is(err, sql.ErrNoRows) {
				var leased bool
				err = t.QueryRow("SELECT 1 FROM queue WHERE id = ? AND "+where, append([]any{id}, args...)...).Scan(&leased)
				if err == nil {
					sending = append(sending, id)
				} else if !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("look up queue entry %d: %w", id, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("delete queue entry %d: %w", id, err)
			}
			if _, err := t.unref(s, bodyID); err != nil {
				return err
			}
			// The recipient's last record was "queued" or "deferred":
			// without this one it would read as still on its way.
			when := "before its first attempt"
			switch {
			case attempts == 1:
				when = "after 1 attempt"
			case attempts > 1:
				when = fmt.Sprintf("after %d attempts", attempts)
			}
			ev.Detail = "deleted from the queue by " + by + " " + when + ": not delivered, no notice to the sender"
			events = append(events, ev)
			n++
		}
		return t.appendLog(events)
	})
	if err == nil && len(sending) > 0 {
		err = &store.SendingError{IDs: sending}
	}
	return n, err
}

func (s *Store) QueueStats(ctx context.Context) (store.QueueStats, error) {
	var st store.QueueStats
	var oldest sql.NullInt64
	if err := s.queryRow(ctx, "SELECT count(*), min(queued) FROM queue").Scan(&st.Entries, &oldest); err != nil {
		return st, fmt.Errorf("queue stats: %w", err)
	}
	if oldest.Valid {
		st.Oldest = time.UnixMilli(oldest.Int64)
	}
	return st, nil
}

func (s *Store) SetDKIMKey(ctx context.Context, domain string, key store.DKIMKey) error {
	return s.putDKIMKey(ctx, "dkim_keys", domain, key)
}

func (s *Store) SetPendingDKIMKey(ctx context.Context, domain string, key store.DKIMKey) error {
	return s.putDKIMKey(ctx, "dkim_pending_keys", domain, key)
}

// putDKIMKey stores a domain's key in table, dkim_keys or
// dkim_pending_keys, which have the same columns.
func (s *Store) putDKIMKey(ctx context.Context, table, domain string, key store.DKIMKey) error {
	name, err := store.NormalizeDomain(domain)
	if err != nil {
		return err
	}
	if key.Selector == "" || len(key.PrivateKey) == 0 || (key.Algorithm != "ed25519" && key.Algorithm != "rsa") {
		return fmt.Errorf("dkim key for %s: selector, key and algorithm ed25519 or rsa needed: %w", name, store.ErrInvalid)
	}
	if key.Created.IsZero() {
		key.Created = time.Now()
	}
	return s.write(ctx, func(t *tx) error {
		var id int64
		if err := t.QueryRow("SELECT id FROM domains WHERE name = ?", name).Scan(&id); err != nil {
			return notFound(err, "domain "+name)
		}
		_, err := t.Exec(`INSERT INTO `+table+` (domain_id, selector, algorithm, private_key, created) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (domain_id) DO UPDATE SET selector = excluded.selector, algorithm = excluded.algorithm,
				private_key = excluded.private_key, created = excluded.created`,
			id, key.Selector, key.Algorithm, key.PrivateKey, key.Created.UnixMilli())
		if err != nil {
			return fmt.Errorf("store dkim key for %s: %w", name, err)
		}
		return nil
	})
}

func (s *Store) PendingDKIMKeys(ctx context.Context, domain string) ([]store.DKIMKey, error) {
	q := `SELECT k.domain_id, d.name, k.selector, k.algorithm, k.private_key, k.created
		FROM dkim_pending_keys k JOIN domains d ON d.id = k.domain_id`
	var args []any
	if domain != "" {
		name, err := store.NormalizeDomain(domain)
		if err != nil {
			return nil, err
		}
		q += " WHERE d.name = ?"
		args = append(args, name)
	}
	rows, err := s.query(ctx, q+" ORDER BY d.name", args...)
	if err != nil {
		return nil, fmt.Errorf("pending dkim keys: %w", err)
	}
	defer rows.Close()
	var out []store.DKIMKey
	for rows.Next() {
		var k store.DKIMKey
		var created int64
		if err := rows.Scan(&k.DomainID, &k.Domain, &k.Selector, &k.Algorithm, &k.PrivateKey, &created); err != nil {
			return nil, fmt.Errorf("pending dkim keys: %w", err)
		}
		k.Created = time.UnixMilli(created)
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) ActivateDKIMKey(ctx context.Context, domain, selector string, now time.Time) error {
	name, err := store.NormalizeDomain(domain)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		var id int64
		err := t.QueryRow(`SELECT k.domain_id FROM dkim_pending_keys k JOIN domains d ON d.id = k.domain_id
			WHERE d.name = ? AND k.selector = ?`, name, selector).Scan(&id)
		if err != nil {
			return notFound(err, "pending dkim key "+selector+" of "+name)
		}
		var old string
		switch err := t.QueryRow("SELECT selector FROM dkim_keys WHERE domain_id = ?", id).Scan(&old); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("dkim key of %s: %w", name, err)
		case old != selector:
			if _, err := t.Exec(`INSERT INTO dkim_retired_keys (domain_id, selector, retired) VALUES (?, ?, ?)
				ON CONFLICT DO UPDATE SET retired = excluded.retired`, id, old, now.UnixMilli()); err != nil {
				return fmt.Errorf("retire dkim key %s of %s: %w", old, name, err)
			}
		}
		if _, err := t.Exec(`INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, created)
				SELECT domain_id, selector, algorithm, private_key, created FROM dkim_pending_keys WHERE domain_id = ?
			ON CONFLICT (domain_id) DO UPDATE SET selector = excluded.selector, algorithm = excluded.algorithm,
				private_key = excluded.private_key, created = excluded.created`, id); err != nil {
			return fmt.Errorf("activate dkim key %s of %s: %w", selector, name, err)
		}
		if _, err := t.Exec("DELETE FROM dkim_pending_keys WHERE domain_id = ?", id); err != nil {
			return fmt.Errorf("activate dkim key %s of %s: %w", selector, name, err)
		}
		// A selector used again is no longer retired.
		if _, err := t.Exec("DELETE FROM dkim_retired_keys WHERE domain_id = ? AND selector = ?", id, selector); err != nil {
			return fmt.Errorf("activate dkim key %s of %s: %w", selector, name, err)
		}
		return nil
	})
}

func (s *Store) RetiredDKIMKeys(ctx context.Context, domain string) ([]store.RetiredDKIMKey, error) {
	name, err := store.NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT r.selector, r.retired FROM dkim_retired_keys r JOIN domains d ON d.id = r.domain_id
		WHERE d.name = ? ORDER BY r.retired DESC, r.selector`, name)
	if err != nil {
		return nil, fmt.Errorf("retired dkim keys of %s: %w", name, err)
	}
	defer rows.Close()
	var out []store.RetiredDKIMKey
	for rows.Next() {
		var r store.RetiredDKIMKey
		var at int64
		if err := rows.Scan(&r.Selector, &at); err != nil {
			return nil, fmt.Errorf("retired dkim keys of %s: %w", name, err)
		}
		r.Retired = time.UnixMilli(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) DKIMKey(ctx context.Context, domain string) (store.DKIMKey, error) {
	var k store.DKIMKey
	name, err := store.NormalizeDomain(domain)
	if err != nil {
		return k, err
	}
	var created int64
	err = s.queryRow(ctx, `SELECT k.domain_id, k.selector, k.algorithm, k.private_key, k.created
		FROM dkim_keys k JOIN domains d ON d.id = k.domain_id WHERE d.name = ?`, name).
		Scan(&k.DomainID, &k.Selector, &k.Algorithm, &k.PrivateKey, &created)
	if err != nil {
		return k, notFound(err, "dkim key of "+name)
	}
	k.Created = time.UnixMilli(created)
	return k, nil
}
