package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// givePasskeys gives an administrator TOTP and passkeys named names,
// straight in the store (registering one is a browser ceremony).
func givePasskeys(t *testing.T, w *world, adminID int64, names ...string) {
	t.Helper()
	ctx := context.Background()
	if err := w.srv.Store.SetAdminTOTP(ctx, store.AllScope(), adminID, "JBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := w.srv.Store.AddPasskey(ctx, store.Passkey{AdminID: adminID, Name: n,
			CredentialID: fmt.Appendf(nil, "%d-%s", adminID, n), Credential: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
}

// exercisePasskeys drives the passkey and second-factor routes once
// each on admin id (a customer admin of customer one, below the
// provider), for TestEveryRouteAgainstOpenAPI.
func exercisePasskeys(t *testing.T, w *world, id int64) {
	givePasskeys(t, w, id, "phone", "key")
	p := w.c.as(w.provider)
	items := p.want(200, "GET", fmt.Sprintf("/admins/%d/passkeys", id), nil)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("passkeys %v", items)
	}
	first := items[0].(map[string]any)
	if first["name"] != "phone" || first["last_used"] != nil {
		t.Errorf("passkey %v", first)
	}
	p.want(204, "DELETE", fmt.Sprintf("/admins/%d/passkeys/%d", id, int64(first["id"].(float64))), nil)
	r := p.want(200, "DELETE", fmt.Sprintf("/admins/%d/second-factors", id), nil)
	if r["totp_removed"] != true || r["passkeys_removed"].(float64) != 1 {
		t.Errorf("reset: %v", r)
	}
}

// TestAdminPasskeysScoped: passkeys and second-factor resets through
// the API follow the tenancy (another customer's or reseller's admin is
// a 404, audited), a peer of the same scope is a 403, oneself may list
// and remove one's own passkeys but not reset one's second factors
// here; a reseller admin resets a customer admin below it, after which
// nothing is left.
func TestAdminPasskeysScoped(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	peer := int64(w.c.as(w.c1).want(201, "POST", "/admins", map[string]any{"email": "peer@one.test", "password": "peer password 12", "role": "customer", "scope_id": w.c1ID})["id"].(float64))
	givePasskeys(t, w, peer, "phone", "key")
	givePasskeys(t, w, w.c1Admin, "mine")
	c1, c2, r1, r2 := w.c.as(w.c1), w.c.as(w.c2), w.c.as(w.r1), w.c.as(w.r2)

	for _, c := range []struct {
		name   string
		cl     *client
		method string
		path   string
		want   int
	}{
		{"another customer lists", c2, "GET", fmt.Sprintf("/admins/%d/passkeys", peer), 404},
		{"another customer removes one", c2, "DELETE", fmt.Sprintf("/admins/%d/passkeys/1", peer), 404},
		{"another customer resets", c2, "DELETE", fmt.Sprintf("/admins/%d/second-factors", peer), 404},
		{"another reseller resets", r2, "DELETE", fmt.Sprintf("/admins/%d/second-factors", peer), 404},
		{"a peer removes one", c1, "DELETE", fmt.Sprintf("/admins/%d/passkeys/1", peer), 403},
		{"a peer resets", c1, "DELETE", fmt.Sprintf("/admins/%d/second-factors", peer), 403},
		{"oneself resets", c1, "DELETE", fmt.Sprintf("/admins/%d/second-factors", w.c1Admin), 400},
		{"a bad passkey id", c1, "DELETE", fmt.Sprintf("/admins/%d/passkeys/x", w.c1Admin), 400},
	} {
		if st, m := c.cl.do(c.method, c.path, nil); st != c.want {
			t.Errorf("%s: %s %s: %d %v, want %d", c.name, c.method, c.path, st, m, c.want)
		}
	}
	if pks, _ := w.srv.Store.Passkeys(ctx, peer); len(pks) != 2 {
		t.Errorf("the peer's passkeys changed: %d left", len(pks))
	}
	denied := w.c.as(w.provider).want(200, "GET", "/audit?action=denied&limit=1000", nil)["items"].([]any)
	if len(denied) < 4 {
		t.Errorf("%d denied records, want the 4 cross-tenant attempts", len(denied))
	}
	// One's own passkeys: listed and removed.
	mine := c1.want(200, "GET", fmt.Sprintf("/admins/%d/passkeys", w.c1Admin), nil)["items"].([]any)
	if len(mine) != 1 {
		t.Fatalf("own passkeys %v", mine)
	}
	c1.want(204, "DELETE", fmt.Sprintf("/admins/%d/passkeys/%d", w.c1Admin, int64(mine[0].(map[string]any)["id"].(float64))), nil)
	c1.want(404, "DELETE", fmt.Sprintf("/admins/%d/passkeys/%d", w.c1Admin, int64(mine[0].(map[string]any)["id"].(float64))), nil)
	// The reseller above resets the peer's.
	r := r1.want(200, "DELETE", fmt.Sprintf("/admins/%d/second-factors", peer), nil)
	if r["totp_removed"] != true || r["passkeys_removed"].(float64) != 2 {
		t.Errorf("reset: %v", r)
	}
	if n := len(r1.want(200, "GET", fmt.Sprintf("/admins/%d/passkeys", peer), nil)["items"].([]any)); n != 0 {
		t.Errorf("%d passkeys after the reset", n)
	}
	if a, err := w.srv.Store.AdminByID(ctx, store.AllScope(), peer); err != nil || a.TOTPSecret != "" {
		t.Errorf("TOTP after the reset: %v", err)
	}
}
