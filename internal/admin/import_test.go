package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

type lineResult struct {
	line    int
	address string
	err     error
}

func runImport(t *testing.T, s *Service, p Principal, csv string) ([]lineResult, ImportResult, error) {
	t.Helper()
	var got []lineResult
	res, err := s.ImportAddresses(context.Background(), p, strings.NewReader(csv), func(line int, address string, err error) {
		got = append(got, lineResult{line, address, err})
	})
	return got, res, err
}

// TestImportReportsBadLinesByNumber: every bad kind of line is reported
// with its line number in the file (each physical line is one record: a
// quote left open is that line's error), the good ones are in with their
// password and state, and nothing of a bad line is stored.
func TestImportReportsBadLinesByNumber(t *testing.T) {
	s, st := newService(t, Options{})
	ctx := context.Background()
	cli := CLI()
	c := ok[store.Customer](t)(s.AddCustomer(ctx, cli, 0, "Import Co"))
	ok[store.Domain](t)(s.AddDomain(ctx, cli, c.ID, "imp.test", 0))
	ok[store.Account](t)(s.AddAddress(ctx, cli, "taken@imp.test", "", true))
	csv := "address,password,enabled\n" + // line 1
		"a@imp.test,first-password,yes\n" + // 2 ok
		"not an address,,\n" + // 3 bad address
		"b@imp.test,short,yes\n" + // 4 bad password
		"\"c@imp.test\",\"multi\nline pw\",no\n" + // 5 open quote, 6 a stray quote: both refused
		"d@elsewhere.test,,yes\n" + // 7 outside the scope
		"taken@imp.test,,\n" + // 8 exists
		"e@imp.test,,maybe\n" + // 9 bad enabled
		"\n" + // 10 blank: skipped
		"f@imp.test,,no\n" // 11 ok, disabled
	got, res, err := runImport(t, s, cli, csv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]error{2: nil, 3: store.ErrInvalid, 4: store.ErrInvalid, 5: store.ErrInvalid, 6: store.ErrInvalid, 7: store.ErrNotFound, 8: store.ErrExists, 9: store.ErrInvalid, 11: nil}
	if len(got) != len(want) {
		t.Fatalf("%d lines reported, want %d: %+v", len(got), len(want), got)
	}
	for _, g := range got {
		w, ok := want[g.line]
		if !ok {
			t.Errorf("line %d (%s) reported, not expected", g.line, g.address)
			continue
		}
		if (w == nil) != (g.err == nil) || w != nil && !errors.Is(g.err, w) {
			t.Errorf("line %d (%s): %v, want %v", g.line, g.address, g.err, w)
		}
	}
	if res.Lines != 9 || res.Imported != 2 || res.Failed != 7 {
		t.Errorf("result %+v", res)
	}
	drainPending(t, s)
	a, err := st.Account(ctx, "a@imp.test")
	if err != nil || !a.Enabled {
		t.Fatalf("a@imp.test: %+v %v", a, err)
	}
	if okPw, _ := auth.Verify(a.PasswordHash, "first-password"); !okPw {
		t.Error("a@imp.test's password is not the one imported")
	}
	if f, err := st.Account(ctx, "f@imp.test"); err != nil || f.Enabled || f.PasswordHash != "" {
		t.Errorf("f@imp.test: %+v %v", f, err)
	}
	for _, addr := range []string{"b@imp.test", "c@imp.test", "e@imp.test", "d@elsewhere.test"} {
		if _, err := st.Account(ctx, addr); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of a refused line was stored (%v)", addr, err)
		}
	}
	recs := ok[[]store.AuditRecord](t)(s.SearchAudit(ctx, cli, store.AuditQuery{Action: OpAddressImport}))
	if len(recs) != 1 || !strings.Contains(recs[0].Detail, "2 imported, 7 refused") {
		t.Errorf("audit: %+v", recs)
	}
}

// TestImportScope: a customer administrator's import reaches only their
// customer's domains; the other customer's lines are "not found" and the
// attempt is audited once.
func TestImportScope(t *testing.T) {
	s, st := newService(t, Options{})
	ctx := context.Background()
	cli := CLI()
	c1 := ok[store.Customer](t)(s.AddCustomer(ctx, cli, 0, "One"))
	c2 := ok[store.Customer](t)(s.AddCustomer(ctx, cli, 0, "Two"))
	ok[store.Domain](t)(s.AddDomain(ctx, cli, c1.ID, "one.test", 0))
	ok[store.Domain](t)(s.AddDomain(ctx, cli, c2.ID, "two.test", 0))
	ad := ok[AdminInfo](t)(s.AddAdmin(ctx, cli, "ca@one.test", "admin-password-1", store.RoleCustomer, c1.ID))
	p := ok[Principal](t)(s.PrincipalByID(ctx, ad.ID))
	var csv strings.Builder
	csv.WriteString("address\n")
	for i := range 500 {
		fmt.Fprintf(&csv, "u%d@one.test\nu%d@two.test\n", i, i)
	}
	got, res, err := runImport(t, s, p, csv.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 500 || res.Failed != 500 || len(got) != 1000 {
		t.Fatalf("result %+v, %d reported", res, len(got))
	}
	for _, g := range got {
		if strings.HasSuffix(g.address, "@two.test") != errors.Is(g.err, store.ErrNotFound) {
			t.Fatalf("line %d %s: %v", g.line, g.address, g.err)
		}
		if g.err == nil && g.line%2 != 0 {
			t.Fatalf("line %d imported %s: line numbers are off", g.line, g.address)
		}
	}
	if _, err := st.Account(ctx, "u1@two.test"); !errors.Is(err, store.ErrNotFound) {
		t.Error("a customer admin's import created an address of another customer")
	}
	denied := ok[[]store.AuditRecord](t)(s.SearchAudit(ctx, cli, store.AuditQuery{Action: "denied"}))
	if len(denied) != 1 {
		t.Errorf("%d denied records, want one for the import", len(denied))
	}
}

func TestImportWithoutHeaderOrAddressColumn(t *testing.T) {
	s, _ := newService(t, Options{})
	ctx := context.Background()
	cli := CLI()
	c := ok[store.Customer](t)(s.AddCustomer(ctx, cli, 0, "Plain"))
	ok[store.Domain](t)(s.AddDomain(ctx, cli, c.ID, "plain.test", 0))
	got, res, err := runImport(t, s, cli, "\ufeffx@plain.test,,yes\ny@plain.test\n")
	if err != nil || res.Imported != 2 || got[0].line != 1 || got[1].line != 2 {
		t.Errorf("headerless file: %+v %+v %v", got, res, err)
	}
	if _, _, err := runImport(t, s, cli, "name,password\nbob,x\n"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("file without an address column: %v, want a field error", err)
	}
	if _, _, err := runImport(t, s, cli, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty file: %v", err)
	}
}
