package admin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// cheapParams keep argon2id fast in tests; the real parameters are the
// auth package's business.
var cheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func openStore(t testing.TB) store.Store {
	t.Helper()
	return sqlitetest.New(t)
}

func newService(t testing.TB, opts Options) (*Service, store.Store) {
	t.Helper()
	st := openStore(t)
	if opts.Hasher == nil {
		h, err := auth.NewHasher(cheapParams, 4)
		if err != nil {
			t.Fatal(err)
		}
		opts.Hasher = h
	}
	return New(st, opts), st
}

func ok[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const testPassword = "correct horse battery"

// tenantFixture is one customer's objects.
type tenantFixture struct {
	reseller store.Reseller
	customer store.Customer
	domain   string
	address  string
	admin    AdminInfo // a customer admin
	token    TokenInfo
}

// world is a provider, two resellers with a customer each, and a signed-in
// principal for each role.
type world struct {
	svc              *Service
	st               store.Store
	one, two         tenantFixture
	provider, r1, c1 Principal
	r1Admin          AdminInfo
	seq              atomic.Int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	svc, st := newService(t, Options{})
	ctx := context.Background()
	w := &world{svc: svc, st: st}
	cli := CLI()
	mk := func(n string) tenantFixture {
		var f tenantFixture
		f.reseller = ok[store.Reseller](t)(svc.AddReseller(ctx, cli, "Reseller "+n))
		f.customer = ok[store.Customer](t)(svc.AddCustomer(ctx, cli, f.reseller.ID, "Customer "+n))
		f.domain = n + ".test"
		ok[store.Domain](t)(svc.AddDomain(ctx, cli, f.customer.ID, f.domain, 0))
		f.address = "user@" + f.domain
		ok[store.Account](t)(svc.AddAddress(ctx, cli, f.address, "", true))
		f.admin = ok[AdminInfo](t)(svc.AddAdmin(ctx, cli, "admin@"+f.domain, testPassword, store.RoleCustomer, f.customer.ID))
		_, f.token, _ = svc.CreateToken(ctx, cli, f.admin.ID, "script", time.Time{})
		return f
	}
	w.one, w.two = mk("one"), mk("two")
	pa := ok[AdminInfo](t)(svc.AddAdmin(ctx, cli, "boss@provider.test", testPassword, store.RoleProvider, 0))
	w.r1Admin = ok[AdminInfo](t)(svc.AddAdmin(ctx, cli, "r1@resellers.test", testPassword, store.RoleReseller, w.one.reseller.ID))
	w.provider = ok[Principal](t)(svc.PrincipalByID(ctx, pa.ID))
	w.r1 = ok[Principal](t)(svc.PrincipalByID(ctx, w.r1Admin.ID))
	w.c1 = ok[Principal](t)(svc.PrincipalByID(ctx, w.one.admin.ID))
	return w
}

func (w *world) next() int64 { return w.seq.Add(1) }

// op is one operation of the permission matrix, run against a tenant's
// objects (fresh ones where the operation consumes them).
type op struct {
	name string
	run  func(ctx context.Context, w *world, p Principal, f tenantFixture) error
}

func ops(t *testing.T) []op {
	cli := CLI()
	e := func(_ any, err error) error { return err }
	// fresh makes an empty domain of f's customer (for removal).
	fresh := func(ctx context.Context, w *world, f tenantFixture) string {
		name := fmt.Sprintf("fresh%d.%s", w.next(), f.domain)
		ok[store.Domain](t)(w.svc.AddDomain(ctx, cli, f.customer.ID, name, 0))
		return name
	}
	freshAddr := func(ctx context.Context, w *world, f tenantFixture) string {
		a := fmt.Sprintf("u%d@%s", w.next(), f.domain)
		ok[store.Account](t)(w.svc.AddAddress(ctx, cli, a, "", true))
		return a
	}
	return []op{
		{OpResellerAdd, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.AddReseller(ctx, p, fmt.Sprintf("R%d", w.next())))
		}},
		{OpResellerList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Reseller(ctx, p, f.reseller.ID))
		}},
		{OpCustomerAdd, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.AddCustomer(ctx, p, f.reseller.ID, fmt.Sprintf("C%d", w.next())))
		}},
		{OpCustomerList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Customer(ctx, p, f.customer.ID))
		}},
		{OpDomainAdd, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.AddDomain(ctx, p, f.customer.ID, fmt.Sprintf("d%d.test", w.next()), 0))
		}},
		{OpDomainList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Domain(ctx, p, f.domain))
		}},
		{OpDomainSettings, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.SetDomainSettings(ctx, p, f.domain, store.DomainSettings{RetentionDays: 30, RelayHost: "mx." + f.domain})
		}},
		{OpDomainDKIM, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.GenerateDKIM(ctx, p, f.domain, "ed25519", ""))
		}},
		{OpDomainRemove, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.RemoveDomain(ctx, p, fresh(ctx, w, f))
		}},
		{OpAddressAdd, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.AddAddress(ctx, p, fmt.Sprintf("n%d@%s", w.next(), f.domain), "", true))
		}},
		{OpAddressList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Address(ctx, p, f.address))
		}},
		{OpAddressDisable, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.SetAddressEnabled(ctx, p, freshAddr(ctx, w, f), false)
		}},
		{OpAddressPass, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.SetPassword(ctx, p, f.address, testPassword)
		}},
		{OpAddressRemove, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.RemoveAddress(ctx, p, freshAddr(ctx, w, f))
		}},
		{OpSignInLink, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			_, _, err := w.svc.CreateSignInLink(ctx, p, f.address)
			return err
		}},
		{OpMessageList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Messages(ctx, p, f.address, MessageList{Deleted: true}))
		}},
		{OpAdminAdd, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.AddAdmin(ctx, p, fmt.Sprintf("a%d@%s", w.next(), f.domain), testPassword, store.RoleCustomer, f.customer.ID))
		}},
		{OpAdminList, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return e(w.svc.Admin(ctx, p, f.admin.ID))
		}},
		{OpAdminChange, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			return w.svc.SetAdminPassword(ctx, p, f.admin.ID, testPassword)
		}},
		{OpTokenCreate, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			_, _, err := w.svc.CreateToken(ctx, p, f.admin.ID, "t", time.Time{})
			return err
		}},
		{OpTokenRevoke, func(ctx context.Context, w *world, p Principal, f tenantFixture) error {
			_, tok, err := w.svc.CreateToken(ctx, cli, f.admin.ID, "victim", time.Time{})
			check(t, err)
			return w.svc.RevokeToken(ctx, p, tok.ID)
		}},
	}
}

