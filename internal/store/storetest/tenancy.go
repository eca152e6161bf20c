package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// tree is the tenant tree the tenancy tests share:
//
//	provider ─┬─ reseller r1 ── customer c1 ── domain one.test ── a@one.test
//	          ├─ reseller r2 ── customer c2 ── domain two.test ── b@two.test
//	          └─ customer c0 (directly) ── domain zero.test ── z@zero.test
type tree struct {
	r1, r2                   store.Reseller
	c0, c1, c2               store.Customer
	d0, d1, d2               store.Domain
	a0, a1, a2               store.Account
	admin0, admin1, admin2   store.Admin // customer admins of c0, c1, c2
	radmin1, radmin2, padmin store.Admin // reseller admins, a provider admin
	tok1, tok2               store.APIToken
}

func tokenHash(s string) string { return fmt.Sprintf("%064x", s) }

func buildTree(t *testing.T, s store.Store) tree {
	t.Helper()
	ctx := context.Background()
	all := store.AllScope()
	var tr tree
	tr.r1 = must(s.CreateReseller(ctx, all, "Reseller One"))
	tr.r2 = must(s.CreateReseller(ctx, all, "Reseller Two"))
	tr.c0 = must(s.CreateCustomer(ctx, all, 0, "Direct"))
	tr.c1 = must(s.CreateCustomer(ctx, store.ResellerScope(tr.r1.ID), tr.r1.ID, "Customer One"))
	tr.c2 = must(s.CreateCustomer(ctx, all, tr.r2.ID, "Customer Two"))
	tr.d0 = must(s.AddDomain(ctx, all, tr.c0.ID, "zero.test", 0))
	tr.d1 = must(s.AddDomain(ctx, store.CustomerScope(tr.c1.ID), tr.c1.ID, "one.test", 7))
	tr.d2 = must(s.AddDomain(ctx, store.ResellerScope(tr.r2.ID), tr.c2.ID, "two.test", 0))
	acct := func(sc store.Scope, addr string) store.Account {
		as, errs := must2(s.AddAccounts(ctx, sc, []store.NewAccount{{Address: addr, Enabled: true}}))
		if errs[0] != nil {
			t.Fatalf("AddAccounts %s: %v", addr, errs[0])
		}
		return as[0]
	}
	tr.a0 = acct(all, "z@zero.test")
	tr.a1 = acct(store.CustomerScope(tr.c1.ID), "a@one.test")
	tr.a2 = acct(store.ResellerScope(tr.r2.ID), "b@two.test")
	ad := func(sc store.Scope, email string, role store.Role, scope int64) store.Admin {
		return must(s.CreateAdmin(ctx, sc, store.Admin{Email: email, PasswordHash: "h", Role: role, ScopeID: scope}))
	}
	tr.padmin = ad(all, "boss@provider.test", store.RoleProvider, 0)
	tr.radmin1 = ad(all, "r1@resellers.test", store.RoleReseller, tr.r1.ID)
	tr.radmin2 = ad(store.ResellerScope(tr.r2.ID), "r2@resellers.test", store.RoleReseller, tr.r2.ID)
	tr.admin0 = ad(all, "c0@customers.test", store.RoleCustomer, tr.c0.ID)
	tr.admin1 = ad(store.ResellerScope(tr.r1.ID), "c1@customers.test", store.RoleCustomer, tr.c1.ID)
	tr.admin2 = ad(store.CustomerScope(tr.c2.ID), "c2@customers.test", store.RoleCustomer, tr.c2.ID)
	tr.tok1 = must(s.CreateAPIToken(ctx, store.CustomerScope(tr.c1.ID), store.APIToken{AdminID: tr.admin1.ID, Name: "one", Hash: tokenHash("one")}))
	tr.tok2 = must(s.CreateAPIToken(ctx, store.CustomerScope(tr.c2.ID), store.APIToken{AdminID: tr.admin2.ID, Name: "two", Hash: tokenHash("two")}))
	return tr
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(failure{err})
	}
	return a, b
}

