package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// shootHere saves the page as it is now (a form's answer, which a GET
// cannot show again) in the four looks: 390 and 1280 px wide, light and
// dark; nothing may stick out sideways at 390 px.
func (b *tab) shootHere(name string) {
	b.t.Helper()
	dir := shotDir(b.t)
	for _, width := range []int64{390, 1280} {
		for _, scheme := range []string{"light", "dark"} {
			b.do("emulate "+scheme,
				chromedp.EmulateViewport(width, 900),
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
					return err
				}),
			)
			if over := b.eval("String(document.documentElement.scrollWidth - window.innerWidth)"); width == 390 && over != "0" {
				b.t.Errorf("%s at 390 px: the page is %s px wider than the screen", name, over)
			}
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				b.t.Fatalf("screenshot %s: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d-%s.png", name, width, scheme)), png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	b.do("reset look", chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		return err
	}))
}

// TestBrowserTOTPSelfReset: in Chromium, a provider administrator opens
// their account page from the top bar, gives a code of the current key,
// scans (reads) the new key's QR code page, confirms with the new key's
// code, and signs in again with the new key.
func TestBrowserTOTPSelfReset(t *testing.T) {
	srv := browserServer(t)
	ops := newOps(t, srv)
	ctx := context.Background()
	const email = "ops@provider.test"
	if _, err := ops.AddAdmin(ctx, admin.CLI(), email, adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv)
	oldKey := b.signInTOTP(email, adminPassword)
	b.shoot("account", "/console/account", "#curcode")

	b.do("dashboard", chromedp.Navigate(srv.Web+"/console/"), chromedp.WaitVisible(chromedp.CSS(".xc-figures")))
	b.eval(`(document.querySelector("a[href='/console/account']").click(), "")`)
	b.do("account page from the top bar", chromedp.WaitVisible(chromedp.ID("curcode")))
	// The code that signed in is used up: the next step's.
	cur, _ := totp.GenerateCode(oldKey, time.Now().Add(30*time.Second))
	b.do("current code",
		chromedp.SendKeys(chromedp.ID("curcode"), cur),
		chromedp.Click(chromedp.CSS("form[action='/console/account/totp'] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("svg.xc-qrcode")),
	)
	newKey := strings.TrimSpace(b.text("code.xc-secret"))
	if newKey == "" || newKey == oldKey {
		t.Fatalf("new key %q (old %q)", newKey, oldKey)
	}
	b.shootHere("account-totp-new-key")

	code, _ := totp.GenerateCode(newKey, time.Now())
	b.do("new key's code",
		chromedp.SendKeys(chromedp.ID("newcode"), code),
		chromedp.Click(chromedp.CSS("form[action='/console/account/totp/confirm'] button[type=submit]")),
	)
	b.waitFlash("now uses the new key")
	b.shootHere("account-totp-changed")

	// Sign out, and in with the new key.
	b.eval(`(document.querySelector("form[action='/console/logout'] button").click(), "")`)
	b.do("sign in again",
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	next, _ := totp.GenerateCode(newKey, time.Now().Add(30*time.Second))
	b.do("sign in with the new key",
		chromedp.SendKeys(chromedp.ID("code"), next),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)
}
