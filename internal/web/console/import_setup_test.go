package console_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/testserver"
)

// startImport is the import browser tests' one set-up: a console whose
// customer owns domain, a provider administrator signed in (with TOTP)
// in a tab, and file uploaded through the import page ("generate a
// password" ticked if asked); it returns once the job's progress shows.
func startImport(t *testing.T, customer, domain, file string, generate bool) (*testserver.Server, *tab) {
	t.Helper()
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	c, err := ops.AddCustomer(ctx, cli, 0, customer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddDomain(ctx, cli, c.ID, domain, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.AddAdmin(ctx, cli, "ops@provider.test", adminPassword, store.RoleProvider, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "import.csv")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, srv)
	b.signInTOTP("ops@provider.test", adminPassword)
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(srv.Web + "/console/import"),
		chromedp.WaitVisible(chromedp.ID("csv")),
		chromedp.SetUploadFiles(chromedp.ID("csv"), []string{path}),
	}
	if generate {
		steps = append(steps, chromedp.Click(chromedp.ID("generate")))
	}
	steps = append(steps,
		chromedp.Click(chromedp.CSS("form[action='/console/import'] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#progress progress")),
	)
	b.do("upload", steps...)
	return srv, b
}
