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

// The scope of every administrative query is a WHERE condition built here
// and nowhere else, so that no method can forget it: an object outside
// the scope then matches no row and is ErrNotFound like a missing one.

// customerIn returns a condition that the customer id in col is in sc.
func customerIn(sc store.Scope, col string) (string, []any) {
	switch sc.Kind {
	case store.ScopeReseller:
		return col + " IN (SELECT id FROM customers WHERE reseller_id = ?)", []any{sc.ID}
	case store.ScopeCustomer:
		return col + " = ?", []any{sc.ID}
	}
	return "1", nil
}

// domainIn returns a condition that the domain id in col is in sc.
func domainIn(sc store.Scope, col string) (string, []any) {
	if sc.Kind == store.ScopeAll {
		return "1", nil
	}
	c, args := customerIn(sc, "customer_id")
	return col + " IN (SELECT id FROM domains WHERE " + c + ")", args
}

// resellerIn returns a condition that the reseller id in col is in sc.
func resellerIn(sc store.Scope, col string) (string, []any) {
	switch sc.Kind {
	case store.ScopeReseller:
		return col + " = ?", []any{sc.ID}
	case store.ScopeCustomer:
		return "0", nil
	}
	return "1", nil
}

// adminIn returns a condition that the admin row (role, scope_id) is in sc:
// a reseller scope holds its own admins and those of its customers.
func adminIn(sc store.Scope) (string, []any) {
	switch sc.Kind {
	case store.ScopeReseller:
		return "((role = 'reseller' AND scope_id = ?) OR (role = 'customer' AND scope_id IN (SELECT id FROM customers WHERE reseller_id = ?)))", []any{sc.ID, sc.ID}
	case store.ScopeCustomer:
		return "(role = 'customer' AND scope_id = ?)", []any{sc.ID}
	}
	return "1", nil
}

func checkName(what, name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 200 {
		return "", fmt.Errorf("%s name %q (want 1 to 200 characters): %w", what, name, store.ErrInvalid)
	}
	for _, r := range n {
		if r < ' ' || r == 0x7f {
			return "", fmt.Errorf("%s name %q has control characters: %w", what, name, store.ErrInvalid)
		}
	}
	return n, nil
}

func nowMilli() time.Time { return time.Now().Truncate(time.Millisecond) }

// --- resellers

func (s *Store) CreateReseller(ctx context.Context, sc store.Scope, name string) (store.Reseller, error) {
	n, err := checkName("reseller", name)
	if err != nil {
		return store.Reseller{}, err
	}
	if sc.Kind != store.ScopeAll {
		return store.Reseller{}, fmt.Errorf("create reseller outside the provider scope: %w", store.ErrNotFound)
	}
	r := store.Reseller{Name: n, CreatedAt: nowMilli()}
	err = s.write(ctx, func(t *tx) error {
		var err error
		r.ID, err = t.insert(fmt.Sprintf("reseller %q", n), "INSERT INTO resellers (name, created) VALUES (?, ?)", r.Name, r.CreatedAt.UnixMilli())
		return err
	})
	return r, err
}

func scanReseller(sc scanner) (store.Reseller, error) {
	var r store.Reseller
	var created int64
	err := sc.Scan(&r.ID, &r.Name, &created)
	r.CreatedAt = time.UnixMilli(created)
	return r, err
}

func (s *Store) Resellers(ctx context.Context, sc store.Scope) ([]store.Reseller, error) {
	c, args := resellerIn(sc, "id")
	return queryList(s, ctx, "list resellers", scanReseller, "SELECT id, name, created FROM resellers WHERE "+c+" ORDER BY name", args...)
}

func (s *Store) Reseller(ctx context.Context, sc store.Scope, id int64) (store.Reseller, error) {
	c, args := resellerIn(sc, "id")
	r, err := scanReseller(s.queryRow(ctx, "SELECT id, name, created FROM resellers WHERE id = ? AND "+c, append([]any{id}, args...)...))
	if err != nil {
		return r, notFound(err, fmt.Sprintf("reseller %d", id))
	}
	return r, nil
}

