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

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func checkRetention(days int) error {
	if days < 1 || days > 3650 {
		return fmt.Errorf("retention of %d days (want 1 to 3650): %w", days, store.ErrInvalid)
	}
	return nil
}

func (s *Store) CreateDomain(ctx context.Context, name string, retentionDays int) (store.Domain, error) {
	d, err := newDomain(name, retentionDays, store.DefaultCustomerID)
	if err != nil {
		return store.Domain{}, err
	}
	err = s.write(ctx, func(t *tx) error { return t.insertDomain(&d) })
	return d, err
}

// newDomain is a domain to add: its name normalized, its retention
// window defaulted and checked.
func newDomain(name string, retentionDays int, customerID int64) (store.Domain, error) {
	n, err := store.NormalizeDomain(name)
	if err != nil {
		return store.Domain{}, err
	}
	if retentionDays == 0 {
		retentionDays = store.DefaultRetentionDays
	}
	if err := checkRetention(retentionDays); err != nil {
		return store.Domain{}, err
	}
	return store.Domain{Name: n, RetentionDays: retentionDays, CreatedAt: nowMilli(), CustomerID: customerID,
		RecipientDelimiter: store.DefaultRecipientDelimiter}, nil
}

// insertDomain adds d and sets its ID.
func (t *tx) insertDomain(d *store.Domain) (err error) {
	d.ID, err = t.insert("domain "+d.Name, "INSERT INTO domains (name, retention_days, created, customer_id, recipient_delimiter) VALUES (?, ?, ?, ?, ?)",
		d.Name, d.RetentionDays, d.CreatedAt.UnixMilli(), d.CustomerID, d.RecipientDelimiter)
	return err
}

// insert runs an INSERT of one row, named by what in its errors, and
// returns the row's id; a unique key already taken is store.ErrExists.
func (t *tx) insert(what, query string, args ...any) (int64, error) {
	res, err := t.Exec(query, args...)
	if isUnique(err) {
		return 0, fmt.Errorf("%s: %w", what, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("insert %s: %w", what, err)
	}
	return res.LastInsertId()
}

const domainCols = "id, name, retention_days, created, customer_id, whole_domain, allowed_ips, relay_host, continuity_only, recipient_delimiter"

func scanDomain(sc scanner) (store.Domain, error) {
	var d store.Domain
	var created int64
	var ips string
	err := sc.Scan(&d.ID, &d.Name, &d.RetentionDays, &created, &d.CustomerID, &d.WholeDomain, &ips, &d.RelayHost, &d.ContinuityOnly, &d.RecipientDelimiter)
	d.CreatedAt = time.UnixMilli(created)
	d.AllowedIPs = strings.Fields(ips)
	return d, err
}

func (s *Store) Domain(ctx context.Context, name string) (store.Domain, error) {
	n, err := store.NormalizeDomain(name)
	if err != nil {
		return store.Domain{}, err
	}
	d, err := scanDomain(s.queryRow(ctx, "SELECT "+domainCols+" FROM domains WHERE name = ?", n))
	if err != nil {
		return d, notFound(err, "domain "+n)
	}
	return d, nil
}

func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	return collect("list domains", scanDomain)(s.query(ctx, "SELECT "+domainCols+" FROM domains ORDER BY name"))
}

func (s *Store) SetRetention(ctx context.Context, name string, days int) error {
	if err := checkRetention(days); err != nil {
		return err
	}
	return s.updateOne(ctx, "domain "+name, "UPDATE domains SET retention_days = ? WHERE name = ?", days, strings.ToLower(name))
}

// updateOne runs a single-row update and reports ErrNotFound if no row
// matched.
func (s *Store) updateOne(ctx context.Context, what, query string, args ...any) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.Exec(query, args...)
		if err != nil {
			return fmt.Errorf("update %s: %w", what, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s: %w", what, store.ErrNotFound)
		}
		return nil
	})
}

func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	n := strings.ToLower(name)
	return s.write(ctx, func(t *tx) error {
		var id, accounts int64
		err := t.QueryRow("SELECT id, (SELECT count(*) FROM accounts WHERE domain_id = domains.id) FROM domains WHERE name = ?", n).Scan(&id, &accounts)
		if err != nil {
			return notFound(err, "domain "+n)
		}
		if accounts > 0 {
			if accounts == 1 {
				return fmt.Errorf("domain %s has 1 address; remove it first: %w", n, store.ErrNotEmpty)
			}
			return fmt.Errorf("domain %s has %d addresses; remove them first: %w", n, accounts, store.ErrNotEmpty)
		}
		_, err = t.Exec("DELETE FROM domains WHERE id = ?", id)
		return err
	})
}

func (s *Store) CreateAccount(ctx context.Context, address, passwordHash string) (store.Account, error) {
	addr, err := store.NormalizeAddress(address)
	if err != nil {
		return store.Account{}, err
	}
	var a store.Account
	err = s.write(ctx, func(t *tx) error {
		dom := store.DomainOf(addr)
		var domainID int64
		if err := t.QueryRow("SELECT id FROM domains WHERE name = ?", dom).Scan(&domainID); err != nil {
			return notFound(err, "domain "+dom+" (add it first)")
		}
		a, err = t.insertAccount(domainID, addr, passwordHash, true)
		return err
	})
	return a, err
}

