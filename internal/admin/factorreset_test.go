package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestResetSecondFactorsWhoMayWhom: a provider admin resets anyone's
// second factors, a reseller admin those of its customers' admins, no
// one a peer of their own scope or themselves; another tenant's admin is
// ErrNotFound and audited as denied. A reset takes the TOTP key and
// every passkey, is audited, and the admin signs in without a second
// step; the passkey list and single removal follow the same scope.
func TestResetSecondFactorsWhoMayWhom(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cli := CLI()
	// A second customer admin of customer one (c1's peer), and one of
	// reseller one (r1's peer), each with TOTP and two passkeys.
	enrol := func(email string, role store.Role, scope int64) AdminInfo {
		t.Helper()
		a := ok[AdminInfo](t)(w.svc.AddAdmin(ctx, cli, email, testPassword, role, scope))
		check(t, w.st.SetAdminTOTP(ctx, store.AllScope(), a.ID, "JBSWY3DPEHPK3PXP"))
		for _, n := range []string{"phone", "key"} {
			if _, err := w.st.AddPasskey(ctx, store.Passkey{AdminID: a.ID, Name: n, CredentialID: []byte(email + n), Credential: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	peerC := enrol("peer@one.test", store.RoleCustomer, w.one.customer.ID)
	peerR := enrol("peer@resellers.test", store.RoleReseller, w.one.reseller.ID)
	foreign := enrol("other@two.test", store.RoleCustomer, w.two.customer.ID)

	denied := func() int {
		return len(ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Limit: 1000})))
	}
	for _, c := range []struct {
		name string
		p    Principal
		id   int64
		want error // nil: allowed
	}{
		{"customer admin on a peer", w.c1, peerC.ID, ErrForbidden},
		{"customer admin on themselves", w.c1, w.c1.AdminID, store.ErrInvalid},
		{"customer admin on another customer's admin", w.c1, foreign.ID, store.ErrNotFound},
		{"customer admin on their reseller's admin", w.c1, peerR.ID, store.ErrNotFound},
		{"reseller admin on a peer", w.r1, peerR.ID, ErrForbidden},
		{"reseller admin on another reseller's customer admin", w.r1, foreign.ID, store.ErrNotFound},
	} {
		before := denied()
		_, err := w.svc.ResetSecondFactors(ctx, c.p, c.id)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err := w.svc.RemoveAdminPasskey(ctx, c.p, c.id, 1); c.want != store.ErrInvalid && !errors.Is(err, c.want) {
			t.Errorf("%s, one passkey: %v, want %v", c.name, err, c.want)
		}
		if errors.Is(c.want, store.ErrNotFound) && denied() != before+2 {
			t.Errorf("%s: %d denied records, want 2", c.name, denied()-before)
		}
		// Nothing was removed.
		if pks, _ := w.st.Passkeys(ctx, c.id); c.id != w.c1.AdminID && len(pks) != 2 {
			t.Errorf("%s: %d passkeys left, want 2", c.name, len(pks))
		}
	}
	// Listing follows the scope: c1 sees its peer's, not a foreign one's.
	if pks := ok[[]PasskeyInfo](t)(w.svc.AdminPasskeys(ctx, w.c1, peerC.ID)); len(pks) != 2 || pks[0].Name != "phone" {
		t.Errorf("peer's passkeys %+v", pks)
	}
	if _, err := w.svc.AdminPasskeys(ctx, w.c1, foreign.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("foreign passkeys: %v", err)
	}

	// The reseller admin removes one passkey of a customer admin below,
	// then resets the rest.
	pks := ok[[]PasskeyInfo](t)(w.svc.AdminPasskeys(ctx, w.r1, peerC.ID))
	check(t, w.svc.RemoveAdminPasskey(ctx, w.r1, peerC.ID, pks[1].ID))
	if err := w.svc.RemoveAdminPasskey(ctx, w.r1, peerC.ID, pks[1].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing it twice: %v", err)
	}
	res := ok[FactorReset](t)(w.svc.ResetSecondFactors(ctx, w.r1, peerC.ID))
	if !res.TOTP || res.Passkeys != 1 {
		t.Errorf("reset %+v, want TOTP and 1 passkey", res)
	}
	if sr := ok[SignInResult](t)(w.svc.SignIn(ctx, "peer@one.test", testPassword, "")); sr.NeedTOTP || sr.Passkey {
		t.Errorf("a second factor still asked after the reset: %+v", sr)
	}
	// The provider resets a reseller admin's.
	if res := ok[FactorReset](t)(w.svc.ResetSecondFactors(ctx, w.provider, peerR.ID)); !res.TOTP || res.Passkeys != 2 {
		t.Errorf("provider's reset %+v", res)
	}
	recs := ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: OpTOTP, Limit: 100}))
	var got []string
	for _, r := range recs {
		got = append(got, r.Actor+" "+r.Object+" "+r.Detail)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"r1@resellers.test admin peer@one.test removed (TOTP and 1 passkeys)", "boss@provider.test admin peer@resellers.test removed (TOTP and 2 passkeys)"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q:\n%s", want, all)
		}
	}
}
