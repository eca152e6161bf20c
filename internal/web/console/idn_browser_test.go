package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserDomainUnicodeAndDelimiter: an internationalised domain and
// its addresses are shown in Unicode with the A-label beside them (the
// list, the domain page, the address list and page; they were shown
// raw, xn--bcher-kva.test); the domain page, reached by either form of
// the name, shows and sets the sub-address delimiter, refuses one it
// cannot take with the field's words and keeps what was typed.
// Screenshots: idn-domains, idn-domain, idn-addresses, idn-address.
func TestBrowserDomainUnicodeAndDelimiter(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	const alabel, ulabel = "xn--bcher-kva.test", "bücher.test"
	if _, err := ops.AddDomain(ctx, cli, store.DefaultCustomerID, ulabel, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAddress(ctx, cli, "anna.lena.schmidt@"+ulabel, "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)

	b.do("domains", chromedp.Navigate(srv.Web+"/console/domains"), chromedp.WaitVisible(chromedp.CSS("table.table")))
	if row := b.text("table.table tbody"); !strings.Contains(row, ulabel) || !strings.Contains(row, alabel) {
		t.Errorf("domain list shows %q, want %s with %s beside it", row, ulabel, alabel)
	}
	if row := b.text("table.table tbody"); strings.Count(row, "example.test") != 1 {
		t.Errorf("an ASCII domain is shown once: %q", row)
	}
	b.shoot("idn-domains", "/console/domains", "table.table")

	// The page by its Unicode name, as an administrator would type it.
	page := "/console/domains/" + url.PathEscape(ulabel)
	b.do("domain page", chromedp.Navigate(srv.Web+page), chromedp.WaitVisible(chromedp.ID("delimiter")))
	if h := b.text("h1"); !strings.Contains(h, ulabel) || !strings.Contains(h, alabel) {
		t.Errorf("domain page heading %q", h)
	}
	if v := b.eval(`document.getElementById("delimiter").value`); v != "+" {
		t.Errorf("delimiter field %q, want the default +", v)
	}
	save := func(value string) {
		t.Helper()
		b.eval(`document.getElementById("delimiter").value = ` + jsString(value) + `; "ok"`)
		b.do("save "+value, webtest.Loads(chromedp.Click(chromedp.CSS(".card form button[type=submit]"))))
	}
	delimiter := func() string {
		t.Helper()
		d, err := srv.Store.Domain(ctx, alabel)
		if err != nil {
			t.Fatal(err)
		}
		return d.RecipientDelimiter
	}
	save("+ -")
	b.waitFlash("Settings saved.")
	if got := delimiter(); got != "+-" {
		t.Errorf("saved delimiter %q, want +-", got)
	}
	if v := b.eval(`document.getElementById("delimiter").value`); v != "+-" {
		t.Errorf("delimiter field after saving %q", v)
	}
	save(".")
	if msg := b.text(".alert-error"); !strings.Contains(msg, `"."`) || !strings.Contains(msg, "+ - _ =") {
		t.Errorf("a bad delimiter says %q", msg)
	}
	if v := b.eval(`document.getElementById("delimiter").value`); v != "." {
		t.Errorf("the refused form lost what was typed: %q", v)
	}
	if got := delimiter(); got != "+-" {
		t.Errorf("a refused delimiter was saved: %q", got)
	}
	save("")
	b.waitFlash("Settings saved.")
	if got := delimiter(); got != "" {
		t.Errorf("delimiter %q, want none", got)
	}
	save("+")
	b.waitFlash("Settings saved.")
	// A new DKIM key waits for its record, and the page says so.
	b.do("generate DKIM key", webtest.Loads(chromedp.Click(chromedp.CSS(`form[action$="/dkim"] button[type=submit]`))))
	b.waitFlash("New DKIM key made")
	if txt := b.text(".xc-dkim .xc-dkim-h"); !strings.Contains(txt, "Waiting for its record") {
		t.Errorf("the DKIM card after generating says %q", txt)
	}
	b.shoot("idn-domain", "/console/domains/"+alabel, "#delimiter")

	b.do("addresses", chromedp.Navigate(srv.Web+"/console/addresses?domain="+alabel), chromedp.WaitVisible(chromedp.CSS("table.table")))
	if row := b.text("table.table tbody"); !strings.Contains(row, "anna.lena.schmidt@"+ulabel) || !strings.Contains(row, "anna.lena.schmidt@"+alabel) {
		t.Errorf("address list shows %q", row)
	}
	if opt := b.eval(`document.querySelector("#fdomain option:checked").textContent`); opt != ulabel+" ("+alabel+")" {
		t.Errorf("domain filter shows %q", opt)
	}
	b.shoot("idn-addresses", "/console/addresses?domain="+alabel, "table.table")
	b.shoot("idn-address", "/console/addresses/anna.lena.schmidt@"+alabel, "h1")
	if h := b.text("h1"); !strings.Contains(h, "anna.lena.schmidt@"+ulabel) || !strings.Contains(h, alabel) {
		t.Errorf("address page heading %q", h)
	}
}