// testTenancyTree checks the tree's shape and what each scope lists.
func testTenancyTree(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	all := store.AllScope()
	// Names are unique without regard to case (per reseller for
	// customers).
	if _, err := s.CreateReseller(ctx, all, "RESELLER one"); !errors.Is(err, store.ErrExists) {
		t.Errorf("reseller name differing in case: %v, want ErrExists", err)
	}
	if _, err := s.CreateCustomer(ctx, all, tr.r1.ID, "customer ONE"); !errors.Is(err, store.ErrExists) {
		t.Errorf("customer name differing in case: %v, want ErrExists", err)
	}
	must(s.CreateCustomer(ctx, all, tr.r2.ID, "Customer One")) // another reseller's: fine
	// Domains created the old way go to the default customer.
	legacy := must(s.CreateDomain(ctx, "legacy.test", 0))
	if legacy.CustomerID != store.DefaultCustomerID {
		t.Errorf("CreateDomain put the domain under customer %d, want the default %d", legacy.CustomerID, store.DefaultCustomerID)
	}
	if c := must(s.Customer(ctx, all, store.DefaultCustomerID)); c.ResellerID != 0 {
		t.Errorf("default customer %+v", c)
	}
	if err := s.DeleteCustomer(ctx, all, store.DefaultCustomerID); !errors.Is(err, store.ErrInvalid) && !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("delete default customer: %v, want refused", err)
	}
	if tr.c1.ResellerID != tr.r1.ID || tr.c0.ResellerID != 0 || tr.d1.CustomerID != tr.c1.ID || tr.d1.RetentionDays != 7 {
		t.Errorf("tree: %+v %+v %+v", tr.c1, tr.c0, tr.d1)
	}
	names := func(ds []store.Domain) string {
		var n []string
		for _, d := range ds {
			n = append(n, d.Name)
		}
		return strings.Join(n, " ")
	}
	for _, c := range []struct {
		sc      store.Scope
		domains string
		custs   int
		resells int
		admins  int
		tokens  int
		accts   int
	}{
		{all, "legacy.test one.test two.test zero.test", 5, 2, 6, 2, 3},
		{store.ResellerScope(tr.r1.ID), "one.test", 1, 1, 2, 1, 1},
		{store.ResellerScope(tr.r2.ID), "two.test", 2, 1, 2, 1, 1},
		{store.CustomerScope(tr.c1.ID), "one.test", 1, 0, 1, 1, 1},
		{store.CustomerScope(tr.c0.ID), "zero.test", 1, 0, 1, 0, 1},
		{store.ResellerScope(9999), "", 0, 0, 0, 0, 0},
	} {
		if got := names(must(s.ScopedDomains(ctx, c.sc, 0))); got != c.domains {
			t.Errorf("scope %+v: domains %q, want %q", c.sc, got, c.domains)
		}
		ids := must(s.ScopeDomainIDs(ctx, c.sc))
		if c.sc.Kind == store.ScopeAll && ids != nil || c.sc.Kind != store.ScopeAll && (ids == nil || len(ids) != len(strings.Fields(c.domains))) {
			t.Errorf("scope %+v: ScopeDomainIDs %v", c.sc, ids)
		}
		if n := len(must(s.Customers(ctx, c.sc))); n != c.custs {
			t.Errorf("scope %+v: %d customers, want %d", c.sc, n, c.custs)
		}
		if n := len(must(s.Resellers(ctx, c.sc))); n != c.resells {
			t.Errorf("scope %+v: %d resellers, want %d", c.sc, n, c.resells)
		}
		if n := len(must(s.Admins(ctx, c.sc))); n != c.admins {
			t.Errorf("scope %+v: %d admins, want %d", c.sc, n, c.admins)
		}
		if n := len(must(s.APITokens(ctx, c.sc))); n != c.tokens {
			t.Errorf("scope %+v: %d tokens, want %d", c.sc, n, c.tokens)
		}
		if n := len(must(s.ScopedAccounts(ctx, c.sc, store.AccountQuery{}))); n != c.accts {
			t.Errorf("scope %+v: %d accounts, want %d", c.sc, n, c.accts)
		}
	}
	// Account listing: search, domain, cursor.
	must2(s.AddAccounts(ctx, all, []store.NewAccount{{Address: "b@one.test"}, {Address: "c@one.test"}}))
	c1 := store.CustomerScope(tr.c1.ID)
	page := must(s.ScopedAccounts(ctx, c1, store.AccountQuery{Limit: 2}))
	if len(page) != 2 || page[0].Address != "a@one.test" || page[1].Address != "b@one.test" {
		t.Fatalf("first page %+v", page)
	}
	page = must(s.ScopedAccounts(ctx, c1, store.AccountQuery{After: page[1].Address}))
	if len(page) != 1 || page[0].Address != "c@one.test" {
		t.Fatalf("second page %+v", page)
	}
	if got := must(s.ScopedAccounts(ctx, all, store.AccountQuery{Search: "B@"})); len(got) != 2 {
		t.Errorf("search b@: %+v", got)
	}
	if got := must(s.ScopedAccounts(ctx, all, store.AccountQuery{Domain: "two.test"})); len(got) != 1 || got[0].Address != "b@two.test" {
		t.Errorf("domain two.test: %+v", got)
	}
	// Non-empty refusals.
	if err := s.DeleteReseller(ctx, all, tr.r1.ID); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("delete reseller with customers: %v", err)
	}
	if err := s.DeleteCustomer(ctx, all, tr.c1.ID); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("delete customer with domains: %v", err)
	}
	if err := s.RemoveDomain(ctx, all, "one.test"); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("remove domain with accounts: %v", err)
	}
	// Settings round trip.
	set := store.DomainSettings{RetentionDays: 14, WholeDomain: true, AllowedIPs: []string{"192.0.2.0/24", "2001:db8::1"}, RelayHost: "mx.one.test:25", ContinuityOnly: true}
	must(0, s.SetDomainSettings(ctx, c1, "one.test", set))
	d := must(s.ScopedDomain(ctx, c1, "ONE.test"))
	if d.RetentionDays != 14 || !d.WholeDomain || strings.Join(d.AllowedIPs, ",") != "192.0.2.0/24,2001:db8::1" || d.RelayHost != "mx.one.test:25" || !d.ContinuityOnly {
		t.Errorf("settings after SetDomainSettings: %+v", d)
	}
	if got := must(s.Domain(ctx, "one.test")); !got.WholeDomain || !got.ContinuityOnly || got.Settings().ContinuityOnly != true || got.CustomerID != tr.c1.ID {
		t.Errorf("Domain() does not show the settings: %+v", got)
	}
	// Removing a customer takes its admins and their tokens.
	c3 := must(s.CreateCustomer(ctx, all, tr.r1.ID, "Short-lived"))
	a3 := must(s.CreateAdmin(ctx, all, store.Admin{Email: "c3@customers.test", PasswordHash: "h", Role: store.RoleCustomer, ScopeID: c3.ID}))
	must(s.CreateAPIToken(ctx, all, store.APIToken{AdminID: a3.ID, Name: "x", Hash: tokenHash("three")}))
	must(0, s.DeleteCustomer(ctx, store.ResellerScope(tr.r1.ID), c3.ID))
	if _, err := s.AdminByEmail(ctx, "c3@customers.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("admin of removed customer: %v", err)
	}
	if _, err := s.APITokenByHash(ctx, tokenHash("three")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of removed customer's admin: %v", err)
	}
}

