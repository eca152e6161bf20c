package admin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/store"
)

// TestAdminSignInCostsOneHash is the decoy-hash test for administrators:
// an unknown email, a wrong password, a disabled admin and the right
// password each run exactly one argon2 computation at the Hasher's
// parameters, counted by the Hasher itself (auth.Hasher.Observed, not a
// timer), so that the answer's time does not tell which emails are
// administrators. The users' side is service.TestEverySignInCostsOneHash.
func TestAdminSignInCostsOneHash(t *testing.T) {
	base := ok[*auth.Hasher](t)(auth.NewHasher(cheapParams, 2))
	var mu sync.Mutex
	var seen []auth.Params
	h := base.Observed(func(p auth.Params) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p)
	})
	s, _ := newService(t, Options{Hasher: h})
	ctx := context.Background()
	ok[AdminInfo](t)(s.AddAdmin(ctx, CLI(), "ops@provider.test", testPassword, store.RoleProvider, 0))
	off := ok[AdminInfo](t)(s.AddAdmin(ctx, CLI(), "gone@provider.test", testPassword, store.RoleProvider, 0))
	check(t, s.SetAdminDisabled(ctx, CLI(), off.ID, true))
	for i, c := range []struct {
		name, email, password string
		ok                    bool
	}{
		{"unknown admin", "nobody@provider.test", testPassword, false},
		{"wrong password", "ops@provider.test", "not the password", false},
		{"disabled admin", "gone@provider.test", testPassword, false},
		{"right password", "ops@provider.test", testPassword, true},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		_, err := s.SignIn(ctx, c.email, c.password, fmt.Sprintf("192.0.2.%d", i+1))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUnauthenticated)) {
			t.Fatalf("%s: %v", c.name, err)
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if len(got) != 1 || got[0].Memory != cheapParams.Memory || got[0].Time != cheapParams.Time || got[0].Threads != cheapParams.Threads {
			t.Errorf("%s: argon2 computations %+v, want one at %+v", c.name, got, cheapParams)
		}
	}
}
