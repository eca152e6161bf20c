package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testAdminBatch: SetAccountPasswords writes, in one call, each row's
// password and audit record, the record placed under the account's
// customer and reseller; an address outside the scope is ErrNotFound
// and nothing of its row is written. QueueEntriesOutside names exactly
// the ids of queue entries outside the scope.
func testAdminBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	c1 := store.CustomerScope(tr.c1.ID)
	rec := func(obj string) store.AuditRecord {
		return store.AuditRecord{Time: time.Now(), AdminID: tr.admin1.ID, Actor: tr.admin1.Email, Action: "address.password", Object: obj, Detail: "generated"}
	}
	errs := must(s.SetAccountPasswords(ctx, c1, []store.AccountPassword{
		{Address: "A@one.test", PasswordHash: "hash-a", Audit: rec("address a@one.test")},
		{Address: "b@two.test", PasswordHash: "hash-b", Audit: rec("address b@two.test")},           // another customer's
		{Address: "nobody@one.test", PasswordHash: "hash-n", Audit: rec("address nobody@one.test")}, // unknown
	}))
	if len(errs) != 3 || errs[0] != nil || !errors.Is(errs[1], store.ErrNotFound) || !errors.Is(errs[2], store.ErrNotFound) {
		t.Fatalf("errs %v, want nil, ErrNotFound, ErrNotFound", errs)
	}
	if a := must(s.Account(ctx, "a@one.test")); a.PasswordHash != "hash-a" {
		t.Errorf("a@one.test's hash %q, want hash-a", a.PasswordHash)
	}
	if b := must(s.Account(ctx, "b@two.test")); b.PasswordHash == "hash-b" {
		t.Error("a customer admin's batch set another customer's password")
	}
	recs := must(s.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "address.password"}))
	if len(recs) != 1 || recs[0].Object != "address a@one.test" || recs[0].CustomerID != tr.c1.ID || recs[0].ResellerID != tr.r1.ID ||
		recs[0].Actor != tr.admin1.Email || recs[0].Detail != "generated" {
		t.Fatalf("audit records %+v, want one for a@one.test under c1 and r1", recs)
	}
	if got := must(s.SearchAudit(ctx, store.CustomerScope(tr.c2.ID), store.AuditQuery{Action: "address.password"})); len(got) != 0 {
		t.Errorf("c2 sees c1's audit records: %+v", got)
	}

	// The provider's scope reaches every customer, one under no reseller
	// too; a row without an audit action writes no record.
	errs = must(s.SetAccountPasswords(ctx, store.AllScope(), []store.AccountPassword{
		{Address: "b@two.test", PasswordHash: "hash-b", Audit: rec("address b@two.test")},
		{Address: "z@zero.test", PasswordHash: "hash-z", Audit: rec("address z@zero.test")},
		{Address: "a@one.test", PasswordHash: "hash-a2"},
	}))
	if slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatalf("provider batch: %v", errs)
	}
	for addr, want := range map[string]string{"b@two.test": "hash-b", "z@zero.test": "hash-z", "a@one.test": "hash-a2"} {
		if a := must(s.Account(ctx, addr)); a.PasswordHash != want {
			t.Errorf("%s's hash %q, want %q", addr, a.PasswordHash, want)
		}
	}
	recs = must(s.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "address.password"}))
	if len(recs) != 3 {
		t.Fatalf("%d audit records, want 3: %+v", len(recs), recs)
	}
	for _, r := range recs[:2] {
		switch r.Object {
		case "address b@two.test":
			if r.CustomerID != tr.c2.ID || r.ResellerID != tr.r2.ID {
				t.Errorf("b's record placed at %d/%d", r.ResellerID, r.CustomerID)
			}
		case "address z@zero.test":
			if r.CustomerID != tr.c0.ID || r.ResellerID != 0 {
				t.Errorf("z's record placed at %d/%d", r.ResellerID, r.CustomerID)
			}
		default:
			t.Errorf("unexpected record %+v", r)
		}
	}
	if errs := must(s.SetAccountPasswords(ctx, c1, nil)); len(errs) != 0 {
		t.Errorf("empty batch: %v", errs)
	}

	// Queue entries of a1 (c1) and a2 (c2).
	for _, a := range []store.Account{tr.a1, tr.a2} {
		d := store.NewDelivery(Raw("queued by "+a.Address, "x"), time.Now())
		d.Outbound = []store.Outbound{{AccountID: a.ID, MailFrom: a.Address, Rcpt: "far@away.test"}}
		must(s.Deliver(ctx, d))
	}
	qs := must(s.QueueEntries(ctx, store.QueueQuery{}))
	if len(qs) != 2 || qs[0].DomainID != tr.d1.ID || qs[1].DomainID != tr.d2.ID {
		t.Fatalf("queue %+v", qs)
	}
	q1, q2 := qs[0].ID, qs[1].ID
	missing := q2 + 1000
	for _, c := range []struct {
		name string
		sc   store.Scope
		want []int64
	}{
		{"customer c1", c1, []int64{q2}},
		{"customer c2", store.CustomerScope(tr.c2.ID), []int64{q1}},
		{"reseller r1", store.ResellerScope(tr.r1.ID), []int64{q2}},
		{"reseller r2", store.ResellerScope(tr.r2.ID), []int64{q1}},
		{"customer c0", store.CustomerScope(tr.c0.ID), []int64{q1, q2}},
		{"provider", store.AllScope(), nil},
	} {
		got := must(s.QueueEntriesOutside(ctx, c.sc, []int64{missing, q2, q1}))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: outside %v, want %v", c.name, got, c.want)
		}
	}
	if got := must(s.QueueEntriesOutside(ctx, c1, nil)); len(got) != 0 {
		t.Errorf("no ids: %v", got)
	}
}