func (s *Store) DeleteReseller(ctx context.Context, sc store.Scope, id int64) error {
	if sc.Kind != store.ScopeAll {
		return fmt.Errorf("reseller %d: %w", id, store.ErrNotFound)
	}
	return s.write(ctx, func(t *tx) error {
		var customers int
		err := t.QueryRow("SELECT (SELECT count(*) FROM customers WHERE reseller_id = resellers.id) FROM resellers WHERE id = ?", id).Scan(&customers)
		if err != nil {
			return notFound(err, fmt.Sprintf("reseller %d", id))
		}
		if customers > 0 {
			return fmt.Errorf("reseller %d has %d customer(s); remove or move them first: %w", id, customers, store.ErrNotEmpty)
		}
		for _, q := range []string{
			"DELETE FROM api_tokens WHERE admin_id IN (SELECT id FROM admins WHERE role = 'reseller' AND scope_id = ?)",
			"DELETE FROM admins WHERE role = 'reseller' AND scope_id = ?",
			"DELETE FROM resellers WHERE id = ?",
		} {
			if _, err := t.Exec(q, id); err != nil {
				return fmt.Errorf("delete reseller %d: %w", id, err)
			}
		}
		return nil
	})
}

// --- customers

func (s *Store) CreateCustomer(ctx context.Context, sc store.Scope, resellerID int64, name string) (store.Customer, error) {
	n, err := checkName("customer", name)
	if err != nil {
		return store.Customer{}, err
	}
	switch {
	case sc.Kind == store.ScopeCustomer,
		sc.Kind == store.ScopeReseller && resellerID != sc.ID:
		return store.Customer{}, fmt.Errorf("reseller %d: %w", resellerID, store.ErrNotFound)
	}
	c := store.Customer{ResellerID: resellerID, Name: n, CreatedAt: nowMilli()}
	err = s.write(ctx, func(t *tx) error {
		if resellerID != 0 {
			var one int
			if err := t.QueryRow("SELECT 1 FROM resellers WHERE id = ?", resellerID).Scan(&one); err != nil {
				return notFound(err, fmt.Sprintf("reseller %d", resellerID))
			}
		}
		var err error
		c.ID, err = t.insert(fmt.Sprintf("customer %q", n), "INSERT INTO customers (reseller_id, name, created) VALUES (?, ?, ?)", resellerID, n, c.CreatedAt.UnixMilli())
		return err
	})
	return c, err
}

const customerCols = "id, reseller_id, name, created"

func scanCustomer(sc scanner) (store.Customer, error) {
	var c store.Customer
	var created int64
	err := sc.Scan(&c.ID, &c.ResellerID, &c.Name, &created)
	c.CreatedAt = time.UnixMilli(created)
	return c, err
}

func (s *Store) Customers(ctx context.Context, sc store.Scope) ([]store.Customer, error) {
	c, args := customerIn(sc, "id")
	return queryList(s, ctx, "list customers", scanCustomer, "SELECT "+customerCols+" FROM customers WHERE "+c+" ORDER BY name, id", args...)
}

func (s *Store) Customer(ctx context.Context, sc store.Scope, id int64) (store.Customer, error) {
	c, args := customerIn(sc, "id")
	cu, err := scanCustomer(s.queryRow(ctx, "SELECT "+customerCols+" FROM customers WHERE id = ? AND "+c, append([]any{id}, args...)...))
	if err != nil {
		return cu, notFound(err, fmt.Sprintf("customer %d", id))
	}
	return cu, nil
}

func (s *Store) DeleteCustomer(ctx context.Context, sc store.Scope, id int64) error {
	c, args := customerIn(sc, "id")
	return s.write(ctx, func(t *tx) error {
		var domains int
		err := t.QueryRow("SELECT (SELECT count(*) FROM domains WHERE customer_id = customers.id) FROM customers WHERE id = ? AND "+c,
			append([]any{id}, args...)...).Scan(&domains)
		if err != nil {
			return notFound(err, fmt.Sprintf("customer %d", id))
		}
		if id == store.DefaultCustomerID {
			return fmt.Errorf("the default customer cannot be removed: %w", store.ErrInvalid)
		}
		if domains > 0 {
			return fmt.Errorf("customer %d has %d domain(s); remove them first: %w", id, domains, store.ErrNotEmpty)
		}
		for _, q := range []string{
			"DELETE FROM api_tokens WHERE admin_id IN (SELECT id FROM admins WHERE role = 'customer' AND scope_id = ?)",
			"DELETE FROM admins WHERE role = 'customer' AND scope_id = ?",
			"DELETE FROM customers WHERE id = ?",
		} {
			if _, err := t.Exec(q, id); err != nil {
				return fmt.Errorf("delete customer %d: %w", id, err)
			}
		}
		return nil
	})
}

// --- domains

func (s *Store) AddDomain(ctx context.Context, sc store.Scope, customerID int64, name string, retentionDays int) (store.Domain, error) {
	d, err := newDomain(name, retentionDays, customerID)
	if err != nil {
		return store.Domain{}, err
	}
	c, args := customerIn(sc, "id")
	err = s.write(ctx, func(t *tx) error {
		var one int
		if err := t.QueryRow("SELECT 1 FROM customers WHERE id = ? AND "+c, append([]any{customerID}, args...)...).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("customer %d", customerID))
		}
		return t.insertDomain(&d)
	})
	return d, err
}

