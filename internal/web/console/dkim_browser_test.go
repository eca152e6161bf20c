package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// dkimCard is the domain page's DKIM keys in short form, one line a
// key: its state's words and its selector.
const dkimCard = `[...document.querySelectorAll(".xc-dkim")].map(k =>
	k.querySelector(".badge").textContent + " " + k.dataset.selector).join("\n")`

// overflowingRecords names the record boxes whose text sticks out of
// the box or whose box sticks out of its card.
const overflowingRecords = `[...document.querySelectorAll(".xc-record")].filter(c => {
	const card = c.closest(".card").getBoundingClientRect(), r = c.getBoundingClientRect();
	return c.scrollWidth > c.clientWidth || r.right > card.right + 0.5;
}).map(c => c.textContent.slice(0, 40)).join(", ")`

// TestBrowserDKIMRotation walks a domain's DKIM card through a key
// rotation: no key; a key waiting for its record; the key signing; a
// new key waiting beside it, each with its own record to keep
// published; then the old key retired, with when its record may go
// ("now" once that passed). The card showed one record only, the
// pending key's during a rotation, and said nothing of the signing
// key's record or when a retired one may be removed (issue 13, DKIM).
// Screenshots: dkim-rotation, dkim-retired.
func TestBrowserDKIMRotation(t *testing.T) {
	clk := clocktest.New(time.Now().Truncate(time.Second))
	srv := testserver.Start(t, testserver.Options{Data: freshData(t), Configure: webtest.ServerTLS(t), Clock: clk})
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	c, err := ops.AddCustomer(ctx, cli, 0, "Rotate Ltd")
	if err != nil {
		t.Fatal(err)
	}
	const domain = "rotate.test"
	if _, err := ops.AddDomain(ctx, cli, c.ID, domain, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAdmin(ctx, cli, "it@rotate.test", adminPassword, store.RoleCustomer, c.ID); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv)
	b.signIn("it@rotate.test", adminPassword)

	page := "/console/domains/" + domain
	open := func() {
		t.Helper()
		b.do("domain page", chromedp.Navigate(srv.Web+page), chromedp.WaitVisible(chromedp.CSS(".xc-dkim-new button")))
	}
	generate := func(algorithm string) {
		t.Helper()
		b.eval(`document.getElementById("alg").value = ` + jsString(algorithm) + `; "ok"`)
		b.do("generate a "+algorithm+" key", webtest.Loads(chromedp.Click(chromedp.CSS(".xc-dkim-new button[type=submit]"))))
		b.waitFlash("New DKIM key made")
	}
	// activate makes the pending key sign, as the queue worker does once
	// it sees the key's record in DNS.
	activate := func() {
		t.Helper()
		cs, err := dkim.ActivatePending(ctx, srv.Store, nil, domain, true, clk.Now())
		if err != nil || len(cs) != 1 || !cs[0].Activated {
			t.Fatalf("activate the pending key: %+v, %v", cs, err)
		}
	}
	keys := func() []admin.DKIM {
		t.Helper()
		ks, err := ops.DKIMKeys(ctx, cli, domain)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	card := func(want string) {
		t.Helper()
		if got := b.eval(dkimCard); got != want {
			t.Errorf("the DKIM card lists\n%s\nwant\n%s", got, want)
		}
	}
	say := func(sel, want string) {
		t.Helper()
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("%s says %q, want %q in it", sel, got, want)
		}
	}
	// value is the record value the card shows for a key.
	value := func(selector string) string {
		t.Helper()
		return b.eval(`[...document.querySelectorAll('.xc-dkim[data-selector="' + ` + jsString(selector) + ` + '"] dd code.xc-record')].map(c => c.textContent).join(" | ")`)
	}

	// No key: mail goes out unsigned.
	open()
	card("")
	say("#dkim-h ~ p", "No key yet")
	say(".xc-dkim-new .hint", "starts signing once its record is seen in DNS")

	// The first key waits for its record.
	generate("rsa")
	ks := keys()
	if len(ks) != 1 || ks[0].State != admin.DKIMPending {
		t.Fatalf("after generating: %+v", ks)
	}
	first := ks[0]
	card("Waiting for its record " + first.Selector)
	say(".xc-dkim .xc-dkim-what", "Publish this record")
	if got, want := value(first.Selector), first.RecordName+" | "+first.Record; got != want {
		t.Errorf("the waiting key's record: %q, want %q", got, want)
	}

	// Seen in DNS: it signs.
	activate()
	open()
	card("Signing now " + first.Selector)
	say(".xc-dkim .xc-dkim-what", "keep this record published")
	say(".xc-dkim-new .hint", "Key "+first.Selector+" keeps signing until the new key's record is seen in DNS")

	// A rotation: the new key waits beside the signing one, and both
	// records are shown, each to stay published.
	generate("ed25519")
	ks = keys()
	if len(ks) != 2 || ks[1].State != admin.DKIMPending || ks[1].Algorithm != "ed25519" {
		t.Fatalf("during the rotation: %+v", ks)
	}
	second := ks[1]
	card("Signing now " + first.Selector + "\nWaiting for its record " + second.Selector)
	if got, want := value(first.Selector), first.RecordName+" | "+first.Record; got != want {
		t.Errorf("during the rotation the signing key's record is %q, want %q", got, want)
	}
	if got, want := value(second.Selector), second.RecordName+" | "+second.Record; got != want {
		t.Errorf("the new key's record: %q, want %q", got, want)
	}
	say(`.xc-dkim[data-state=pending] .xc-dkim-what`, "key "+first.Selector+" signs until then")
	say(`.xc-dkim[data-state=pending] .xc-dkim-what`, "checked every 5 minutes")
	say(`.xc-dkim[data-state=pending] dl`, "Ed25519")
	say(`.xc-dkim[data-state=signing] dl`, "RSA")
	say(".xc-dkim-new .hint", "It replaces key "+second.Selector)
	b.shoot("dkim-rotation", page, ".xc-dkim-new button")
	b.do("phone width", chromedp.EmulateViewport(390, 900), chromedp.Navigate(srv.Web+page), chromedp.WaitVisible(chromedp.CSS(".xc-dkim-new button")))
	if over := b.eval(overflowingRecords); over != "" {
		t.Errorf("at 390 px these records stick out of their box: %s", over)
	}
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))

	// Activated: the old key is retired, and its record may go a week
	// later.
	retired := clk.Now()
	activate()
	open()
	card("Signing now " + second.Selector + "\nRetired " + first.Selector)
	removable := retired.Add(dkim.RetiredRecordKeep).UTC().Format("2006-01-02 15:04")
	say(`.xc-dkim[data-state=retired] .xc-dkim-what`, "may be removed after "+removable+" UTC (in 7 days)")
	if got, want := value(first.Selector), first.RecordName; got != want {
		t.Errorf("the retired key shows %q, want its record's name alone", got)
	}
	b.shoot("dkim-retired", page, ".xc-dkim-new button")

	// A week and a day later its record may be removed now.
	clk.Advance(dkim.RetiredRecordKeep + 24*time.Hour)
	open()
	say(`.xc-dkim[data-state=retired] .xc-dkim-what`, "Its record may be removed now.")
}
