package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/store"
)

// TestImportedPasswordSignsInBeforeTheJob: an address whose imported
// password the background job has not reached signs in at once with it
// (its row is hashed on the spot, at the full parameters, and the
// pending copy is gone), a wrong password is refused like any other,
// and the next sign-in uses the stored hash.
func TestImportedPasswordSignsInBeforeTheJob(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	st, err := OpenStore(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	h, _ := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	key, err := loadSealKey(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin.New(st, admin.Options{Hasher: h, SealKey: key})
	c, err := adm.AddCustomer(ctx, admin.CLI(), 0, "Pending Co")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AddDomain(ctx, admin.CLI(), c.ID, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	file := "address,password\nann@example.test,ann's own password\nbob@example.test,bob's own password\n"
	res, err := adm.ImportWith(ctx, admin.CLI(), strings.NewReader(file), admin.ImportOptions{DeferHashing: true})
	if err != nil || res.Deferred != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	// No job runs here (the service is not started): sign-ins meet the
	// pending rows.
	a := auth.NewAuthenticator(AccountLookup(st, adm.FinishPendingPassword), auth.Options{Hasher: h})
	if _, err := a.Authenticate(ctx, "bob@example.test", "not bob's password", "192.0.2.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password for a pending address: %v", err)
	}
	if _, err := a.Authenticate(ctx, "ann@example.test", "ann's own password", "192.0.2.1"); err != nil {
		t.Fatalf("imported password before the job: %v", err)
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
	if _, err := a.Authenticate(ctx, "bob@example.test", "bob's own password", "192.0.2.3"); err != nil {
		t.Fatalf("bob after his row was hashed: %v", err)
	}
	// Without a finisher (a node without the job), a pending address
	// cannot sign in, and it is refused as a wrong password.
	file = "address,password\ncid@example.test,cid's own password\n"
	if _, err := adm.ImportWith(ctx, admin.CLI(), strings.NewReader(file), admin.ImportOptions{DeferHashing: true}); err != nil {
		t.Fatal(err)
	}
	plain := auth.NewAuthenticator(AccountLookup(st, nil), auth.Options{Hasher: h})
	if _, err := plain.Authenticate(ctx, "cid@example.test", "cid's own password", "192.0.2.4"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("pending address without a finisher: %v", err)
	}
}

// TestSealKeyMadeOnceAndKept: the first start makes a 0600 key file and
// later starts read the same key.
func TestSealKeyMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	k1, err := loadSealKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadSealKey(dir)
	if err != nil || string(k1) != string(k2) || len(k1) != admin.SealKeySize {
		t.Fatalf("second load: %v, same %t", err, string(k1) == string(k2))
	}
	fi, err := os.Stat(dir + "/" + sealKeyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
}
