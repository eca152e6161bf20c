package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// TestBrowserResetAdminSecondFactors: a provider administrator opens a
// customer administrator's second factors from the admins page (TOTP
// and two passkeys listed), confirms the reset, and the customer admin's
// TOTP key and passkeys are gone, their open session ended, the reset
// audited; they sign in with the password alone. The customer admin's
// peer is offered no reset, and posting one anyway is a 403.
func TestBrowserResetAdminSecondFactors(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	c, err := ops.AddCustomer(ctx, cli, 0, "Lost Phone Ltd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	lost, err := ops.AddAdmin(ctx, cli, "lost@customer.test", adminPassword, store.RoleCustomer, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ops.AddAdmin(ctx, cli, "peer@customer.test", adminPassword, store.RoleCustomer, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "JBSWY3DPEHPK3PXP"
	if err := srv.Store.SetAdminTOTP(ctx, store.AllScope(), lost.ID, secret); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Work phone", "Security key"} {
		if _, err := srv.Store.AddPasskey(ctx, store.Passkey{AdminID: lost.ID, Name: n, CredentialID: []byte(n), Credential: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	// The lost admin's own session (say, on the lost phone), and their
	// peer's, from which a reset must be refused.
	lostSession := newBrowser(t, srv)
	lostSession.signIn("lost@customer.test", adminPassword, secret)
	peerSession := newBrowser(t, srv)
	peerSession.signIn("peer@customer.test", adminPassword, "")
	if pg := peerSession.get("/console/admins"); strings.Contains(pg.body, fmt.Sprintf("/console/admins/%d/factors", lost.ID)) {
		t.Error("a peer is offered the reset of a peer's second factors")
	}
	if pg := peerSession.post(fmt.Sprintf("/console/admins/%d/factors/reset", lost.ID), nil); pg.status != http.StatusForbidden {
		t.Errorf("a peer's reset: %d, want 403", pg.status)
	}
	_ = peer

	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)
	link := fmt.Sprintf(`a[href="/console/admins/%d/factors"]`, lost.ID)
	b.do("admins page",
		chromedp.Navigate(srv.Web+"/console/admins"),
		chromedp.WaitVisible(chromedp.CSS(link)),
		chromedp.Click(chromedp.CSS(link)),
		chromedp.WaitVisible(chromedp.ID("reset")),
	)
	if got := b.text("#totp"); got != "enrolled" {
		t.Errorf("TOTP shown as %q", got)
	}
	if got := b.text("#passkeys"); !strings.Contains(got, "Work phone") || !strings.Contains(got, "Security key") {
		t.Errorf("passkeys shown as %q", got)
	}
	b.shoot("admin-factors", fmt.Sprintf("/console/admins/%d/factors", lost.ID), "#reset")
	b.shoot("admins", "/console/admins", link)
	b.do("reset",
		chromedp.Navigate(srv.Web+fmt.Sprintf("/console/admins/%d/factors", lost.ID)),
		chromedp.WaitVisible(chromedp.CSS("#reset button[type=submit]")),
		chromedp.Click(chromedp.CSS("#reset button[type=submit]")),
	)
	b.waitFlash("Second factors of lost@customer.test removed (TOTP and 2 passkeys)")

	a, err := srv.Store.AdminByID(ctx, store.AllScope(), lost.ID)
	if err != nil || a.TOTPSecret != "" {
		t.Errorf("TOTP key left: %v", err)
	}
	if pks, err := srv.Store.Passkeys(ctx, lost.ID); err != nil || len(pks) != 0 {
		t.Errorf("%d passkeys left, %v", len(pks), err)
	}
	if pg := lostSession.get("/console/"); pg.status != http.StatusSeeOther {
		t.Errorf("the lost admin's session after the reset: %d, want a redirect to sign in", pg.status)
	}
	recs, err := ops.SearchAudit(ctx, cli, store.AuditQuery{Actor: "ops@provider.test", Action: admin.OpTOTP, Object: "admin lost@customer.test"})
	if err != nil || len(recs) != 1 || recs[0].Object != "admin lost@customer.test" {
		t.Errorf("audit %+v %v", recs, err)
	}
	// The password alone signs them in now.
	again := newBrowser(t, srv)
	again.signIn("lost@customer.test", adminPassword, "")
}