// TestPermissionMatrix runs every operation as a provider, a reseller and
// a customer admin, on objects of their own subtree and of another: each
// is allowed, ErrForbidden (role too low) or ErrNotFound (outside the
// subtree), and every cross-tenant attempt leaves an audit record.
func TestPermissionMatrix(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, o := range ops(t) {
		for _, role := range []struct {
			name string
			p    Principal
		}{{"provider", w.provider}, {"reseller", w.r1}, {"customer", w.c1}} {
			p := role.p
			for _, side := range []struct {
				name string
				f    tenantFixture
				own  bool
			}{{"own", w.one, true}, {"foreign", w.two, role.name == "provider"}} {
				t.Run(o.name+"/"+role.name+"/"+side.name, func(t *testing.T) {
					before := len(ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Limit: 1000})))
					err := o.run(ctx, w, p, side.f)
					allowed := p.Can(o.name)
					switch {
					case !allowed:
						if !errors.Is(err, ErrForbidden) {
							t.Fatalf("%s as %s: %v, want ErrForbidden", o.name, role.name, err)
						}
					case side.own:
						if err != nil {
							t.Fatalf("%s as %s on own objects: %v", o.name, role.name, err)
						}
					default:
						if !errors.Is(err, store.ErrNotFound) {
							t.Fatalf("%s as %s on another tenant's objects: %v, want ErrNotFound", o.name, role.name, err)
						}
						recs := ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Limit: 1000}))
						if len(recs) != before+1 {
							t.Fatalf("cross-tenant %s as %s: %d new denied records, want 1", o.name, role.name, len(recs)-before)
						}
						if r := recs[0]; r.Actor != p.Email || r.AdminID != p.AdminID || r.Detail != o.name {
							t.Fatalf("denied record %+v", r)
						}
					}
				})
			}
		}
	}
}

