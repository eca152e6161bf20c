package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/xtramail/xtramail/internal/auth/authtest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestAdminSignInCostsOneHash is the decoy-hash test for administrators:
// an unknown email, a wrong password, a disabled admin and the right
// password each run exactly one argon2 computation at the Hasher's
// parameters, counted by the Hasher itself (auth.Hasher.Observed, not a
// timer), so that the answer's time does not tell which emails are
// administrators. The users' side is service.TestEverySignInCostsOneHash.
func TestAdminSignInCostsOneHash(t *testing.T) {
	h, count := authtest.NewHashCounter(t, cheapParams, 2)
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
		count.Reset()
		_, err := s.SignIn(ctx, c.email, c.password, fmt.Sprintf("192.0.2.%d", i+1))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUnauthenticated)) {
			t.Fatalf("%s: %v", c.name, err)
		}
		count.CheckOne(t, c.name, cheapParams)
	}
}