func (s *Store) ScopedDomains(ctx context.Context, sc store.Scope, customerID int64) ([]store.Domain, error) {
	c, args := customerIn(sc, "customer_id")
	q := "SELECT " + domainCols + " FROM domains WHERE " + c
	if customerID > 0 {
		if _, err := s.Customer(ctx, sc, customerID); err != nil {
			return nil, err
		}
		q += " AND customer_id = ?"
		args = append(args, customerID)
	}
	return queryList(s, ctx, "list domains", scanDomain, q+" ORDER BY name", args...)
}

func (s *Store) ScopedDomain(ctx context.Context, sc store.Scope, name string) (store.Domain, error) {
	n, err := store.NormalizeDomain(name)
	if err != nil {
		return store.Domain{}, fmt.Errorf("domain %q: %w", name, store.ErrNotFound)
	}
	c, args := customerIn(sc, "customer_id")
	d, err := scanDomain(s.queryRow(ctx, "SELECT "+domainCols+" FROM domains WHERE name = ? AND "+c, append([]any{n}, args...)...))
	if err != nil {
		return d, notFound(err, "domain "+n)
	}
	return d, nil
}

func (s *Store) DomainByID(ctx context.Context, sc store.Scope, id int64) (store.Domain, error) {
	c, args := customerIn(sc, "customer_id")
	d, err := scanDomain(s.queryRow(ctx, "SELECT "+domainCols+" FROM domains WHERE id = ? AND "+c, append([]any{id}, args...)...))
	if err != nil {
		return d, notFound(err, fmt.Sprintf("domain %d", id))
	}
	return d, nil
}

