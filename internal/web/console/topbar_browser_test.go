package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// topBarProblems lists what is wrong with the console's top bar as laid
// out now: on a wide screen, the administrator's address and Sign out
// on the brand's row, side by side, inside the window and clear of the
// links, and no two links overlapping; on a phone, one row of brand and
// Menu. Nothing may stick out sideways.
const topBarProblems = `(() => {
	const out = [];
	const vis = el => el && el.getClientRects().length > 0 && getComputedStyle(el).display !== "none";
	const box = el => el.getBoundingClientRect();
	const mid = r => (r.top + r.bottom) / 2;
	const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
	const bar = document.querySelector(".topbar");
	const brand = box(bar.querySelector(".brand"));
	if (document.documentElement.scrollWidth > innerWidth) out.push("page wider than the window");
	const who = bar.querySelector(":scope > .who");
	const nav = bar.querySelector(":scope > .topnav");
	if (innerWidth > 640) {
		if (!vis(who) || !vis(nav)) return "wide: address or links hidden";
		const name = box(who.querySelector(".who-name")), btn = box(who.querySelector("button"));
		if (Math.abs(mid(name) - mid(btn)) > 4) out.push("address and Sign out on different rows");
		if (Math.abs(mid(btn) - mid(brand)) > 8) out.push("Sign out not on the brand's row");
		if (btn.right > innerWidth || box(who).left < brand.right) out.push("address or Sign out outside the bar");
		if (name.width < 40) out.push("address squeezed to " + name.width + " px");
		const links = [...nav.querySelectorAll("a")].map(box);
		for (const l of links) {
			if (overlap(l, box(who)) || overlap(l, brand)) { out.push("a link overlaps the address, Sign out or brand"); break; }
			if (l.right > innerWidth) { out.push("a link sticks out of the window"); break; }
		}
		for (let i = 1; i < links.length; i++) if (overlap(links[i - 1], links[i])) out.push("links " + i + " and " + (i + 1) + " overlap");
	} else {
		const menu = bar.querySelector(".topmenu");
		if (vis(who) || vis(nav) || !vis(menu)) out.push("phone: the wide bar is shown, or no Menu");
		else if (Math.abs(mid(box(menu)) - mid(brand)) > 8) out.push("phone: Menu not on the brand's row");
	}
	return out.join("; ");
})()`

// TestBrowserTopBarLayout: the console's top bar at 1280, 1024, 768 and
// 390 px, light and dark, with a long administrator address: at 1280 px
// the address and Sign out used to drop to a second row under the
// links' end. Screenshots: topbar-WIDTH-SCHEME.png.
func TestBrowserTopBarLayout(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	const email = "operations.on-call@provider-example.test"
	if _, err := ops.AddAdmin(ctx, admin.CLI(), email, adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv)
	b.signInTOTP(email, adminPassword)
	dir := shotDir(t)
	for _, width := range []int64{1280, 1024, 768, 390} {
		for _, scheme := range []string{"light", "dark"} {
			b.do(fmt.Sprintf("usage page at %d px %s", width, scheme),
				chromedp.EmulateViewport(width, 700),
				chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
					_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
						Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
					return err
				}),
				chromedp.Navigate(srv.Web+"/console/usage"),
				chromedp.WaitVisible(chromedp.CSS(".topbar .brand")),
			)
			if p := b.eval(topBarProblems); p != "" {
				t.Errorf("top bar at %d px, %s: %s", width, scheme, p)
			}
			png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("topbar-%d-%s.png", width, scheme)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
