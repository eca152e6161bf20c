package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// reopenable returns a function opening the same database file (and
// blob directory) each time it is called: a second node, or the service
// after a restart.
func reopenable(t *testing.T) func() store.Store {
	dir := t.TempDir()
	return func() store.Store {
		blobs, err := fs.Open(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(filepath.Join(dir, "x.db"), blobs, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// signInPending signs address in as the service's sign-ins do (an
// Authenticator whose lookup meets a pending password through
// PendingCredential).
func signInPending(ctx context.Context, s *Service, h *auth.Hasher, address, password string) error {
	a := auth.NewAuthenticator(func(ctx context.Context, user string) (auth.Credential, error) {
		hash, pending, err := s.PendingCredential(ctx, user)
		if err != nil {
			return auth.Credential{}, err
		}
		return auth.Credential{Username: user, PasswordHash: hash, Pending: pending, Enabled: true}, nil
	}, auth.Options{Hasher: h})
	_, err := a.Authenticate(ctx, address, password, "")
	return err
}

// deferredCSV is n lines of addresses with passwords of their own.
func deferredCSV(n int) (string, map[string]string) {
	var sb strings.Builder
	pws := map[string]string{}
	sb.WriteString("address,password\n")
	for i := range n {
		addr, pw := fmt.Sprintf("d%03d@one.test", i), fmt.Sprintf("chosen-password-%03d", i)
		fmt.Fprintf(&sb, "%s,%s\n", addr, pw)
		pws[addr] = pw
	}
	return sb.String(), pws
}

// drainPending runs the job's batches until nothing waits.
func drainPending(t *testing.T, s *Service) {
	t.Helper()
	for {
		n, err := s.HashPendingPasswords(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// TestImportDefersChosenPasswords: every line of a
// file with its own passwords is written at once, enabled, with the
// pending hash and a sealed copy that does not hold the password in
// clear; the job hashes them all (at the Hasher's full parameters), the
// batch's count falls to 0, and each address verifies with its password.
func TestImportDefersChosenPasswords(t *testing.T) {
	s, st := importWorld(t)
	ctx := context.Background()
	file, pws := deferredCSV(250) // two chunks, several job batches
	res, err := s.ImportWith(ctx, CLI(), strings.NewReader(file), ImportOptions{Batch: "job-1"})
	if err != nil || res.Imported != 250 || res.Deferred != 250 {
		t.Fatalf("import: %+v %v", res, err)
	}
	if n := ok[int](t)(s.PendingPasswordCount(ctx, "job-1")); n != 250 {
		t.Fatalf("%d pending after the import, want 250", n)
	}
	rows := ok[[]store.PendingPassword](t)(st.PendingPasswords(ctx, 1000))
	for _, r := range rows {
		if bytes.Contains(r.Sealed, []byte(pws[r.Address])) || bytes.Contains(r.Sealed, []byte("chosen-password")) {
			t.Fatalf("%s: the pending copy holds the password in clear", r.Address)
		}
		a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), r.Address))
		if a.PasswordHash != store.PendingPasswordHash || !a.Enabled {
			t.Fatalf("%s before hashing: %+v", r.Address, a)
		}
	}
	drainPending(t, s)
	if n := ok[int](t)(s.PendingPasswordCount(ctx, "job-1")); n != 0 {
		t.Fatalf("%d pending after the job, want 0", n)
	}
	want := fmt.Sprintf("m=%d,t=%d", s.hasher.Params().Memory, s.hasher.Params().Time)
	for addr, pw := range pws {
		a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), addr))
		if okPw, err := auth.Verify(a.PasswordHash, pw); !okPw || err != nil || !strings.Contains(a.PasswordHash, want) {
			t.Fatalf("%s after the job: hash %q, verifies %t %v", addr, a.PasswordHash, okPw, err)
		}
	}
}

// TestPendingPasswordsSurviveRestart: rows left pending when the process
// stops are hashed by the next one with the same seal key; with another
// key they cannot be opened and are dropped (the address keeps no
// password instead of a wrong one).
func TestPendingPasswordsSurviveRestart(t *testing.T) {
	open := reopenable(t)
	h := ok[*auth.Hasher](t)(auth.NewHasher(cheapParams, 4))
	key := make([]byte, SealKeySize)
	rand.Read(key)
	ctx := context.Background()

	st := open()
	s := New(st, Options{Hasher: h, SealKey: key})
	c := ok[store.Customer](t)(s.AddCustomer(ctx, CLI(), 0, "Restart Co"))
	ok[store.Domain](t)(s.AddDomain(ctx, CLI(), c.ID, "one.test", 0))
	file, pws := deferredCSV(20)
	if res, err := s.ImportWith(ctx, CLI(), strings.NewReader(file), ImportOptions{}); err != nil || res.Deferred != 20 {
		t.Fatalf("import: %+v %v", res, err)
	}
	check(t, st.Close()) // stopped before the job ran

	st = open()
	s = New(st, Options{Hasher: h, SealKey: key})
	drainPending(t, s)
	for addr, pw := range pws {
		a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), addr))
		if okPw, _ := auth.Verify(a.PasswordHash, pw); !okPw {
			t.Fatalf("%s not hashed after the restart: %q", addr, a.PasswordHash)
		}
	}

	// Another key: pending rows are dropped, not hashed from garbage.
	file2 := strings.ReplaceAll(file, "d0", "e0")
	if _, err := s.ImportWith(ctx, CLI(), strings.NewReader(file2), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	check(t, st.Close())
	st = open()
	defer st.Close()
	s = New(st, Options{Hasher: h}) // a random key of its own
	drainPending(t, s)
	a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), "e000@one.test"))
	if a.PasswordHash != "" {
		t.Fatalf("a copy sealed under another key gave hash %q", a.PasswordHash)
	}
	if rows := ok[[]store.PendingPassword](t)(st.PendingPasswords(ctx, 10)); len(rows) != 0 {
		t.Fatalf("%d rows still pending", len(rows))
	}
}

// TestPasswordSetWhilePendingWins: an administrator who sets a password
// while the imported one waits keeps theirs; the pending copy is gone
// at once (the store drops it in the same write), and the job finds
// nothing of it.
func TestPasswordSetWhilePendingWins(t *testing.T) {
	s, st := importWorld(t)
	ctx := context.Background()
	file, _ := deferredCSV(3)
	if _, err := s.ImportWith(ctx, CLI(), strings.NewReader(file), ImportOptions{Batch: "b"}); err != nil {
		t.Fatal(err)
	}
	check(t, s.SetPassword(ctx, CLI(), "d001@one.test", "set-by-the-admin"))
	if _, err := st.PendingPasswordOf(ctx, "d001@one.test"); err == nil {
		t.Fatal("the pending copy outlived the password set over it")
	}
	if n := ok[int](t)(s.PendingPasswordCount(ctx, "b")); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	drainPending(t, s)
	a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), "d001@one.test"))
	if okPw, _ := auth.Verify(a.PasswordHash, "set-by-the-admin"); !okPw {
		t.Fatal("the job overwrote the password set meanwhile")
	}
	// PendingCredential on a row the job settled returns the hash.
	if h, pending, err := s.PendingCredential(ctx, "d002@one.test"); err != nil || pending != nil || h == "" || h == store.PendingPasswordHash {
		t.Fatalf("settled row: hash %q, pending %v, %v", h, pending, err)
	}
}
