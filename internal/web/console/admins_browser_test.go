package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// TestBrowserAdminsPageShowsPasskeys: the admins page's second-factor
// column names passkeys, counted, beside TOTP: an admin with both, with
// one passkey only, with TOTP only, and with none ("not enrolled"), as
// the browser renders it at 1280 and 390 px (screenshots saved).
func TestBrowserAdminsPageShowsPasskeys(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	c, err := ops.AddCustomer(ctx, cli, 0, "Factors Ltd")
	if err != nil {
		t.Fatal(err)
	}
	add := func(email string, totp bool, passkeys ...string) {
		t.Helper()
		a, err := ops.AddAdmin(ctx, cli, email, adminPassword, store.RoleCustomer, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if totp {
			if err := srv.Store.SetAdminTOTP(ctx, store.AllScope(), a.ID, "JBSWY3DPEHPK3PXP"); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range passkeys {
			if _, err := srv.Store.AddPasskey(ctx, store.Passkey{AdminID: a.ID, Name: n, CredentialID: []byte(email + n), Credential: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("both@factors.test", true, "Work phone", "Security key")
	add("keys@factors.test", false, "Laptop")
	add("totp@factors.test", true)
	add("none@factors.test", false)

	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)
	b.do("admins page",
		chromedp.Navigate(srv.Web+"/console/admins"),
		chromedp.WaitVisible(chromedp.CSS(".xc-factors")),
	)
	// textContent, not innerText: what the page says, however it is laid out.
	rows := b.eval(`[...document.querySelectorAll("tbody tr")].map(r => r.cells[0].textContent.trim() + "=" + r.cells[2].textContent.trim()).join("|")`)
	got := map[string]string{}
	for _, r := range strings.Split(rows, "|") {
		email, factors, _ := strings.Cut(r, "=")
		got[email] = factors
	}
	for email, want := range map[string]string{
		"both@factors.test": "TOTP, 2 passkeys",
		"keys@factors.test": "1 passkey",
		"totp@factors.test": "TOTP",
		"none@factors.test": "not enrolled",
		"ops@provider.test": "TOTP",
	} {
		if got[email] != want {
			t.Errorf("%s: second factors shown as %q, want %q (rows %q)", email, got[email], want, rows)
		}
	}
	b.shoot("admins-factors", "/console/admins", ".xc-factors")
}