// testTenancyScope is the tenant isolation rule for every scoped method:
// an object of another subtree is ErrNotFound, exactly as a missing one,
// and nothing changes.
func testTenancyScope(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	type call struct {
		name string
		fn   func(sc store.Scope) error
	}
	err := func(_ any, err error) error { return err }
	calls := []call{
		{"Reseller", func(sc store.Scope) error { return err(s.Reseller(ctx, sc, tr.r1.ID)) }},
		{"DeleteReseller", func(sc store.Scope) error { return s.DeleteReseller(ctx, sc, tr.r1.ID) }},
		{"CreateReseller", func(sc store.Scope) error { return err(s.CreateReseller(ctx, sc, "Sneaky")) }},
		{"CreateCustomer", func(sc store.Scope) error { return err(s.CreateCustomer(ctx, sc, tr.r1.ID, "Sneaky")) }},
		{"CreateCustomer/provider", func(sc store.Scope) error { return err(s.CreateCustomer(ctx, sc, 0, "Sneaky")) }},
		{"Customer", func(sc store.Scope) error { return err(s.Customer(ctx, sc, tr.c1.ID)) }},
		{"DeleteCustomer", func(sc store.Scope) error { return s.DeleteCustomer(ctx, sc, tr.c1.ID) }},
		{"AddDomain", func(sc store.Scope) error { return err(s.AddDomain(ctx, sc, tr.c1.ID, "sneaky.test", 0)) }},
		{"ScopedDomains/customer", func(sc store.Scope) error { return err(s.ScopedDomains(ctx, sc, tr.c1.ID)) }},
		{"ScopedDomain", func(sc store.Scope) error { return err(s.ScopedDomain(ctx, sc, "one.test")) }},
		{"DomainByID", func(sc store.Scope) error { return err(s.DomainByID(ctx, sc, tr.d1.ID)) }},
		{"SetDomainSettings", func(sc store.Scope) error {
			return s.SetDomainSettings(ctx, sc, "one.test", store.DomainSettings{RetentionDays: 1, WholeDomain: true})
		}},
		{"RemoveDomain", func(sc store.Scope) error { return s.RemoveDomain(ctx, sc, "one.test") }},
		{"ScopedAccounts/domain", func(sc store.Scope) error {
			return err(s.ScopedAccounts(ctx, sc, store.AccountQuery{Domain: "one.test"}))
		}},
		{"ScopedAccount", func(sc store.Scope) error { return err(s.ScopedAccount(ctx, sc, "a@one.test")) }},
		{"AddAccounts", func(sc store.Scope) error {
			_, errs, e := s.AddAccounts(ctx, sc, []store.NewAccount{{Address: "sneaky@one.test", Enabled: true}})
			if e != nil {
				return e
			}
			return errs[0]
		}},
		{"SetAccountEnabled", func(sc store.Scope) error { return s.SetAccountEnabled(ctx, sc, "a@one.test", false) }},
		{"SetAccountPassword", func(sc store.Scope) error { return s.SetAccountPassword(ctx, sc, "a@one.test", "evil") }},
		{"RemoveAccount", func(sc store.Scope) error { return s.RemoveAccount(ctx, sc, "a@one.test") }},
		{"CreateAdmin/customer", func(sc store.Scope) error {
			return err(s.CreateAdmin(ctx, sc, store.Admin{Email: "sneaky1@x.test", PasswordHash: "h", Role: store.RoleCustomer, ScopeID: tr.c1.ID}))
		}},
		{"CreateAdmin/reseller", func(sc store.Scope) error {
			return err(s.CreateAdmin(ctx, sc, store.Admin{Email: "sneaky2@x.test", PasswordHash: "h", Role: store.RoleReseller, ScopeID: tr.r1.ID}))
		}},
		{"CreateAdmin/provider", func(sc store.Scope) error {
			return err(s.CreateAdmin(ctx, sc, store.Admin{Email: "sneaky3@x.test", PasswordHash: "h", Role: store.RoleProvider}))
		}},
		{"AdminByID", func(sc store.Scope) error { return err(s.AdminByID(ctx, sc, tr.admin1.ID)) }},
		{"AdminByID/reseller", func(sc store.Scope) error { return err(s.AdminByID(ctx, sc, tr.radmin1.ID)) }},
		{"AdminByID/provider", func(sc store.Scope) error { return err(s.AdminByID(ctx, sc, tr.padmin.ID)) }},
		{"SetAdminPassword", func(sc store.Scope) error { return s.SetAdminPassword(ctx, sc, tr.admin1.ID, "evil") }},
		{"SetAdminDisabled", func(sc store.Scope) error { return s.SetAdminDisabled(ctx, sc, tr.admin1.ID, true) }},
		{"SetAdminTOTP", func(sc store.Scope) error { return s.SetAdminTOTP(ctx, sc, tr.admin1.ID, "EVIL") }},
		{"DeleteAdmin", func(sc store.Scope) error { return s.DeleteAdmin(ctx, sc, tr.admin1.ID) }},
		{"CreateAPIToken", func(sc store.Scope) error {
			return err(s.CreateAPIToken(ctx, sc, store.APIToken{AdminID: tr.admin1.ID, Name: "evil", Hash: tokenHash("evil")}))
		}},
		{"RevokeAPIToken", func(sc store.Scope) error { return s.RevokeAPIToken(ctx, sc, tr.tok1.ID) }},
		{"CreateSignInLink", func(sc store.Scope) error {
			return s.CreateSignInLink(ctx, sc, "a@one.test", tokenHash("link"), time.Now().Add(time.Hour))
		}},
	}
	// Scopes that do not hold r1's subtree: the other reseller, the
	// other reseller's customer, the direct customer, a missing one.
	outsiders := []store.Scope{
		store.ResellerScope(tr.r2.ID), store.CustomerScope(tr.c2.ID), store.CustomerScope(tr.c0.ID), store.CustomerScope(424242),
	}
	for _, sc := range outsiders {
		for _, c := range calls {
			if e := c.fn(sc); !errors.Is(e, store.ErrNotFound) {
				t.Errorf("%s from scope %+v: %v, want ErrNotFound", c.name, sc, e)
			}
		}
	}
	// Nothing changed.
	all := store.AllScope()
	if a := must(s.ScopedAccount(ctx, all, "a@one.test")); !a.Enabled || a.PasswordHash != "" {
		t.Errorf("account changed from outside: %+v", a)
	}
	if d := must(s.ScopedDomain(ctx, all, "one.test")); d.WholeDomain || d.RetentionDays != 7 {
		t.Errorf("domain changed from outside: %+v", d)
	}
	if a := must(s.AdminByID(ctx, all, tr.admin1.ID)); a.Disabled || a.PasswordHash != "h" || a.TOTPSecret != "" {
		t.Errorf("admin changed from outside: %+v", a)
	}
	if tok := must(s.APITokenByHash(ctx, tokenHash("one"))); tok.Revoked {
		t.Errorf("token revoked from outside")
	}
	if n := len(must(s.Resellers(ctx, all))); n != 2 {
		t.Errorf("%d resellers after outside attempts", n)
	}
	if n := len(must(s.Customers(ctx, all))); n != 4 {
		t.Errorf("%d customers after outside attempts", n)
	}
	if n := len(must(s.Admins(ctx, all))); n != 6 {
		t.Errorf("%d admins after outside attempts", n)
	}
	if _, err := s.Domain(ctx, "sneaky.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("domain created from outside: %v", err)
	}
	if _, err := s.Account(ctx, "sneaky@one.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("account created from outside: %v", err)
	}
	// The same calls from inside the subtree succeed (the rule is not
	// "everything is ErrNotFound"): r1's scope reaches c1's objects.
	r1 := store.ResellerScope(tr.r1.ID)
	must(s.Customer(ctx, r1, tr.c1.ID))
	must(s.ScopedAccount(ctx, r1, "a@one.test"))
	must(0, s.SetAccountEnabled(ctx, r1, "a@one.test", false))
	must(0, s.SetAdminDisabled(ctx, r1, tr.admin1.ID, true))
	must(0, s.RevokeAPIToken(ctx, store.CustomerScope(tr.c1.ID), tr.tok1.ID))
	// A customer admin does not see their reseller's admins.
	if _, err := s.AdminByID(ctx, store.CustomerScope(tr.c1.ID), tr.radmin1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("customer scope reads its reseller's admin: %v", err)
	}
	// A reseller cannot create a provider-level customer or another
	// reseller's.
	if _, err := s.CreateCustomer(ctx, r1, tr.r2.ID, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reseller creates under another reseller: %v", err)
	}
}