// insertAccount creates an account of a domain with its default
// mailboxes and subscriptions.
func (t *tx) insertAccount(domainID int64, addr, passwordHash string, enabled bool) (store.Account, error) {
	a := store.Account{DomainID: domainID, Address: addr, PasswordHash: passwordHash, Enabled: enabled, CreatedAt: time.Now().Truncate(time.Millisecond)}
	err := func() error {
		res, err := t.Exec("INSERT INTO accounts (domain_id, address, password_hash, enabled, created) VALUES (?, ?, ?, ?, ?)",
			a.DomainID, addr, passwordHash, enabled, a.CreatedAt.UnixMilli())
		if isUnique(err) {
			return fmt.Errorf("address %s: %w", addr, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("insert account %s: %w", addr, err)
		}
		if a.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		for _, mb := range store.DefaultMailboxes {
			if _, err := t.createMailbox(a.ID, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
			// The default folders start subscribed; others do not.
			if _, err := t.Exec("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", a.ID, mb.Name); err != nil {
				return fmt.Errorf("subscribe %s: %w", mb.Name, err)
			}
		}
		return nil
	}()
	return a, err
}

// createMailbox inserts a mailbox with a UIDVALIDITY never used before in
// this database, so that a re-created name never reuses UIDs (RFC 9051 2.3.1.1).
func (t *tx) createMailbox(accountID int64, name, specialUse string) (int64, error) {
	var uidvalidity uint32
	if err := t.QueryRow("UPDATE meta SET value = value + 1 WHERE key = 'next_uidvalidity' RETURNING value - 1").Scan(&uidvalidity); err != nil {
		return 0, fmt.Errorf("allocate uidvalidity: %w", err)
	}
	res, err := t.Exec("INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)",
		accountID, name, specialUse, uidvalidity)
	if isUnique(err) {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	return res.LastInsertId()
}

const accountCols = "id, domain_id, address, password_hash, enabled, created"

func scanAccount(sc scanner) (store.Account, error) {
	var a store.Account
	var created int64
	err := sc.Scan(&a.ID, &a.DomainID, &a.Address, &a.PasswordHash, &a.Enabled, &created)
	a.CreatedAt = time.UnixMilli(created)
	return a, err
}

func (s *Store) Account(ctx context.Context, address string) (store.Account, error) {
	// Normalised as the address was when stored: "anna@bücher.test"
	// finds anna@xn--bcher-kva.test. What is no address is no account.
	addr, err := store.NormalizeAddress(address)
	if err != nil {
		return store.Account{}, fmt.Errorf("address %q: %w", address, store.ErrNotFound)
	}
	a, err := scanAccount(s.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE address = ?", addr))
	if err != nil {
		return a, notFound(err, "address "+addr)
	}
	return a, nil
}

func (s *Store) AccountByID(ctx context.Context, id int64) (store.Account, error) {
	a, err := scanAccount(s.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = ?", id))
	if err != nil {
		return a, notFound(err, fmt.Sprintf("account %d", id))
	}
	return a, nil
}

func (s *Store) Accounts(ctx context.Context, domain string) ([]store.Account, error) {
	q := "SELECT " + accountCols + " FROM accounts"
	var args []any
	if domain != "" {
		d, err := s.Domain(ctx, domain)
		if err != nil {
			return nil, err
		}
		q += " WHERE domain_id = ?"
		args = append(args, d.ID)
	}
	return collect("list accounts", scanAccount)(s.query(ctx, q+" ORDER BY address", args...))
}

func (s *Store) SetEnabled(ctx context.Context, address string, enabled bool) error {
	return s.updateAccount(ctx, address, "UPDATE accounts SET enabled = ? WHERE address = ? RETURNING id", enabled, strings.ToLower(address))
}

func (s *Store) SetPassword(ctx context.Context, address, passwordHash string) error {
	return s.updateAccount(ctx, address, "UPDATE accounts SET password_hash = ? WHERE address = ? RETURNING id", passwordHash, strings.ToLower(address))
}

// updateAccount changes one account's row (query returns its id) and
// tells the account's subscribers (store.ChangeAccount).
func (s *Store) updateAccount(ctx context.Context, address, query string, args ...any) error {
	return s.write(ctx, func(t *tx) error {
		var id int64
		if err := t.QueryRow(query, args...).Scan(&id); err != nil {
			return notFound(err, "address "+address)
		}
		t.changes = append(t.changes, store.Change{AccountID: id, Kind: store.ChangeAccount})
		return nil
	})
}

func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	addr := strings.ToLower(address)
	return s.writeAlone(ctx, func(t *tx) error {
		var id int64
		if err := t.QueryRow("SELECT id FROM accounts WHERE address = ?", addr).Scan(&id); err != nil {
			return notFound(err, "address "+addr)
		}
		bodies, err := collect("list bodies", scanOne[int64])(t.Query("SELECT body_id FROM messages WHERE account_id = ?", id))
		if err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM messages WHERE account_id = ?",
			"DELETE FROM dedup WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)",
			"DELETE FROM vanished WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)",
			"DELETE FROM mailboxes WHERE account_id = ?",
			"DELETE FROM subscriptions WHERE account_id = ?",
			"DELETE FROM outbox WHERE account_id = ?",
			"DELETE FROM contacts WHERE account_id = ?",
			"DELETE FROM contact_words WHERE account_id = ?",
			"DELETE FROM draft_successors WHERE account_id = ?",
			"DELETE FROM draft_keys WHERE account_id = ?",
			"DELETE FROM accounts WHERE id = ?",
		} {
			if _, err := t.Exec(q, id); err != nil {
				return fmt.Errorf("delete account %s: %w", addr, err)
			}
		}
		for _, b := range bodies {
			if _, err := t.unref(s, b); err != nil {
				return err
			}
		}
		t.changes = append(t.changes, store.Change{AccountID: id, Kind: store.ChangeAccount})
		return nil
	})
}