// TestRoleTable pins the permission table's key rows, so that a change to
// who may do what is a visible decision.
func TestRoleTable(t *testing.T) {
	for _, c := range []struct {
		op   string
		role store.Role
		want bool
	}{
		{OpResellerAdd, store.RoleProvider, true},
		{OpResellerAdd, store.RoleReseller, false},
		{OpCustomerAdd, store.RoleReseller, true},
		{OpCustomerAdd, store.RoleCustomer, false},
		{OpDomainAdd, store.RoleCustomer, false},
		{OpDomainRemove, store.RoleCustomer, false},
		{OpDomainSettings, store.RoleCustomer, true},
		{OpAddressPass, store.RoleCustomer, true},
		{OpAuditSearch, store.RoleCustomer, true},
		{"no.such.op", store.RoleProvider, false},
	} {
		if got := (Principal{Role: c.role}).Can(c.op); got != c.want {
			t.Errorf("%s may %s: %t, want %t", c.role, c.op, got, c.want)
		}
	}
	if !CLI().Can(OpResellerAdd) || CLI().Scope() != store.AllScope() {
		t.Error("the CLI is not the provider")
	}
}

// TestAuditWritten checks that changes are audited with who, what, where
// and the client's address, in the right part of the tree.
func TestAuditWritten(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := w.c1.WithIP("198.51.100.7")
	check(t, w.svc.SetAddressEnabled(ctx, p, w.one.address, false))
	check(t, w.svc.SetPassword(ctx, p, w.one.address, testPassword))
	recs := ok[[]store.AuditRecord](t)(w.svc.SearchAudit(ctx, w.c1, store.AuditQuery{Actor: w.c1.Email}))
	if len(recs) != 2 {
		t.Fatalf("customer admin's log: %+v", recs)
	}
	r := recs[1]
	if r.Action != OpAddressDisable || r.Object != "address "+w.one.address || r.RemoteIP != "198.51.100.7" ||
		r.CustomerID != w.one.customer.ID || r.ResellerID != w.one.reseller.ID || r.AdminID != w.one.admin.ID {
		t.Errorf("record %+v", r)
	}
	// The reseller above sees it; the other customer does not.
	if got := ok[[]store.AuditRecord](t)(w.svc.SearchAudit(ctx, w.r1, store.AuditQuery{Actor: w.c1.Email})); len(got) != 2 {
		t.Errorf("reseller sees %d of its customer's records", len(got))
	}
	c2 := ok[Principal](t)(w.svc.PrincipalByID(ctx, w.two.admin.ID))
	if got := ok[[]store.AuditRecord](t)(w.svc.SearchAudit(ctx, c2, store.AuditQuery{Actor: w.c1.Email})); len(got) != 0 {
		t.Errorf("another customer sees %d records", len(got))
	}
	// The CLI is audited as "cli".
	ok[store.Reseller](t)(w.svc.AddReseller(ctx, CLI(), "Three"))
	if got := ok[[]store.AuditRecord](t)(w.svc.SearchAudit(ctx, w.provider, store.AuditQuery{Actor: "cli", Action: OpResellerAdd})); len(got) != 3 {
		t.Errorf("cli reseller.add records: %+v", got)
	}
}

// TestGenerateDKIMNewName: each key generated for a domain without a chosen
// selector gets a DNS name of its own, so that the record published for
// the key in use stays valid while the new one is published.
func TestGenerateDKIMNewName(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		k := ok[DKIM](t)(w.svc.GenerateDKIM(ctx, w.c1, w.one.domain, "ed25519", ""))
		if seen[k.Selector] {
			t.Fatalf("selector %s given twice (%v)", k.Selector, seen)
		}
		seen[k.Selector] = true
		if ks := ok[[]DKIM](t)(w.svc.DKIMKeys(ctx, w.c1, w.one.domain)); len(ks) != 1 || ks[0].Selector != k.Selector || ks[0].State != DKIMPending || k.State != DKIMPending {
			t.Fatalf("domain's keys %+v, want the new %s alone, pending", ks, k.Selector)
		}
	}
	// Pending keys do not sign until their record is seen in DNS.
	if _, err := w.st.DKIMKey(ctx, w.one.domain); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a generated key signs before its record is published: %v", err)
	}
}