// testTenancyAdmins covers admins, TOTP steps, tokens and sign-in links.
func testTenancyAdmins(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	all := store.AllScope()
	if _, err := s.CreateAdmin(ctx, all, store.Admin{Email: "BOSS@provider.test", PasswordHash: "h", Role: store.RoleProvider}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate admin email: %v", err)
	}
	if _, err := s.CreateAdmin(ctx, all, store.Admin{Email: "x@x.test", PasswordHash: "h", Role: "king"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown role: %v", err)
	}
	a := must(s.AdminByEmail(ctx, "Boss@Provider.test"))
	if a.ID != tr.padmin.ID || a.Role != store.RoleProvider || a.Scope() != all {
		t.Errorf("AdminByEmail %+v", a)
	}
	if sc := tr.admin1.Scope(); sc != store.CustomerScope(tr.c1.ID) {
		t.Errorf("customer admin scope %+v", sc)
	}
	// TOTP steps only move forward.
	must(0, s.SetAdminTOTP(ctx, all, a.ID, "JBSWY3DPEHPK3PXP"))
	must(0, s.UseTOTPStep(ctx, a.ID, 1000))
	for _, step := range []int64{1000, 999} {
		if err := s.UseTOTPStep(ctx, a.ID, step); !errors.Is(err, store.ErrReplay) {
			t.Errorf("step %d after 1000: %v, want ErrReplay", step, err)
		}
	}
	must(0, s.UseTOTPStep(ctx, a.ID, 1001))
	if got := must(s.AdminByID(ctx, all, a.ID)); got.TOTPSecret != "JBSWY3DPEHPK3PXP" || got.TOTPLastStep != 1001 {
		t.Errorf("after steps %+v", got)
	}
	if err := s.UseTOTPStep(ctx, 999999, 5); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("step of a missing admin: %v", err)
	}
	// Concurrent uses of one step: exactly one wins.
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- s.UseTOTPStep(ctx, a.ID, 2000) }()
	}
	wins := 0
	for range 8 {
		if e := <-errs; e == nil {
			wins++
		} else if !errors.Is(e, store.ErrReplay) {
			t.Errorf("concurrent step: %v", e)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent uses of one TOTP step accepted, want 1", wins)
	}
	// Tokens.
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	tok := must(s.CreateAPIToken(ctx, store.ResellerScope(tr.r1.ID), store.APIToken{AdminID: tr.radmin1.ID, Name: "ci", Hash: tokenHash("ci"), ExpiresAt: exp}))
	got := must(s.APITokenByHash(ctx, tokenHash("ci")))
	if got.ID != tok.ID || got.AdminID != tr.radmin1.ID || !got.ExpiresAt.Equal(exp) || got.Revoked || !got.LastUsed.IsZero() {
		t.Errorf("token %+v", got)
	}
	used := time.Now().Truncate(time.Millisecond)
	must(0, s.TouchAPIToken(ctx, tok.ID, used))
	must(0, s.RevokeAPIToken(ctx, store.ResellerScope(tr.r1.ID), tok.ID))
	got = must(s.APITokenByHash(ctx, tokenHash("ci")))
	if !got.Revoked || !got.LastUsed.Equal(used) {
		t.Errorf("token after touch and revoke %+v", got)
	}
	if _, err := s.CreateAPIToken(ctx, all, store.APIToken{AdminID: tr.radmin1.ID, Name: "dup", Hash: tokenHash("ci")}); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate token hash: %v", err)
	}
	// Deleting an admin takes their tokens.
	must(0, s.DeleteAdmin(ctx, all, tr.radmin1.ID))
	if _, err := s.APITokenByHash(ctx, tokenHash("ci")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of deleted admin: %v", err)
	}
	// Sign-in links: once, not after expiry, not unknown.
	now := time.Now()
	must(0, s.CreateSignInLink(ctx, store.CustomerScope(tr.c1.ID), "A@one.test", tokenHash("link1"), now.Add(time.Minute)))
	must(0, s.CreateSignInLink(ctx, all, "a@one.test", tokenHash("link2"), now.Add(time.Minute)))
	acct := must(s.ConsumeSignInLink(ctx, tokenHash("link1"), now))
	if acct.ID != tr.a1.ID {
		t.Errorf("link gave %+v", acct)
	}
	if _, err := s.ConsumeSignInLink(ctx, tokenHash("link1"), now); !errors.Is(err, store.ErrReplay) {
		t.Errorf("link used twice: %v, want ErrReplay", err)
	}
	if _, err := s.ConsumeSignInLink(ctx, tokenHash("link2"), now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired link: %v, want ErrNotFound", err)
	}
	if _, err := s.ConsumeSignInLink(ctx, tokenHash("nope"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown link: %v, want ErrNotFound", err)
	}
}

