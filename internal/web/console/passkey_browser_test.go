package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// TestBrowserPasskeys drives passkeys in Chromium with its virtual
// authenticator (CDP WebAuthn domain: CTAP2, internal transport, resident
// keys, user verification): a provider administrator signs in with TOTP,
// adds a named passkey on their account page, signs out, signs in with
// the passkey instead of a code, removes it, and is then asked for the
// TOTP code again. A captured assertion posted again for a new sign-in
// is refused.
//
// WebAuthn needs a host name (an IP address cannot be a relying party
// id), so the pages are opened at https://localhost, the service's host
// name in tests.
func TestBrowserPasskeys(t *testing.T) {
	// On a test clock: each TOTP code is of the step after the last one
	// accepted, and the test moves the clock there instead of waiting
	// up to 30 s for it.
	clk := clocktest.New(time.Now().Truncate(time.Second))
	srv := testserver.Start(t, testserver.Options{Data: freshData(t), Configure: webtest.ServerTLS(t), Clock: clk})
	base := strings.Replace(srv.Web, "https://127.0.0.1:", "https://localhost:", 1)
	ops := newOps(t, srv)
	ctx := context.Background()
	const email = "ops@provider.test"
	a, err := ops.AddAdmin(ctx, admin.CLI(), email, adminPassword, store.RoleProvider, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A longer deadline than newTab's: this test signs in five times,
	// and the machine is shared.
	wt := webtest.NewTab(t)
	tctx, cancel := context.WithTimeout(wt.Ctx, 10*time.Minute)
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: tctx, srv: srv}
	var authID webauthn.AuthenticatorID
	b.do("virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: "ctap2", Ctap2version: "ctap2_1", Transport: "internal",
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		authID = res.AuthenticatorID
		return err
	}))

	// First sign-in: password, then TOTP enrolment.
	b.do("sign-in page",
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("svg.xc-qrcode")),
	)
	key := strings.TrimSpace(b.text("code.xc-secret"))
	// Each code must be of a later step than the last one accepted
	// (replay guard) and within a step of the service's clock: the clock
	// moves to the next step for each.
	nextCode := func() string {
		t.Helper()
		clk.Advance(30 * time.Second)
		c, err := totp.GenerateCode(key, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	code, _ := totp.GenerateCode(key, clk.Now())
	b.do("enrolment code",
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)

	// Add a passkey on the account page.
	b.do("add a passkey",
		chromedp.Navigate(base+"/console/account"),
		chromedp.WaitVisible(chromedp.ID("pkname")),
		chromedp.SendKeys(chromedp.ID("pkname"), "Test laptop"),
		chromedp.Click(chromedp.CSS("#passkey-add button[type=submit]")),
	)
	b.waitFlash("Passkey “Test laptop” added")
	if rows := b.text("#passkeys tbody"); !strings.Contains(rows, "Test laptop") {
		t.Fatalf("passkeys listed: %q", rows)
	}
	b.shootHere("account-passkeys")
	var stored []*webauthn.Credential
	b.do("authenticator's credentials", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authID})
		stored = res.Credentials
		return err
	}))
	if len(stored) != 1 || !stored[0].IsResidentCredential || stored[0].RpID != "localhost" {
		t.Fatalf("virtual authenticator holds %+v, want one resident credential for localhost", stored)
	}

	// Sign out, and in with the passkey instead of a code.
	signOut := func() {
		t.Helper()
		b.eval(`(document.querySelector("form[action='/console/logout'] button").click(), "")`)
		b.do("signed out", chromedp.WaitVisible(chromedp.ID("email")))
	}
	password := func() {
		t.Helper()
		b.do("password",
			chromedp.Navigate(base+"/console/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), adminPassword),
			chromedp.Click(chromedp.CSS("form button[type=submit]")),
			chromedp.WaitVisible(chromedp.ID("code")),
		)
	}
	signOut()
	password()
	b.do("passkey offered", chromedp.WaitVisible(chromedp.ID("passkey-use")))
	b.shootHere("signin-passkey")
	// Keep what the page posts, to replay it below.
	b.eval(`(() => {
		const orig = window.fetch;
		window.fetch = (url, opts) => {
			if (url === "/console/login/passkey") sessionStorage.setItem("assertion", opts.body);
			return orig(url, opts);
		};
		return "";
	})()`)
	b.do("sign in with the passkey",
		chromedp.Click(chromedp.ID("passkey-use")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)
	assertion := b.eval(`sessionStorage.getItem("assertion") || ""`)
	if !strings.Contains(assertion, `"authenticatorData"`) {
		t.Fatalf("the page posted %q, want an assertion", assertion)
	}
	pks, err := srv.Store.Passkeys(ctx, a.ID)
	if err != nil || len(pks) != 1 || pks[0].LastUsed.IsZero() || pks[0].SignCount == 0 {
		t.Fatalf("passkey after sign-in: %+v, %v; want used, with a sign counter", pks, err)
	}

	// The same assertion, posted for a new sign-in, is refused: it
	// answers another challenge.
	signOut()
	password()
	b.do("passkey offered again", chromedp.WaitVisible(chromedp.ID("passkey-use")))
	b.eval(`sessionStorage.setItem("assertion", ` + jsString(assertion) + `), ""`)
	status := b.evalAsync(`fetch("/console/login/passkey/begin", {method: "POST", body: "{}", headers: {"Content-Type": "application/json"}})
		.then(() => fetch("/console/login/passkey", {method: "POST", body: sessionStorage.getItem("assertion"), headers: {"Content-Type": "application/json"}}))
		.then(r => String(r.status))`)
	if status != "401" {
		t.Fatalf("replayed assertion: %s, want 401", status)
	}
	b.do("sign in with a code",
		chromedp.SendKeys(chromedp.ID("code"), nextCode()),
		chromedp.Click(chromedp.CSS("form[action='/console/login/totp'] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)

	// Remove the passkey: sign-in asks for the code only.
	b.do("remove the passkey",
		chromedp.Navigate(base+"/console/account"),
		chromedp.WaitVisible(chromedp.CSS("#passkeys form button")),
		chromedp.Click(chromedp.CSS("#passkeys form button")),
	)
	b.waitFlash("Passkey removed")
	if pks, _ := srv.Store.Passkeys(ctx, a.ID); len(pks) != 0 {
		t.Fatalf("%d passkeys after removal", len(pks))
	}
	signOut()
	password()
	if has := b.eval(`String(document.getElementById("passkey-use") !== null)`); has != "false" {
		t.Fatal("the second step still offers a passkey after its removal")
	}
	b.do("sign in with a code after removal",
		chromedp.SendKeys(chromedp.ID("code"), nextCode()),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)

	// The audit log has both changes.
	recs, err := srv.Store.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: admin.OpPasskey})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, r := range recs {
		details = append(details, r.Detail)
	}
	if all := strings.Join(details, "; "); !strings.Contains(all, "passkey added: Test laptop") || !strings.Contains(all, "passkey removed: Test laptop") {
		t.Fatalf("audit of passkeys: %q", all)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// evalAsync evaluates a promise and returns its string result.
func (b *tab) evalAsync(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}
