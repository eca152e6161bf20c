package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestGeneratePasswordsInBatches: over several store batches, every
// address of the principal's customer gets a password that verifies and
// one audit record placed under its customer and reseller (another
// customer's address mixed in refuses the whole request:
// TestGeneratePasswords).
func TestGeneratePasswordsInBatches(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	n := 2*passwordBatch + 20
	var rows strings.Builder
	var addrs []string
	for i := range n {
		fmt.Fprintf(&rows, "b%04d@one.test\n", i)
		addrs = append(addrs, fmt.Sprintf("B%04d@One.test", i))
	}
	if res := ok[ImportResult](t)(w.svc.ImportAddresses(ctx, w.c1, strings.NewReader(rows.String()), nil)); res.Imported != n {
		t.Fatalf("import %+v", res)
	}
	out := ok[[]GeneratedPassword](t)(w.svc.GeneratePasswords(ctx, w.c1, addrs))
	if len(out) != len(addrs) {
		t.Fatalf("%d rows, want %d", len(out), len(addrs))
	}
	for i, g := range out {
		if g.Err != nil || g.Address != strings.ToLower(addrs[i]) || len(g.Password) != GeneratedPasswordLength {
			t.Fatalf("row %d: %+v", i, g)
		}
	}
	// Verifying costs: check the first and last of each batch.
	for _, i := range []int{0, passwordBatch - 1, passwordBatch, len(out) - 1} {
		g := out[i]
		if g.Err != nil {
			continue
		}
		a := ok[store.Account](t)(w.st.Account(ctx, g.Address))
		if okPw, _ := auth.Verify(a.PasswordHash, g.Password); !okPw {
			t.Errorf("%s: its generated password does not verify", g.Address)
		}
	}
	recs := ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.CustomerScope(w.one.customer.ID),
		store.AuditQuery{Action: OpAddressPass, Limit: 1000}))
	if len(recs) != n {
		t.Fatalf("%d password audit records under customer one, want %d", len(recs), n)
	}
	for _, r := range recs {
		if r.ResellerID != w.one.reseller.ID || r.Actor != w.c1.Email || r.Detail != "generated" {
			t.Fatalf("audit record %+v", r)
		}
	}
}

// TestGeneratePasswordsBatchFailsWhole: when a batch fails (here its
// context ends after the first batch is stored), the first batch's rows
// keep their passwords and every later row carries the error, with no
// password stored: no row is reported done that is not.
func TestGeneratePasswordsBatchFailsWhole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var forgotten atomic.Int64
	svc, st := newService(t, Options{Forget: func(string) {
		if forgotten.Add(1) == passwordBatch {
			cancel() // the first batch is stored: the second fails
		}
	}})
	bg := context.Background()
	cu := ok[store.Customer](t)(svc.AddCustomer(bg, CLI(), 0, "Batch Co"))
	ok[store.Domain](t)(svc.AddDomain(bg, CLI(), cu.ID, "batch.test", 0))
	var rows strings.Builder
	var addrs []string
	for i := range 2 * passwordBatch {
		addrs = append(addrs, fmt.Sprintf("u%04d@batch.test", i))
		rows.WriteString(addrs[i] + "\n")
	}
	ok[ImportResult](t)(svc.ImportAddresses(bg, CLI(), strings.NewReader(rows.String()), nil))
	out, err := svc.GeneratePasswords(ctx, CLI(), addrs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want the batch's context.Canceled", err)
	}
	for i, g := range out {
		a := ok[store.Account](t)(st.Account(bg, g.Address))
		if i < passwordBatch {
			if g.Err != nil || g.Password == "" || a.PasswordHash == "" {
				t.Fatalf("row %d of the stored batch: %+v (hash %q)", i, g, a.PasswordHash)
			}
			continue
		}
		if g.Err == nil || g.Password != "" || a.PasswordHash != "" {
			t.Fatalf("row %d of the failed batch: %+v (hash %q)", i, g, a.PasswordHash)
		}
	}
	if okPw, _ := auth.Verify(ok[store.Account](t)(st.Account(bg, out[0].Address)).PasswordHash, out[0].Password); !okPw {
		t.Error("a stored row's password does not verify")
	}
}