// testTenancyAudit checks the audit log's scoping and filters.
func testTenancyAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	must(0, s.AppendAudit(ctx,
		store.AuditRecord{Time: base, Actor: "cli", Action: "reseller.add", Object: "reseller 1"},
		store.AuditRecord{Time: base.Add(time.Minute), AdminID: tr.radmin1.ID, Actor: "r1@resellers.test", Action: "customer.add", Object: "customer 2", ResellerID: tr.r1.ID, CustomerID: tr.c1.ID},
		store.AuditRecord{Time: base.Add(2 * time.Minute), AdminID: tr.admin1.ID, Actor: "c1@customers.test", Action: "address.add", Object: "address a@one.test", ResellerID: tr.r1.ID, CustomerID: tr.c1.ID, RemoteIP: "192.0.2.1"},
		store.AuditRecord{Time: base.Add(3 * time.Minute), AdminID: tr.admin2.ID, Actor: "c2@customers.test", Action: "denied", Object: "address a@one.test", ResellerID: tr.r2.ID, CustomerID: tr.c2.ID},
	))
	for _, c := range []struct {
		sc   store.Scope
		q    store.AuditQuery
		want int
	}{
		{store.AllScope(), store.AuditQuery{}, 4},
		{store.ResellerScope(tr.r1.ID), store.AuditQuery{}, 2},
		{store.CustomerScope(tr.c1.ID), store.AuditQuery{}, 2},
		{store.CustomerScope(tr.c2.ID), store.AuditQuery{}, 1},
		{store.CustomerScope(tr.c0.ID), store.AuditQuery{}, 0},
		{store.AllScope(), store.AuditQuery{Actor: "CLI"}, 1},
		{store.AllScope(), store.AuditQuery{Action: "denied"}, 1},
		{store.AllScope(), store.AuditQuery{Object: "A@ONE"}, 2},
		{store.AllScope(), store.AuditQuery{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, 2},
		{store.AllScope(), store.AuditQuery{Limit: 3}, 3},
	} {
		if got := must(s.SearchAudit(ctx, c.sc, c.q)); len(got) != c.want {
			t.Errorf("SearchAudit(%+v, %+v) = %d records, want %d", c.sc, c.q, len(got), c.want)
		}
	}
	first := must(s.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Limit: 2}))
	if first[0].Action != "denied" || first[1].RemoteIP != "192.0.2.1" || !first[1].Time.Equal(base.Add(2*time.Minute)) {
		t.Errorf("newest first with fields: %+v", first)
	}
	rest := must(s.SearchAudit(ctx, store.AllScope(), store.AuditQuery{BeforeID: first[1].ID}))
	if len(rest) != 2 || rest[0].Action != "customer.add" {
		t.Errorf("second page: %+v", rest)
	}
}

