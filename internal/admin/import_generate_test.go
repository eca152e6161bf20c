package admin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestImportGeneratesPasswordsInOneStep: with GeneratePasswords, every
// imported line without a password ends enabled (or as the file says)
// with a generated password, handed out once and verifying against the
// stored hash; a line with its own password keeps it; a refused line gets
// none; the audit record counts them.
func TestImportGeneratesPasswordsInOneStep(t *testing.T) {
	s, st := importWorld(t)
	ctx := context.Background()
	ok[store.Account](t)(s.AddAddress(ctx, CLI(), "taken@one.test", "", true))
	const n = 250 // two import chunks
	var csv strings.Builder
	csv.WriteString("address,password,enabled\n")
	for i := range n {
		fmt.Fprintf(&csv, "gen%04d@one.test,,\n", i)
	}
	csv.WriteString("own@one.test,my-own-password,yes\n") // line n+2
	csv.WriteString("taken@one.test,,\n")                 // n+3: exists
	csv.WriteString("off@one.test,,no\n")                 // n+4: generated, disabled
	csv.WriteString("bad address,,\n")                    // n+5
	got := map[string]string{}
	lines := map[string]int{}
	var order []int
	res, err := s.ImportWith(ctx, CLI(), strings.NewReader(csv.String()), ImportOptions{
		GeneratePasswords: true,
		Generated: func(line int, address, password string) {
			if _, dup := got[address]; dup {
				t.Errorf("%s handed out twice", address)
			}
			got[address], lines[address] = password, line
		},
		Progress: func(line int, address string, err error) { order = append(order, line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != n+2 || res.Generated != n+1 || res.Failed != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(got) != n+1 || len(order) != n+4 {
		t.Fatalf("%d passwords handed out, %d lines reported", len(got), len(order))
	}
	seen := map[string]bool{}
	for addr, pw := range got {
		if seen[pw] {
			t.Errorf("password of %s given twice", addr)
		}
		seen[pw] = true
		if err := CheckPassword(addr, pw); err != nil || len(pw) != GeneratedPasswordLength {
			t.Errorf("%s: generated %q: %v", addr, pw, err)
		}
		a := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), addr))
		if okPw, err := auth.Verify(a.PasswordHash, pw); !okPw || err != nil {
			t.Errorf("%s: generated password does not verify: %v", addr, err)
		}
		if want := addr != "off@one.test"; a.Enabled != want {
			t.Errorf("%s enabled %t, want %t", addr, a.Enabled, want)
		}
	}
	if lines["gen0000@one.test"] != 2 || lines["off@one.test"] != n+4 {
		t.Errorf("line numbers %d, %d", lines["gen0000@one.test"], lines["off@one.test"])
	}
	if _, ok := got["own@one.test"]; ok {
		t.Error("a line with its own password got a generated one")
	}
	drainPending(t, s)
	own := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), "own@one.test"))
	if okPw, _ := auth.Verify(own.PasswordHash, "my-own-password"); !okPw {
		t.Error("own password not kept")
	}
	taken := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), "taken@one.test"))
	if taken.PasswordHash != "" {
		t.Error("an existing address got a password from a refused line")
	}
	recs := ok[[]store.AuditRecord](t)(s.SearchAudit(ctx, CLI(), store.AuditQuery{Action: OpAddressImport}))
	if len(recs) != 1 || !strings.Contains(recs[0].Detail, fmt.Sprintf("%d passwords generated", n+1)) {
		t.Errorf("audit %+v", recs)
	}
	// Without the option, no line gets a password it did not bring.
	res, err = s.ImportWith(ctx, CLI(), strings.NewReader("address\nplain@one.test\n"), ImportOptions{})
	plain := ok[store.Account](t)(st.ScopedAccount(ctx, store.AllScope(), "plain@one.test"))
	if err != nil || res.Generated != 0 || plain.PasswordHash != "" {
		t.Errorf("without the option: %+v %v, hash %q", res, err, plain.PasswordHash)
	}
}

// TestImportLeavesASignInSlot: an import hashing many passwords holds at
// most all but one of the shared Hasher's slots, so a sign-in through
// the same Hasher (as IMAP's) never queues behind the batch; sign-ins
// during an import succeed.
func TestImportLeavesASignInSlot(t *testing.T) {
	h, err := auth.NewHasher(auth.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	s, st := newService(t, Options{Hasher: h})
	ctx := context.Background()
	c := ok[store.Customer](t)(s.AddCustomer(ctx, CLI(), 0, "Slots"))
	ok[store.Domain](t)(s.AddDomain(ctx, CLI(), c.ID, "slots.test", 0))
	ok[store.Account](t)(s.AddAddress(ctx, CLI(), "user@slots.test", "user-password-1", true))
	if w := s.bulkHashWorkers(); w >= h.Slots() || w < 1 {
		t.Fatalf("%d bulk hash workers for %d slots", w, h.Slots())
	}
	file := func(tag string) string {
		var csv strings.Builder
		csv.WriteString("address,password\n")
		for i := range 200 {
			if i%2 == 0 {
				fmt.Fprintf(&csv, "%s%04d@slots.test,\n", tag, i) // generated
			} else {
				fmt.Fprintf(&csv, "%s%04d@slots.test,password-%04d\n", tag, i, i)
			}
		}
		return csv.String()
	}
	// 1. Alone, the import never holds more slots than its workers.
	done := make(chan struct{})
	var wg sync.WaitGroup
	busiest, samples := 0, 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			busiest, samples = max(busiest, h.InUse()), samples+1
			time.Sleep(100 * time.Microsecond)
		}
	}()
	res, err := s.ImportWith(ctx, CLI(), strings.NewReader(file("a")), ImportOptions{GeneratePasswords: true})
	close(done)
	wg.Wait()
	if err != nil || res.Imported != 200 || res.Generated != 100 {
		t.Fatalf("import %+v: %v", res, err)
	}
	if busiest > s.bulkHashWorkers() {
		t.Errorf("the import held %d of %d hash slots at once (%d samples), want at most %d",
			busiest, h.Slots(), samples, s.bulkHashWorkers())
	}

	// 2. A user signs in again and again during an import, through an
	// authenticator sharing the Hasher, as IMAP's does.
	imap := auth.NewAuthenticator(func(ctx context.Context, u string) (auth.Credential, error) {
		a, err := st.ScopedAccount(ctx, store.AllScope(), u)
		if err != nil {
			return auth.Credential{}, fmt.Errorf("%w: %v", auth.ErrUnknownUser, err)
		}
		return auth.Credential{AccountID: a.ID, Username: a.Address, PasswordHash: a.PasswordHash, Enabled: a.Enabled}, nil
	}, auth.Options{Hasher: h, Cache: auth.NewCache(time.Nanosecond, 1)})
	done = make(chan struct{})
	signins := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err := imap.Authenticate(sctx, "user@slots.test", "user-password-1", "")
			cancel()
			if err != nil {
				t.Errorf("sign-in during the import: %v", err)
				return
			}
			signins++
		}
	}()
	res, err = s.ImportWith(ctx, CLI(), strings.NewReader(file("b")), ImportOptions{GeneratePasswords: true})
	close(done)
	wg.Wait()
	if err != nil || res.Imported != 200 {
		t.Fatalf("import %+v: %v", res, err)
	}
	t.Logf("%d sign-ins during the import", signins)
}
