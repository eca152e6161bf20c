package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/auth/authtest"
	"github.com/xtramail/xtramail/internal/store"
)

// pendingWorld is a store with the domain example.test and an admin
// service with the data directory's seal key, over h.
func pendingWorld(t *testing.T, h *auth.Hasher) (store.Store, *admin.Service) {
	t.Helper()
	st, cfg := openTestStore(t)
	key, err := LoadSealKey(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(st, admin.Options{Hasher: h, SealKey: key})
	ctx := context.Background()
	c, err := adm.AddCustomer(ctx, admin.CLI(), 0, "Pending Co")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AddDomain(ctx, admin.CLI(), c.ID, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	return st, adm
}

// importPending imports file, whose passwords then wait for the job
// (which no test here runs).
func importPending(t *testing.T, adm *admin.Service, file string, want int) {
	t.Helper()
	res, err := adm.ImportWith(context.Background(), admin.CLI(), strings.NewReader(file), admin.ImportOptions{})
	if err != nil || res.Deferred != want {
		t.Fatalf("import: %+v %v", res, err)
	}
}

// TestImportedPasswordSignsInBeforeTheJob: an address whose imported
// password the background job has not reached signs in at once with it
// (its row is hashed on the spot, at the full parameters, and the
// pending copy is gone), a wrong password is refused like any other and
// leaves the row pending, and the next sign-in uses the stored hash.
func TestImportedPasswordSignsInBeforeTheJob(t *testing.T) {
	h, _ := auth.NewHasher(cheapParams, 2)
	st, adm := pendingWorld(t, h)
	ctx := context.Background()
	importPending(t, adm, "address,password\nann@example.test,ann's own password\nbob@example.test,bob's own password\n", 2)
	a := auth.NewAuthenticator(AccountLookup(st, adm.PendingCredential), auth.Options{Hasher: h})
	if _, err := a.Authenticate(ctx, "bob@example.test", "not bob's password", "192.0.2.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password for a pending address: %v", err)
	}
	if _, err := st.PendingPasswordOf(ctx, "bob@example.test"); err != nil {
		t.Fatalf("a wrong password settled bob's pending row: %v", err)
	}
	if _, err := a.Authenticate(ctx, "ann@example.test", "ann's own password", "192.0.2.1"); err != nil {
		t.Fatalf("imported password before the job: %v", err)
	}
	if _, err := a.Authenticate(ctx, "bob@example.test", "bob's own password", "192.0.2.2"); err != nil {
		t.Fatalf("bob's imported password after a wrong one: %v", err)
	}
	for _, addr := range []string{"ann@example.test", "bob@example.test"} {
		acct, err := st.Account(ctx, addr)
		if err != nil || acct.PasswordHash == store.PendingPasswordHash || !strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
			t.Fatalf("%s after its first sign-in: %q %v", addr, acct.PasswordHash, err)
		}
		if _, err := st.PendingPasswordOf(ctx, addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: pending copy kept after hashing: %v", addr, err)
		}
	}
	fresh := auth.NewAuthenticator(AccountLookup(st, adm.PendingCredential), auth.Options{Hasher: h})
	if _, err := fresh.Authenticate(ctx, "bob@example.test", "bob's own password", "192.0.2.3"); err != nil {
		t.Fatalf("bob after his row was hashed: %v", err)
	}
	// Without a finisher (a node without the job), a pending address
	// cannot sign in, and it is refused as a wrong password.
	importPending(t, adm, "address,password\ncid@example.test,cid's own password\n", 1)
	plain := auth.NewAuthenticator(AccountLookup(st, nil), auth.Options{Hasher: h})
	if _, err := plain.Authenticate(ctx, "cid@example.test", "cid's own password", "192.0.2.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("pending address without a finisher: %v", err)
	}
}

// TestEverySignInCostsOneHash is the decoy-hash test for users: an
// unknown address, an address without a password, a wrong password, and
// a pending (imported, not yet hashed) address with the right or a wrong
// password each run exactly one argon2 computation at the Hasher's
// parameters, counted by the Hasher itself (auth.Hasher.Observed), so
// that the answer's time tells none of them apart. Before this, a
// pending address's first sign-in ran two.
func TestEverySignInCostsOneHash(t *testing.T) {
	h, count := authtest.NewHashCounter(t, cheapParams, 2)
	st, adm := pendingWorld(t, h)
	ctx := context.Background()
	importPending(t, adm, "address,password\nann@example.test,ann's own password\nbob@example.test,bob's own password\n", 2)
	hash, _ := auth.HashParams("cid's password", cheapParams)
	if _, err := st.CreateAccount(ctx, "cid@example.test", hash); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, "nopass@example.test", ""); err != nil {
		t.Fatal(err)
	}
	a := auth.NewAuthenticator(AccountLookup(st, adm.PendingCredential), auth.Options{Hasher: h})
	for i, c := range []struct {
		name, user, password string
		ok                   bool
	}{
		{"unknown address", "nobody@example.test", "some password", false},
		{"no password", "nopass@example.test", "some password", false},
		{"wrong password", "cid@example.test", "not cid's password", false},
		{"right password", "cid@example.test", "cid's password", true},
		{"pending, wrong password", "bob@example.test", "not bob's password", false},
		{"pending, right password", "ann@example.test", "ann's own password", true},
	} {
		count.Reset()
		_, err := a.Authenticate(ctx, c.user, c.password, fmt.Sprintf("192.0.2.%d", i+1))
		if c.ok != (err == nil) {
			t.Fatalf("%s: %v", c.name, err)
		}
		count.CheckOne(t, c.name, cheapParams)
	}
}

// TestSealKeyMadeOnceAndKept: the first start makes a 0600 key file and
// later starts read the same key.
func TestSealKeyMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadSealKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadSealKey(dir)
	if err != nil || string(k1) != string(k2) || len(k1) != admin.SealKeySize {
		t.Fatalf("second load: %v, same %t", err, string(k1) == string(k2))
	}
	fi, err := os.Stat(dir + "/" + sealKeyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
}