// testTenancyCounters checks the dashboard's counters, the usage
// snapshots and the message log's subject search and cursor.
func testTenancyCounters(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	all := store.AllScope()
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	yesterday := today.AddDate(0, 0, -1)
	// Two messages for a@one.test, one for b@two.test; one deleted.
	d1 := deliver(t, s, Raw("first", "x"), now, store.Copy{AccountID: tr.a1.ID, Mailbox: store.Inbox})
	deliver(t, s, Raw("beta", "yy"), now, store.Copy{AccountID: tr.a1.ID, Mailbox: store.Inbox})
	deliver(t, s, Raw("gamma", "zzz"), now, store.Copy{AccountID: tr.a2.ID, Mailbox: store.Inbox})
	must(0, s.Expunge(ctx, tr.a1.ID, d1[0].MailboxID, []int64{d1[0].MessageID}))
	must(0, s.AppendLog(ctx,
		store.LogEvent{Time: yesterday.Add(time.Hour), Status: msglog.Captured, Subject: "Quarterly Report", MessageID: "q1@x", DomainID: tr.d1.ID},
		store.LogEvent{Time: today.Add(time.Minute), Status: msglog.Captured, Subject: "Report: alpha", MessageID: "a1@x", DomainID: tr.d1.ID},
		store.LogEvent{Time: today.Add(2 * time.Minute), Status: msglog.Stored, Subject: "Report: alpha", MessageID: "a1@x", DomainID: tr.d1.ID},
		store.LogEvent{Time: today.Add(3 * time.Minute), Status: msglog.Submitted, Subject: "réunion", MessageID: "s1@x", DomainID: tr.d1.ID},
		store.LogEvent{Time: today.Add(4 * time.Minute), Status: msglog.Captured, Subject: "other report", MessageID: "o1@x", DomainID: tr.d2.ID},
	))
	dash := must(s.Dashboard(ctx, store.CustomerScope(tr.c1.ID), yesterday))
	if len(dash.Days) != 2 || !dash.Days[0].Day.Equal(yesterday) || dash.Days[0].Captured != 1 || dash.Days[1].Captured != 1 || dash.Days[1].Sent != 1 {
		t.Errorf("c1 days: %+v", dash.Days)
	}
	if len(dash.Domains) != 1 || dash.Domains[0].Name != "one.test" || dash.Domains[0].Messages != 2 || dash.Domains[0].Bytes <= 0 {
		t.Errorf("c1 domains: %+v", dash.Domains)
	}
	dashAll := must(s.Dashboard(ctx, all, today))
	if len(dashAll.Days) != 1 || dashAll.Days[0].Captured != 2 || len(dashAll.Domains) != 3 {
		t.Errorf("all: %+v", dashAll)
	}
	for _, u := range dashAll.Domains {
		if u.Name == "two.test" && u.Messages != 1 || u.Name == "zero.test" && u.Messages != 0 {
			t.Errorf("domain usage %+v", u)
		}
	}
	// Purging the deleted message lowers the counter.
	must(s.Purge(ctx, now.AddDate(0, 0, 400), time.Time{}, 100))
	if got := must(s.Dashboard(ctx, store.CustomerScope(tr.c1.ID), today)); got.Domains[0].Messages != 0 || got.Domains[0].Bytes != 0 {
		t.Errorf("after purge: %+v", got.Domains)
	}
	// Usage: enabled addresses per customer per day.
	must(0, s.SetAccountEnabled(ctx, all, "b@two.test", false))
	must(0, s.SnapshotUsage(ctx, yesterday.Add(3*time.Hour)))
	must2(s.AddAccounts(ctx, all, []store.NewAccount{{Address: "c@one.test", Enabled: true}, {Address: "d@one.test"}}))
	must(0, s.SnapshotUsage(ctx, today.Add(time.Hour)))
	must(0, s.SnapshotUsage(ctx, today.Add(2*time.Hour))) // replaces, not adds
	us := must(s.Usage(ctx, store.ResellerScope(tr.r1.ID), yesterday, today.AddDate(0, 0, 1)))
	if len(us) != 2 || us[0].CustomerID != tr.c1.ID || us[0].Addresses != 1 || us[1].Addresses != 2 || !us[1].Day.Equal(today) {
		t.Errorf("r1 usage: %+v", us)
	}
	u2 := must(s.Usage(ctx, all, today, today.AddDate(0, 0, 1)))
	byCust := map[int64]int{}
	for _, u := range u2 {
		byCust[u.CustomerID] = u.Addresses
	}
	if byCust[tr.c2.ID] != 0 || byCust[tr.c0.ID] != 1 || byCust[tr.c1.ID] != 2 || len(u2) != 4 {
		t.Errorf("today's usage: %+v", u2)
	}
	// Subject words, scope and cursor in the message log.
	for _, c := range []struct {
		q    store.LogQuery
		want int
	}{
		{store.LogQuery{Subject: "report"}, 4},
		{store.LogQuery{Subject: "REPORT alpha"}, 2},
		{store.LogQuery{Subject: "alpha report"}, 2},
		{store.LogQuery{Subject: "repo"}, 0},
		{store.LogQuery{Subject: "reunion"}, 1},
		{store.LogQuery{Subject: `"; DROP TABLE msglog; --`}, 0},
		{store.LogQuery{Subject: "  ,, "}, 0},
		{store.LogQuery{Subject: "report", DomainIDs: []int64{tr.d2.ID}}, 1},
		{store.LogQuery{Subject: "report", Status: msglog.Captured}, 3},
	} {
		if got := must(s.SearchLog(ctx, c.q)); len(got) != c.want {
			t.Errorf("SearchLog(%+v) = %d, want %d", c.q, len(got), c.want)
		}
	}
	page := must(s.SearchLog(ctx, store.LogQuery{Subject: "report", Limit: 3}))
	next := must(s.SearchLog(ctx, store.LogQuery{Subject: "report", BeforeTime: page[2].Time, BeforeID: page[2].ID}))
	if len(page) != 3 || len(next) != 1 || next[0].MessageID != "q1@x" {
		t.Errorf("cursor pages: %+v then %+v", page, next)
	}
}