func (s *Store) ScopeDomainIDs(ctx context.Context, sc store.Scope) ([]int64, error) {
	if sc.Kind == store.ScopeAll {
		return nil, nil
	}
	c, args := customerIn(sc, "customer_id")
	ids, err := queryList(s, ctx, "list scope domains", func(sc scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, "SELECT id FROM domains WHERE "+c, args...)
	if ids == nil && err == nil {
		ids = []int64{}
	}
	return ids, err
}

func (s *Store) SetDomainSettings(ctx context.Context, sc store.Scope, name string, set store.DomainSettings) error {
	if err := checkRetention(set.RetentionDays); err != nil {
		return err
	}
	for _, ip := range set.AllowedIPs {
		if ip == "" || strings.ContainsAny(ip, " \t\r\n") {
			return fmt.Errorf("allowed IP %q: %w", ip, store.ErrInvalid)
		}
	}
	if strings.ContainsAny(set.RelayHost, " \t\r\n") {
		return fmt.Errorf("relay host %q: %w", set.RelayHost, store.ErrInvalid)
	}
	if err := store.CheckRecipientDelimiter(set.RecipientDelimiter); err != nil {
		return err
	}
	c, args := customerIn(sc, "customer_id")
	return s.updateOne(ctx, "domain "+name,
		"UPDATE domains SET retention_days = ?, whole_domain = ?, allowed_ips = ?, relay_host = ?, continuity_only = ?, recipient_delimiter = ? WHERE name = ? AND "+c,
		append([]any{set.RetentionDays, set.WholeDomain, strings.Join(set.AllowedIPs, " "), set.RelayHost, set.ContinuityOnly, set.RecipientDelimiter,
			strings.ToLower(strings.TrimSpace(name))}, args...)...)
}

func (s *Store) RemoveDomain(ctx context.Context, sc store.Scope, name string) error {
	if _, err := s.ScopedDomain(ctx, sc, name); err != nil {
		return err
	}
	// Domains never change customer, so the domain is still in scope.
	return s.DeleteDomain(ctx, name)
}

// --- accounts

func (s *Store) ScopedAccounts(ctx context.Context, sc store.Scope, q store.AccountQuery) ([]store.Account, error) {
	c, args := domainIn(sc, "domain_id")
	query := "SELECT " + accountCols + " FROM accounts WHERE " + c
	if q.Domain != "" {
		d, err := s.ScopedDomain(ctx, sc, q.Domain)
		if err != nil {
			return nil, err
		}
		query += " AND domain_id = ?"
		args = append(args, d.ID)
	}
	if q.Search != "" {
		query += " AND instr(address, ?) > 0"
		args = append(args, strings.ToLower(q.Search))
	}
	if q.After != "" {
		query += " AND address > ?"
		args = append(args, strings.ToLower(q.After))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	query += " ORDER BY address LIMIT ?"
	args = append(args, limit)
	return queryList(s, ctx, "list accounts", scanAccount, query, args...)
}

func (s *Store) ScopedAccount(ctx context.Context, sc store.Scope, address string) (store.Account, error) {
	c, args := domainIn(sc, "domain_id")
	addr := strings.ToLower(strings.TrimSpace(address))
	a, err := scanAccount(s.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE address = ? AND "+c, append([]any{addr}, args...)...))
	if err != nil {
		return a, notFound(err, "address "+addr)
	}
	return a, nil
}

func (s *Store) AddAccounts(ctx context.Context, sc store.Scope, rows []store.NewAccount) ([]store.Account, []error, error) {
	accts := make([]store.Account, len(rows))
	errs := make([]error, len(rows))
	c, cargs := customerIn(sc, "customer_id")
	// Three statements per row, prepared once per batch (a bulk import
	// writes 10,000 rows): the account, its mailboxes, its
	// subscriptions. A row fails only at its account's insert (a taken
	// address), before anything of it is written, so no row is ever
	// half there; any later failure fails the whole batch.
	nmb := len(store.DefaultMailboxes)
	mbValues := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", nmb), ",")
	subValues := strings.TrimSuffix(strings.Repeat("(?, ?),", nmb), ",")
	err := s.write(ctx, func(t *tx) error {
		prep := func(q string) (*sql.Stmt, error) {
			st, err := t.Tx.Prepare(q)
			if err != nil {
				return nil, fmt.Errorf("prepare %q: %w", q, err)
			}
			return st, nil
		}
		domStmt, err := prep("SELECT id FROM domains WHERE name = ? AND " + c)
		if err != nil {
			return err
		}
		defer domStmt.Close()
		acctStmt, err := prep("INSERT INTO accounts (domain_id, address, password_hash, enabled, created) VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO NOTHING RETURNING id")
		if err != nil {
			return err
		}
		defer acctStmt.Close()
		mbStmt, err := prep("INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES " + mbValues)
		if err != nil {
			return err
		}
		defer mbStmt.Close()
		subStmt, err := prep("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES " + subValues)
		if err != nil {
			return err
		}
		defer subStmt.Close()
		var pendStmt *sql.Stmt // prepared when a row brings a sealed password
		// UIDVALIDITY values for every mailbox of the batch at once;
		// unused ones (rows that fail) are simply never given out.
		var uidvalidity uint32
		if err := t.QueryRow("UPDATE meta SET value = value + ? WHERE key = 'next_uidvalidity' RETURNING value - ?",
			len(rows)*nmb, len(rows)*nmb).Scan(&uidvalidity); err != nil {
			return fmt.Errorf("allocate uidvalidity: %w", err)
		}
		domains := map[string]int64{}
		now := time.Now().Truncate(time.Millisecond)
		for i, r := range rows {
			addr, err := store.NormalizeAddress(r.Address)
			if err != nil {
				errs[i] = err
				continue
			}
			dom := store.DomainOf(addr)
			domainID, ok := domains[dom]
			if !ok {
				if err := domStmt.QueryRow(append([]any{dom}, cargs...)...).Scan(&domainID); err != nil {
					errs[i] = notFound(err, "domain "+dom)
					continue
				}
				domains[dom] = domainID
			}
			a := store.Account{DomainID: domainID, Address: addr, PasswordHash: r.PasswordHash, Enabled: r.Enabled, CreatedAt: now}
			err = acctStmt.QueryRow(domainID, addr, r.PasswordHash, r.Enabled, now.UnixMilli()).Scan(&a.ID)
			if errors.Is(err, sql.ErrNoRows) {
				errs[i] = fmt.Errorf("address %s: %w", addr, store.ErrExists)
				continue
			}
			if err != nil {
				return fmt.Errorf("insert account %s: %w", addr, err)
			}
			mbArgs := make([]any, 0, 4*nmb)
			subArgs := make([]any, 0, 2*nmb)
			for j, mb := range store.DefaultMailboxes {
				mbArgs = append(mbArgs, a.ID, mb.Name, mb.SpecialUse, uidvalidity+uint32(i*nmb+j))
				subArgs = append(subArgs, a.ID, mb.Name)
			}
			if _, err := mbStmt.Exec(mbArgs...); err != nil {
				return fmt.Errorf("create mailboxes of %s: %w", addr, err)
			}
			if _, err := subStmt.Exec(subArgs...); err != nil {
				return fmt.Errorf("subscribe mailboxes of %s: %w", addr, err)
			}
			if r.Sealed != nil {
				if r.PasswordHash != store.PendingPasswordHash {
					return fmt.Errorf("account %s: a sealed password needs the pending hash: %w", addr, store.ErrInvalid)
				}
				if pendStmt == nil {
					if pendStmt, err = prep("INSERT INTO password_pending (account_id, sealed, batch, created) VALUES (?, ?, ?, ?)"); err != nil {
						return err
					}
					defer pendStmt.Close()
				}
				if _, err := pendStmt.Exec(a.ID, r.Sealed, r.Batch, now.UnixMilli()); err != nil {
					return fmt.Errorf("keep pending password of %s: %w", addr, err)
				}
			}
			accts[i] = a
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return accts, errs, nil
}

func (s *Store) SetAccountEnabled(ctx context.Context, sc store.Scope, address string, enabled bool) error {
	c, args := domainIn(sc, "domain_id")
	addr := strings.ToLower(strings.TrimSpace(address))
	return s.updateOne(ctx, "address "+addr, "UPDATE accounts SET enabled = ? WHERE address = ? AND "+c, append([]any{enabled, addr}, args...)...)
}

func (s *Store) SetAccountPassword(ctx context.Context, sc store.Scope, address, passwordHash string) error {
	c, args := domainIn(sc, "domain_id")
	addr := strings.ToLower(strings.TrimSpace(address))
	return s.updateOne(ctx, "address "+addr, "UPDATE accounts SET password_hash = ? WHERE address = ? AND "+c, append([]any{passwordHash, addr}, args...)...)
}

func (s *Store) RemoveAccount(ctx context.Context, sc store.Scope, address string) error {
	a, err := s.ScopedAccount(ctx, sc, address)
	if err != nil {
		return err
	}
	// An account never changes domain, nor a domain customer.
	return s.DeleteAccount(ctx, a.Address)
}

// --- admins

const adminCols = "id, email, password_hash, role, scope_id, totp_secret, totp_last_step, disabled, created"

func scanAdmin(sc scanner) (store.Admin, error) {
	var a store.Admin
	var created int64
	err := sc.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.Role, &a.ScopeID, &a.TOTPSecret, &a.TOTPLastStep, &a.Disabled, &created)
	a.CreatedAt = time.UnixMilli(created)
	return a, err
}

// adminScopeExists checks, in a transaction, that the role's scope object
// exists and lies in sc.
func (t *tx) adminScopeExists(sc store.Scope, role store.Role, scopeID int64) error {
	var q string
	var args []any
	switch role {
	case store.RoleProvider:
		if sc.Kind != store.ScopeAll || scopeID != 0 {
			return fmt.Errorf("provider admin: %w", store.ErrNotFound)
		}
		return nil
	case store.RoleReseller:
		c, a := resellerIn(sc, "id")
		q, args = "SELECT 1 FROM resellers WHERE id = ? AND "+c, append([]any{scopeID}, a...)
	case store.RoleCustomer:
		c, a := customerIn(sc, "id")
		q, args = "SELECT 1 FROM customers WHERE id = ? AND "+c, append([]any{scopeID}, a...)
	default:
		return fmt.Errorf("role %q: %w", role, store.ErrInvalid)
	}
	var one int
	if err := t.QueryRow(q, args...).Scan(&one); err != nil {
		return notFound(err, fmt.Sprintf("%s %d", role, scopeID))
	}
	return nil
}

func (s *Store) CreateAdmin(ctx context.Context, sc store.Scope, a store.Admin) (store.Admin, error) {
	email, err := store.NormalizeAddress(a.Email)
	if err != nil {
		return store.Admin{}, err
	}
	a.Email, a.CreatedAt, a.ID, a.TOTPLastStep = email, nowMilli(), 0, 0
	err = s.write(ctx, func(t *tx) error {
		if err := t.adminScopeExists(sc, a.Role, a.ScopeID); err != nil {
			return err
		}
		var err error
		a.ID, err = t.insert("admin "+email, "INSERT INTO admins (email, password_hash, role, scope_id, totp_secret, disabled, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
			a.Email, a.PasswordHash, a.Role, a.ScopeID, a.TOTPSecret, a.Disabled, a.CreatedAt.UnixMilli())
		return err
	})
	return a, err
}

func (s *Store) Admins(ctx context.Context, sc store.Scope) ([]store.Admin, error) {
	c, args := adminIn(sc)
	return queryList(s, ctx, "list admins", scanAdmin, "SELECT "+adminCols+" FROM admins WHERE "+c+" ORDER BY email", args...)
}

func (s *Store) AdminByID(ctx context.Context, sc store.Scope, id int64) (store.Admin, error) {
	c, args := adminIn(sc)
	a, err := scanAdmin(s.queryRow(ctx, "SELECT "+adminCols+" FROM admins WHERE id = ? AND "+c, append([]any{id}, args...)...))
	if err != nil {
		return a, notFound(err, fmt.Sprintf("admin %d", id))
	}
	return a, nil
}

func (s *Store) AdminByEmail(ctx context.Context, email string) (store.Admin, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := scanAdmin(s.queryRow(ctx, "SELECT "+adminCols+" FROM admins WHERE email = ?", e))
	if err != nil {
		return a, notFound(err, "admin "+e)
	}
	return a, nil
}

func (s *Store) SetAdminPassword(ctx context.Context, sc store.Scope, id int64, passwordHash string) error {
	c, args := adminIn(sc)
	return s.updateOne(ctx, fmt.Sprintf("admin %d", id), "UPDATE admins SET password_hash = ? WHERE id = ? AND "+c, append([]any{passwordHash, id}, args...)...)
}

func (s *Store) SetAdminDisabled(ctx context.Context, sc store.Scope, id int64, disabled bool) error {
	c, args := adminIn(sc)
	return s.updateOne(ctx, fmt.Sprintf("admin %d", id), "UPDATE admins SET disabled = ? WHERE id = ? AND "+c, append([]any{disabled, id}, args...)...)
}

func (s *Store) SetAdminTOTP(ctx context.Context, sc store.Scope, id int64, secret string) error {
	c, args := adminIn(sc)
	return s.updateOne(ctx, fmt.Sprintf("admin %d", id), "UPDATE admins SET totp_secret = ?, totp_last_step = 0 WHERE id = ? AND "+c, append([]any{secret, id}, args...)...)
}

func (s *Store) UseTOTPStep(ctx context.Context, id int64, step int64) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.Exec("UPDATE admins SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, id, step)
		if err != nil {
			return fmt.Errorf("record TOTP step of admin %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := t.QueryRow("SELECT 1 FROM admins WHERE id = ?", id).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("admin %d", id))
		}
		return fmt.Errorf("TOTP code of step %d for admin %d: %w", step, id, store.ErrReplay)
	})
}

func (s *Store) DeleteAdmin(ctx context.Context, sc store.Scope, id int64) error {
	c, args := adminIn(sc)
	return s.write(ctx, func(t *tx) error {
		var one int
		if err := t.QueryRow("SELECT 1 FROM admins WHERE id = ? AND "+c, append([]any{id}, args...)...).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("admin %d", id))
		}
		for _, q := range []string{"DELETE FROM api_tokens WHERE admin_id = ?", "DELETE FROM admins WHERE id = ?"} {
			if _, err := t.Exec(q, id); err != nil {
				return fmt.Errorf("delete admin %d: %w", id, err)
			}
		}
		return nil
	})
}

// --- API tokens

const tokenCols = "id, admin_id, name, hash, created, expires, last_used, revoked"

func scanToken(sc scanner) (store.APIToken, error) {
	var t store.APIToken
	var created, expires, used int64
	err := sc.Scan(&t.ID, &t.AdminID, &t.Name, &t.Hash, &created, &expires, &used, &t.Revoked)
	t.CreatedAt = time.UnixMilli(created)
	t.ExpiresAt = milliOrZero(expires)
	t.LastUsed = milliOrZero(used)
	return t, err
}

func milliOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func zeroOrMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// tokenIn is the scope condition of a token: its admin's.
func tokenIn(sc store.Scope) (string, []any) {
	if sc.Kind == store.ScopeAll {
		return "1", nil
	}
	c, args := adminIn(sc)
	return "admin_id IN (SELECT id FROM admins WHERE " + c + ")", args
}

func (s *Store) CreateAPIToken(ctx context.Context, sc store.Scope, tok store.APIToken) (store.APIToken, error) {
	name, err := checkName("token", tok.Name)
	if err != nil {
		return store.APIToken{}, err
	}
	if len(tok.Hash) < 32 {
		return store.APIToken{}, fmt.Errorf("token hash: %w", store.ErrInvalid)
	}
	tok.Name, tok.CreatedAt, tok.Revoked, tok.LastUsed = name, nowMilli(), false, time.Time{}
	c, args := adminIn(sc)
	err = s.write(ctx, func(t *tx) error {
		var one int
		if err := t.QueryRow("SELECT 1 FROM admins WHERE id = ? AND "+c, append([]any{tok.AdminID}, args...)...).Scan(&one); err != nil {
			return notFound(err, fmt.Sprintf("admin %d", tok.AdminID))
		}
		var err error
		tok.ID, err = t.insert("token", "INSERT INTO api_tokens (admin_id, name, hash, created, expires) VALUES (?, ?, ?, ?, ?)",
			tok.AdminID, tok.Name, tok.Hash, tok.CreatedAt.UnixMilli(), zeroOrMilli(tok.ExpiresAt))
		return err
	})
	return tok, err
}

func (s *Store) APITokens(ctx context.Context, sc store.Scope) ([]store.APIToken, error) {
	c, args := tokenIn(sc)
	return queryList(s, ctx, "list tokens", scanToken, "SELECT "+tokenCols+" FROM api_tokens WHERE "+c+" ORDER BY id", args...)
}

func (s *Store) APITokenByHash(ctx context.Context, hash string) (store.APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE hash = ?", hash))
	if err != nil {
		return t, notFound(err, "token")
	}
	return t, nil
}

func (s *Store) RevokeAPIToken(ctx context.Context, sc store.Scope, id int64) error {
	c, args := tokenIn(sc)
	return s.updateOne(ctx, fmt.Sprintf("token %d", id), "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND "+c, append([]any{id}, args...)...)
}

func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	return s.updateOne(ctx, fmt.Sprintf("token %d", id), "UPDATE api_tokens SET last_used = max(last_used, ?) WHERE id = ?", at.UnixMilli(), id)
}

// --- audit

func (s *Store) AppendAudit(ctx context.Context, recs ...store.AuditRecord) error {
	return s.write(ctx, func(t *tx) error {
		for _, r := range recs {
			if r.Time.IsZero() {
				r.Time = time.Now()
			}
			_, err := t.Exec("INSERT INTO audit (time, admin_id, actor, action, object, detail, remote_ip, reseller_id, customer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				r.Time.UnixMilli(), r.AdminID, r.Actor, r.Action, r.Object, r.Detail, r.RemoteIP, r.ResellerID, r.CustomerID)
			if err != nil {
				return fmt.Errorf("append audit record: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) SearchAudit(ctx context.Context, sc store.Scope, q store.AuditQuery) ([]store.AuditRecord, error) {
	var where []string
	var args []any
	switch sc.Kind {
	case store.ScopeReseller:
		where, args = append(where, "reseller_id = ?"), append(args, sc.ID)
	case store.ScopeCustomer:
		where, args = append(where, "customer_id = ?"), append(args, sc.ID)
	}
	if q.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, strings.ToLower(q.Actor))
	}
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	if q.Object != "" {
		where, args = append(where, "instr(lower(object), ?) > 0"), append(args, strings.ToLower(q.Object))
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, q.Until.UnixMilli())
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := "SELECT id, time, admin_id, actor, action, object, detail, remote_ip, reseller_id, customer_id FROM audit"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	return queryList(s, ctx, "search audit log", func(sc scanner) (store.AuditRecord, error) {
		var r store.AuditRecord
		var ms int64
		err := sc.Scan(&r.ID, &ms, &r.AdminID, &r.Actor, &r.Action, &r.Object, &r.Detail, &r.RemoteIP, &r.ResellerID, &r.CustomerID)
		r.Time = time.UnixMilli(ms)
		return r, err
	}, query+" ORDER BY id DESC LIMIT ?", args...)
}

// --- sign-in links

func (s *Store) CreateSignInLink(ctx context.Context, sc store.Scope, address, hash string, expires time.Time) error {
	if len(hash) < 32 {
		return fmt.Errorf("sign-in link hash: %w", store.ErrInvalid)
	}
	c, args := domainIn(sc, "domain_id")
	addr := strings.ToLower(strings.TrimSpace(address))
	return s.write(ctx, func(t *tx) error {
		var id int64
		if err := t.QueryRow("SELECT id FROM accounts WHERE address = ? AND "+c, append([]any{addr}, args...)...).Scan(&id); err != nil {
			return notFound(err, "address "+addr)
		}
		// Links long expired go with each new one: the table stays small.
		if _, err := t.Exec("DELETE FROM signin_links WHERE expires < ?", time.Now().Add(-24*time.Hour).UnixMilli()); err != nil {
			return fmt.Errorf("drop expired sign-in links: %w", err)
		}
		if _, err := t.Exec("INSERT INTO signin_links (hash, account_id, expires) VALUES (?, ?, ?)", hash, id, expires.UnixMilli()); err != nil {
			return fmt.Errorf("insert sign-in link: %w", err)
		}
		return nil
	})
}

func (s *Store) ConsumeSignInLink(ctx context.Context, hash string, now time.Time) (store.Account, error) {
	var a store.Account
	err := s.write(ctx, func(t *tx) error {
		var id, expires int64
		var used bool
		if err := t.QueryRow("SELECT account_id, expires, used FROM signin_links WHERE hash = ?", hash).Scan(&id, &expires, &used); err != nil {
			return notFound(err, "sign-in link")
		}
		if used {
			return fmt.Errorf("sign-in link: %w", store.ErrReplay)
		}
		if now.UnixMilli() >= expires {
			return fmt.Errorf("sign-in link expired: %w", store.ErrNotFound)
		}
		if _, err := t.Exec("UPDATE signin_links SET used = 1 WHERE hash = ?", hash); err != nil {
			return fmt.Errorf("use sign-in link: %w", err)
		}
		var err error
		a, err = scanAccount(t.QueryRow("SELECT "+accountCols+" FROM accounts WHERE id = ?", id))
		if err != nil {
			return notFound(err, "account of sign-in link")
		}
		return nil
	})
	return a, err
}

// --- usage and dashboard

const dayMilli = 24 * 60 * 60 * 1000

func dayNumber(t time.Time) int64 { return t.UnixMilli() / dayMilli }

func dayTime(n int64) time.Time { return time.UnixMilli(n * dayMilli).UTC() }

func (s *Store) SnapshotUsage(ctx context.Context, day time.Time) error {
	return s.write(ctx, func(t *tx) error {
		_, err := t.Exec(`INSERT OR REPLACE INTO usage_daily (day, customer_id, addresses)
			SELECT ?, c.id, (SELECT count(*) FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.customer_id = c.id AND a.enabled = 1)
			FROM customers c`, dayNumber(day))
		if err != nil {
			return fmt.Errorf("snapshot usage: %w", err)
		}
		return nil
	})
}

func (s *Store) Usage(ctx context.Context, sc store.Scope, from, to time.Time) ([]store.UsageDay, error) {
	c, args := customerIn(sc, "customer_id")
	args = append([]any{dayNumber(from), dayNumber(to)}, args...)
	return queryList(s, ctx, "usage", func(sc scanner) (store.UsageDay, error) {
		var u store.UsageDay
		var day int64
		err := sc.Scan(&day, &u.CustomerID, &u.Addresses)
		u.Day = dayTime(day)
		return u, err
	}, "SELECT day, customer_id, addresses FROM usage_daily WHERE day >= ? AND day < ? AND "+c+" ORDER BY day, customer_id", args...)
}

func (s *Store) Dashboard(ctx context.Context, sc store.Scope, since time.Time) (store.Dashboard, error) {
	var d store.Dashboard
	first := dayNumber(since)
	today := dayNumber(time.Now())
	dc, dargs := domainIn(sc, "domain_id")
	counts := map[int64]store.DayCount{}
	rows, err := queryList(s, ctx, "dashboard days", func(sc scanner) (store.DayCount, error) {
		var c store.DayCount
		var day int64
		err := sc.Scan(&day, &c.Captured, &c.Sent)
		c.Day = dayTime(day)
		return c, err
	}, "SELECT day, sum(captured), sum(sent) FROM daily_stats WHERE day >= ? AND "+dc+" GROUP BY day", append([]any{first}, dargs...)...)
	if err != nil {
		return d, err
	}
	for _, c := range rows {
		counts[dayNumber(c.Day)] = c
	}
	for n := first; n <= today; n++ {
		c, ok := counts[n]
		if !ok {
			c = store.DayCount{Day: dayTime(n)}
		}
		d.Days = append(d.Days, c)
	}
	cc, cargs := customerIn(sc, "d.customer_id")
	d.Domains, err = queryList(s, ctx, "dashboard domains", func(sc scanner) (store.DomainUsage, error) {
		var u store.DomainUsage
		return u, sc.Scan(&u.DomainID, &u.Name, &u.Messages, &u.Bytes)
	}, "SELECT d.id, d.name, coalesce(u.messages, 0), coalesce(u.bytes, 0) FROM domains d LEFT JOIN domain_usage u ON u.domain_id = d.id WHERE "+cc+" ORDER BY d.name", cargs...)
	if err != nil {
		return d, err
	}
	if err := s.queryRow(ctx, "SELECT count(*) FROM queue WHERE "+dc, dargs...).Scan(&d.Queue); err != nil {
		return d, fmt.Errorf("dashboard queue: %w", err)
	}
	return d, nil
}
