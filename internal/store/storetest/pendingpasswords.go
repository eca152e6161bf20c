package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// testPendingPasswords covers imported passwords waiting to be hashed:
// written with their account in one AddAccounts row, listed oldest first,
// found by address, counted per batch; a password set over one (one row
// or a batch) drops its pending copy in the same write; finishing sets
// the hash only where it is still pending, and drops the copy either
// way; removing the account drops it too.
func testPendingPasswords(t *testing.T, s store.Store) {
	ctx := context.Background()
	all := store.AllScope()
	c, err := s.CreateCustomer(ctx, all, 0, "Pending")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDomain(ctx, all, c.ID, "pending.test", 0); err != nil {
		t.Fatal(err)
	}
	pending := func(addr, batch string) store.NewAccount {
		return store.NewAccount{Address: addr, PasswordHash: store.PendingPasswordHash, Enabled: true, Sealed: []byte("sealed " + addr), Batch: batch}
	}
	accts, errs, err := s.AddAccounts(ctx, all, []store.NewAccount{
		pending("a@pending.test", "one"), pending("b@pending.test", "one"), pending("c@pending.test", "two"),
		{Address: "plain@pending.test", PasswordHash: "$argon2id$x", Enabled: true},
		pending("x@elsewhere.test", "one"), // no such domain: nothing of it written
	})
	if err != nil || errs[0] != nil || errs[3] != nil || !errors.Is(errs[4], store.ErrNotFound) {
		t.Fatalf("AddAccounts: %v %v", errs, err)
	}
	count := func(batch string, want int) {
		t.Helper()
		if n, err := s.PendingPasswordCount(ctx, batch); err != nil || n != want {
			t.Fatalf("PendingPasswordCount(%q) = %d %v, want %d", batch, n, err, want)
		}
	}
	count("one", 2)
	count("two", 1)
	rows, err := s.PendingPasswords(ctx, 10)
	if err != nil || len(rows) != 3 || rows[0].AccountID != accts[0].ID || rows[0].Address != "a@pending.test" ||
		string(rows[0].Sealed) != "sealed a@pending.test" || rows[0].Batch != "one" {
		t.Fatalf("PendingPasswords: %+v %v", rows, err)
	}
	if a, err := s.Account(ctx, "a@pending.test"); err != nil || a.PasswordHash != store.PendingPasswordHash || !a.Enabled {
		t.Fatalf("pending account: %+v %v", a, err)
	}
	if p, err := s.PendingPasswordOf(ctx, "B@pending.test"); err != nil || p.AccountID != accts[1].ID {
		t.Fatalf("PendingPasswordOf: %+v %v", p, err)
	}
	if _, err := s.PendingPasswordOf(ctx, "plain@pending.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PendingPasswordOf a hashed account: %v", err)
	}

	// A password set over a pending one wins, and drops the copy.
	if err := s.SetAccountPassword(ctx, all, "a@pending.test", "$argon2id$set"); err != nil {
		t.Fatal(err)
	}
	count("one", 1)
	if _, err := s.SetAccountPasswords(ctx, all, []store.AccountPassword{{Address: "c@pending.test", PasswordHash: "$argon2id$batch"}}); err != nil {
		t.Fatal(err)
	}
	count("two", 0)
	// Finishing sets only what is still pending.
	if err := s.FinishPendingPasswords(ctx, []store.FinishedPassword{{AccountID: accts[0].ID, PasswordHash: "$argon2id$late"}, {AccountID: accts[1].ID, PasswordHash: "$argon2id$b"}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Account(ctx, "a@pending.test"); a.PasswordHash != "$argon2id$set" {
		t.Fatalf("finishing overwrote a password set meanwhile: %q", a.PasswordHash)
	}
	if b, _ := s.Account(ctx, "b@pending.test"); b.PasswordHash != "$argon2id$b" {
		t.Fatalf("finished hash %q", b.PasswordHash)
	}
	count("one", 0)

	// Removing an account drops its pending copy.
	if _, _, err := s.AddAccounts(ctx, all, []store.NewAccount{pending("d@pending.test", "three")}); err != nil {
		t.Fatal(err)
	}
	count("three", 1)
	if err := s.RemoveAccount(ctx, all, "d@pending.test"); err != nil {
		t.Fatal(err)
	}
	count("three", 0)
	if rows, err := s.PendingPasswords(ctx, 10); err != nil || len(rows) != 0 {
		t.Fatalf("rows left: %+v %v", rows, err)
	}
}
