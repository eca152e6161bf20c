package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testAdminChallenges covers administrators' challenges: created, found
// until they expire and never after, each attempt counted once even when
// many race, Secret and Data replaced, deleted (twice is fine), expired
// ones dropped by the next create, gone with their admin; and code
// attempts counted per admin within a window, racing ones each with their
// own count, cleared.
func testAdminChallenges(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	id := func(name string) []byte { h := sha256.Sum256([]byte(name)); return h[:] }
	a := tr.padmin.ID

	c := store.AdminChallenge{IDHash: id("one"), Purpose: store.ChallengeSignIn, AdminID: a, Created: t0, Expires: t0.Add(5 * time.Minute)}
	must(0, s.CreateAdminChallenge(ctx, c))
	if err := s.CreateAdminChallenge(ctx, c); !errors.Is(err, store.ErrExists) {
		t.Errorf("second challenge with the same id: %v, want ErrExists", err)
	}
	if err := s.CreateAdminChallenge(ctx, store.AdminChallenge{IDHash: id("nobody"), Purpose: store.ChallengeSignIn, AdminID: 999999, Created: t0, Expires: t0.Add(time.Minute)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("challenge of a missing admin: %v, want ErrNotFound", err)
	}
	got := must(s.AdminChallenge(ctx, id("one"), t0.Add(time.Minute)))
	if !bytes.Equal(got.IDHash, c.IDHash) || got.Purpose != c.Purpose || got.AdminID != a || !got.Created.Equal(t0) || !got.Expires.Equal(c.Expires) || got.Attempts != 0 || got.Secret != "" || len(got.Data) != 0 {
		t.Errorf("challenge read back as %+v", got)
	}
	if _, err := s.AdminChallenge(ctx, id("one"), t0.Add(5*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("challenge at its expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.TryAdminChallenge(ctx, id("one"), t0.Add(6*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("attempt after expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.AdminChallenge(ctx, id("two"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown challenge: %v, want ErrNotFound", err)
	}

	// Attempts: racing ones each get their own count.
	const racers = 8
	counts := make(chan int, racers)
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.TryAdminChallenge(ctx, id("one"), t0.Add(time.Minute))
			if err != nil {
				t.Errorf("attempt: %v", err)
				return
			}
			counts <- got.Attempts
		}()
	}
	wg.Wait()
	close(counts)
	seen := map[int]bool{}
	for n := range counts {
		seen[n] = true
	}
	for n := 1; n <= racers; n++ {
		if !seen[n] {
			t.Errorf("racing attempts got counts %v, want each of 1..%d once", seen, racers)
			break
		}
	}

	must(0, s.SetAdminChallenge(ctx, id("one"), "JBSWY3DPEHPK3PXP", []byte(`{"challenge":"x"}`)))
	got = must(s.AdminChallenge(ctx, id("one"), t0.Add(time.Minute)))
	if got.Secret != "JBSWY3DPEHPK3PXP" || string(got.Data) != `{"challenge":"x"}` || got.Attempts != racers {
		t.Errorf("after SetAdminChallenge: %+v", got)
	}
	if err := s.SetAdminChallenge(ctx, id("two"), "x", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAdminChallenge of an unknown one: %v, want ErrNotFound", err)
	}
	must(0, s.DeleteAdminChallenge(ctx, id("one")))
	must(0, s.DeleteAdminChallenge(ctx, id("one")))
	if _, err := s.AdminChallenge(ctx, id("one"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted challenge: %v", err)
	}

	// A new challenge drops the expired ones (found again with an
	// earlier clock only if still stored).
	must(0, s.CreateAdminChallenge(ctx, store.AdminChallenge{IDHash: id("old"), Purpose: store.ChallengeTOTPReset, AdminID: a, Created: t0, Expires: t0.Add(time.Minute), Secret: "S"}))
	must(0, s.CreateAdminChallenge(ctx, store.AdminChallenge{IDHash: id("new"), Purpose: store.ChallengePasskey, AdminID: a, Created: t0.Add(2 * time.Minute), Expires: t0.Add(7 * time.Minute)}))
	if _, err := s.AdminChallenge(ctx, id("old"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired challenge still stored after a create: %v", err)
	}
	if got := must(s.AdminChallenge(ctx, id("new"), t0.Add(3*time.Minute))); got.Purpose != store.ChallengePasskey {
		t.Errorf("purpose read back as %q", got.Purpose)
	}
	// Gone with the admin.
	other := tr.admin1.ID
	must(0, s.CreateAdminChallenge(ctx, store.AdminChallenge{IDHash: id("theirs"), Purpose: store.ChallengeSignIn, AdminID: other, Created: t0, Expires: t0.Add(time.Hour)}))
	must(s.CountAdminCodeAttempt(ctx, other, t0, t0))
	must(0, s.DeleteAdmin(ctx, store.AllScope(), other))
	if _, err := s.AdminChallenge(ctx, id("theirs"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("challenge of a removed admin: %v", err)
	}

	// Code attempts per admin, in a window.
	for i := 1; i <= 3; i++ {
		if n := must(s.CountAdminCodeAttempt(ctx, a, t0.Add(time.Duration(i)*time.Minute), t0)); n != i {
			t.Errorf("attempt %d counted as %d", i, n)
		}
	}
	// The window moves past the first two.
	if n := must(s.CountAdminCodeAttempt(ctx, a, t0.Add(20*time.Minute), t0.Add(3*time.Minute))); n != 2 {
		t.Errorf("attempts in a later window: %d, want 2", n)
	}
	if n := must(s.CountAdminCodeAttempt(ctx, tr.radmin1.ID, t0, t0)); n != 1 {
		t.Errorf("another admin's first attempt counted as %d", n)
	}
	must(0, s.ClearAdminCodeAttempts(ctx, a))
	if n := must(s.CountAdminCodeAttempt(ctx, a, t0.Add(21*time.Minute), t0)); n != 1 {
		t.Errorf("attempt after clear counted as %d, want 1", n)
	}
	must(0, s.ClearAdminCodeAttempts(ctx, a))
	counts = make(chan int, racers)
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.CountAdminCodeAttempt(ctx, a, t0.Add(30*time.Minute), t0.Add(20*time.Minute))
			if err != nil {
				t.Errorf("racing code attempt: %v", err)
				return
			}
			counts <- n
		}()
	}
	wg.Wait()
	close(counts)
	seen = map[int]bool{}
	for n := range counts {
		seen[n] = true
	}
	if len(seen) != racers {
		t.Errorf("racing code attempts got counts %v, want %d distinct", seen, racers)
	}
	if _, err := s.CountAdminCodeAttempt(ctx, 999999, t0, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code attempt of a missing admin: %v, want ErrNotFound", err)
	}
}

// testPasskeys covers administrators' passkeys: added and listed per
// admin, a credential id registered once, the sign counter moving only
// forward (racing uses of one assertion: one wins), counters of 0 kept
// by authenticators without one, removal scoped to the admin, and gone
// with their admin.
func testPasskeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	tr := buildTree(t, s)
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	a, b := tr.padmin.ID, tr.radmin1.ID
	k1 := must(s.AddPasskey(ctx, store.Passkey{AdminID: a, Name: "laptop", CredentialID: []byte{1, 2, 3}, Credential: []byte(`{"id":"AQID"}`), SignCount: 1, Created: t0}))
	if k1.ID == 0 || k1.AdminID != a || k1.Name != "laptop" || !bytes.Equal(k1.CredentialID, []byte{1, 2, 3}) || k1.SignCount != 1 || !k1.Created.Equal(t0) || !k1.LastUsed.IsZero() {
		t.Errorf("added passkey %+v", k1)
	}
	if _, err := s.AddPasskey(ctx, store.Passkey{AdminID: b, Name: "same", CredentialID: []byte{1, 2, 3}, Credential: []byte("x"), Created: t0}); !errors.Is(err, store.ErrExists) {
		t.Errorf("credential id registered twice: %v, want ErrExists", err)
	}
	if _, err := s.AddPasskey(ctx, store.Passkey{AdminID: 999999, Name: "x", CredentialID: []byte{9}, Credential: []byte("x"), Created: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("passkey of a missing admin: %v, want ErrNotFound", err)
	}
	k2 := must(s.AddPasskey(ctx, store.Passkey{AdminID: a, Name: "phone", CredentialID: []byte{4}, Credential: []byte("c2"), Created: t0.Add(time.Minute)}))
	kb := must(s.AddPasskey(ctx, store.Passkey{AdminID: b, Name: "theirs", CredentialID: []byte{5}, Credential: []byte("cb"), Created: t0}))
	if got := must(s.Passkeys(ctx, a)); len(got) != 2 || got[0].ID != k1.ID || got[1].ID != k2.ID {
		t.Errorf("passkeys of a: %+v", got)
	}

	// The counter moves forward only.
	must(0, s.UsePasskey(ctx, a, k1.ID, 5, []byte("updated"), t0.Add(time.Hour)))
	for _, n := range []uint32{5, 4, 0} {
		if err := s.UsePasskey(ctx, a, k1.ID, n, []byte("stale"), t0.Add(2*time.Hour)); !errors.Is(err, store.ErrReplay) {
			t.Errorf("counter %d after 5: %v, want ErrReplay", n, err)
		}
	}
	got := must(s.Passkeys(ctx, a))[0]
	if got.SignCount != 5 || string(got.Credential) != "updated" || !got.LastUsed.Equal(t0.Add(time.Hour)) {
		t.Errorf("after use: %+v", got)
	}
	// Without a counter (0 and 0), every use passes.
	must(0, s.UsePasskey(ctx, a, k2.ID, 0, []byte("c2"), t0))
	must(0, s.UsePasskey(ctx, a, k2.ID, 0, []byte("c2"), t0))
	// Another admin's passkey is not found through a.
	if err := s.UsePasskey(ctx, a, kb.ID, 9, []byte("x"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("use of another admin's passkey: %v, want ErrNotFound", err)
	}
	if err := s.RemovePasskey(ctx, a, kb.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removal of another admin's passkey: %v, want ErrNotFound", err)
	}

	// Racing uses of one counter value: exactly one wins.
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- s.UsePasskey(ctx, a, k1.ID, 6, []byte("race"), t0) }()
	}
	wins := 0
	for range 8 {
		if err := <-errs; err == nil {
			wins++
		} else if !errors.Is(err, store.ErrReplay) {
			t.Errorf("racing use: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing uses of counter 6 passed, want 1", wins)
	}

	must(0, s.RemovePasskey(ctx, a, k1.ID))
	if err := s.RemovePasskey(ctx, a, k1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed twice: %v, want ErrNotFound", err)
	}
	if got := must(s.Passkeys(ctx, a)); len(got) != 1 || got[0].ID != k2.ID {
		t.Errorf("after removal: %+v", got)
	}
	must(0, s.DeleteAdmin(ctx, store.AllScope(), b))
	if got := must(s.Passkeys(ctx, b)); len(got) != 0 {
		t.Errorf("passkeys of a removed admin: %+v", got)
	}
	// Its credential id may be registered again.
	must(s.AddPasskey(ctx, store.Passkey{AdminID: a, Name: "again", CredentialID: []byte{5}, Credential: []byte("x"), Created: t0}))
}
