package console_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webtest"
)

// snapshotDays records the usage of each of these days (UTC) as the
// tree stands now, as the hourly worker would have on those days.
func snapshotDays(t *testing.T, st store.Store, days ...time.Time) {
	t.Helper()
	for _, d := range days {
		if err := st.SnapshotUsage(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// TestUsagePageScopedByTenancy: the usage page and its CSV show each
// administrator only their own customers, per day and per month; another
// reseller's customer named in the query is a 404 (audited); bad ranges
// are a 400 with the form.
func TestUsagePageScopedByTenancy(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	// c1 gets a second protected address, and one disabled (not counted).
	if _, err := tr.ops.AddAddress(ctx, admin.CLI(), "second@c1.test", "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ops.AddAddress(ctx, admin.CLI(), "off@c1.test", "", false); err != nil {
		t.Fatal(err)
	}
	today := utcDay(time.Now())
	// Two days of last month and today.
	lastMonth := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	snapshotDays(t, tr.srv.Store, lastMonth.AddDate(0, 0, 3), lastMonth.AddDate(0, 0, 4), today)
	rangeQ := fmt.Sprintf("from=%s&to=%s", lastMonth.Format(time.DateOnly), today.Format(time.DateOnly))

	prov := newBrowser(t, tr.srv)
	enrol(t, prov, tr.provider)
	pg := prov.get("/console/usage?" + rangeQ)
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Customer One") || !strings.Contains(pg.body, "Customer Two") {
		t.Fatalf("provider's usage page: %d, want both customers: %s", pg.status, pg.body)
	}
	if !strings.Contains(pg.body, `href="/console/usage"`) || !strings.Contains(pg.body, "<svg") {
		t.Error("the usage page lacks its nav link or its chart")
	}

	ra := newBrowser(t, tr.srv)
	ra.signIn(tr.ra1, adminPassword, "")
	pg = ra.get("/console/usage?" + rangeQ)
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Customer One") {
		t.Fatalf("reseller one's usage page: %d: %s", pg.status, pg.body)
	}
	if strings.Contains(pg.body, "Customer Two") {
		t.Error("reseller one's usage page shows reseller two's customer")
	}
	// Per day: 3 days × Customer One, 2 protected addresses each.
	file := ra.get("/console/usage.csv?period=day&" + rangeQ)
	rows := readCSV(t, file)
	if file.status != http.StatusOK || len(rows) != 4 || rows[0][0] != "day" {
		t.Fatalf("reseller one's daily CSV: %d %v", file.status, rows)
	}
	for _, r := range rows[1:] {
		if r[2] != "Customer One" || r[4] != "2" {
			t.Errorf("daily row %v, want Customer One with 2 protected addresses", r)
		}
	}
	// Per month: last month and this one.
	rows = readCSV(t, ra.get("/console/usage.csv?period=month&"+rangeQ))
	if len(rows) != 3 || rows[1][0] != lastMonth.Format("2006-01") || rows[2][0] != today.Format("2006-01") {
		t.Errorf("reseller one's monthly CSV: %v", rows)
	}
	// Another reseller's customer: 404, on the page and the CSV, named
	// nowhere, audited.
	for _, path := range []string{
		fmt.Sprintf("/console/usage?customer=%d&%s", tr.c2.ID, rangeQ),
		fmt.Sprintf("/console/usage.csv?customer=%d&%s", tr.c2.ID, rangeQ),
	} {
		pg := ra.get(path)
		if pg.status != http.StatusNotFound || strings.Contains(pg.body, "Customer Two") {
			t.Errorf("%s as reseller one: %d, want 404 naming nothing", path, pg.status)
		}
	}
	recs, err := tr.ops.SearchAudit(ctx, admin.CLI(), store.AuditQuery{Actor: tr.ra1, Action: "denied"})
	if err != nil || len(recs) < 2 {
		t.Errorf("%d denied records for reseller one (%v), want the two usage attempts", len(recs), err)
	}
	// The provider narrows to one customer.
	rows = readCSV(t, prov.get(fmt.Sprintf("/console/usage.csv?customer=%d&%s", tr.c2.ID, rangeQ)))
	if len(rows) != 4 || rows[1][2] != "Customer Two" || rows[1][4] != "1" {
		t.Errorf("provider's CSV of Customer Two: %v", rows)
	}

	ca := newBrowser(t, tr.srv)
	ca.signIn(tr.ca1, adminPassword, "")
	if pg := ca.get("/console/usage?" + rangeQ); pg.status != http.StatusOK || strings.Contains(pg.body, "Customer Two") ||
		!strings.Contains(pg.body, "Customer One") {
		t.Errorf("customer one's usage page: %d", pg.status)
	}
	if pg := ca.get(fmt.Sprintf("/console/usage?customer=%d", tr.c2.ID)); pg.status != http.StatusNotFound {
		t.Errorf("customer one asks for customer two's usage: %d, want 404", pg.status)
	}

	for _, q := range []string{"period=week", "from=yesterday", fmt.Sprintf("from=%s&to=%s", today.Format(time.DateOnly), lastMonth.Format(time.DateOnly)), "customer=x"} {
		if pg := ra.get("/console/usage?" + q); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, `id="ufrom"`) {
			t.Errorf("usage?%s: %d, want 400 with the form", q, pg.status)
		}
	}
	if pg := ra.get("/console/usage?from=2020-01-01&to=2026-01-01"); pg.status != http.StatusBadRequest {
		t.Errorf("six years at once: %d, want 400", pg.status)
	}

	// Up to six customers side by side (a column each, with a total);
	// more, one row per customer and day.
	if pg := prov.get("/console/usage?" + rangeQ); !strings.Contains(pg.body, `<th scope="col" class="num">Total</th>`) {
		t.Error("the provider's two customers are not side by side with a total")
	}
	for i := range 5 {
		c, err := tr.ops.AddCustomer(ctx, admin.CLI(), tr.r1.ID, fmt.Sprintf("Extra %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.ops.AddDomain(ctx, admin.CLI(), c.ID, fmt.Sprintf("extra%d.test", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	snapshotDays(t, tr.srv.Store, today)
	pg = prov.get("/console/usage?" + rangeQ)
	if pg.status != http.StatusOK || strings.Contains(pg.body, ">Total</th>") || !strings.Contains(pg.body, "Extra 4") ||
		!strings.Contains(pg.body, `<th scope="col" class="num">Protected addresses</th>`) {
		t.Errorf("seven customers: %d, want one row per customer and day", pg.status)
	}
}

func readCSV(t *testing.T, pg page) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(pg.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %q: %v", pg.body, err)
	}
	return rows
}

// TestBrowserUsage: a reseller administrator opens the usage page in
// Chromium, picks a range and per month, and downloads the CSV link;
// screenshots at 390 and 1280 px, light and dark.
func TestBrowserUsage(t *testing.T) {
	srv := browserServer(t)
	ctx := context.Background()
	ops := newOps(t, srv)
	cli := admin.CLI()
	r, err := ops.AddReseller(ctx, cli, "Northwind Partners")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ops.AddReseller(ctx, cli, "Elsewhere Ltd")
	if err != nil {
		t.Fatal(err)
	}
	today := utcDay(time.Now())
	st := srv.Store
	// Three customers of the reseller that grow over 40 days, one of
	// another reseller.
	for i, name := range []string{"Acme Logistics", "Blue Harbour Dental", "Contoso Legal"} {
		c, err := ops.AddCustomer(ctx, cli, r.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		dom := fmt.Sprintf("c%d.test", i)
		if _, err := ops.AddDomain(ctx, cli, c.ID, dom, 0); err != nil {
			t.Fatal(err)
		}
	}
	oc, _ := ops.AddCustomer(ctx, cli, other.ID, "Hidden Customer")
	ops.AddDomain(ctx, cli, oc.ID, "hidden.test", 0)
	ops.AddAddress(ctx, cli, "x@hidden.test", "", true)
	for day := 40; day >= 0; day-- {
		// A few more addresses every few days, per customer.
		for i := range 3 {
			n := (40-day)/(3+i) + i
			addr := fmt.Sprintf("u%d-%d@c%d.test", n, i, i)
			ops.AddAddress(ctx, cli, addr, "", true) // an existing one is refused: fine
		}
		snapshotDays(t, st, today.AddDate(0, 0, -day))
	}
	if _, err := ops.AddAdmin(ctx, cli, "billing@northwind.test", adminPassword, store.RoleReseller, r.ID); err != nil {
		t.Fatal(err)
	}

	b := newTab(t, srv)
	b.do("sign in",
		chromedp.Navigate(srv.Web+"/console/"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "billing@northwind.test"),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".xc-figures")),
	)
	b.do("usage page from the nav",
		chromedp.Click(chromedp.CSS(`a[href="/console/usage"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.xc-usage")),
	)
	body := b.text("main")
	for _, want := range []string{"Acme Logistics", "Blue Harbour Dental", "Contoso Legal", "Download CSV"} {
		if !strings.Contains(body, want) {
			t.Errorf("usage page lacks %q", want)
		}
	}
	if strings.Contains(body, "Hidden Customer") {
		t.Error("usage page shows another reseller's customer")
	}
	b.shoot("usage-days", "/console/usage", "table.xc-usage")

	// Per month over the last 12 months, through the form.
	from := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -11, 0)
	b.do("per month",
		chromedp.Navigate(srv.Web+"/console/usage"),
		chromedp.WaitVisible(chromedp.ID("uperiod")),
		chromedp.SetValue(chromedp.ID("ufrom"), from.Format(time.DateOnly)),
		chromedp.SetValue(chromedp.ID("uperiod"), "month"),
		webtest.Loads(chromedp.Click(chromedp.CSS(".xc-filters button[type=submit]"))),
		chromedp.WaitVisible(chromedp.CSS("table.xc-usage")),
	)
	if h := b.text("table.xc-usage thead"); !strings.Contains(h, "Month") {
		t.Errorf("per month: table header %q", h)
	}
	months := b.eval(`String(new Set([...document.querySelectorAll("table.xc-usage tbody tr > :first-child")].map(td => td.textContent)).size)`)
	if want := fmt.Sprint(1 + monthsBetween(today.AddDate(0, 0, -40), today)); months != want {
		t.Errorf("per month: %s months listed, want %s", months, want)
	}
	link := b.eval(`document.querySelector("a[download]").getAttribute("href")`)
	if !strings.Contains(link, "period=month") || !strings.Contains(link, "from="+from.Format(time.DateOnly)) {
		t.Errorf("CSV link %q does not carry the range", link)
	}
	// The link serves the CSV to this session (fetched in the page).
	csvText, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a[download]").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the CSV link: %v", err)
	}
	if !strings.HasPrefix(csvText, "month,customer_id,customer,reseller_id,protected_addresses") || strings.Contains(csvText, "Hidden") {
		t.Errorf("downloaded CSV: %q", csvText)
	}
	b.shoot("usage-months", "/console/usage?period=month&from="+from.Format(time.DateOnly)+"&to="+today.Format(time.DateOnly), "table.xc-usage")
}

func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}
