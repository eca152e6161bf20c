package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"testing"
	"time"
)

// exerciseReports drives the usage report and the dashboard once each,
// for TestEveryRouteAgainstOpenAPI.
func exerciseReports(t *testing.T, w *world) {
	if err := w.adm.SnapshotUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := w.c.as(w.provider)
	u := p.want(200, "GET", "/usage", nil)
	var names []string
	for _, it := range u["items"].([]any) {
		names = append(names, it.(map[string]any)["customer"].(string))
	}
	for _, c := range []string{"Customer One", "Customer Two", "Customer Three"} {
		if !slices.Contains(names, c) {
			t.Errorf("provider's usage today lacks %s: %v", c, u)
		}
	}
	d := p.want(200, "GET", "/dashboard?days=7", nil)
	if n := len(d["days"].([]any)); n != 7 {
		t.Errorf("dashboard of 7 days has %d", n)
	}
}

// TestReportsScoped: a customer admin's usage and dashboard show their
// customer only, a reseller's their customers only; CSV and months.
func TestReportsScoped(t *testing.T) {
	w := newWorld(t)
	if err := w.adm.SnapshotUsage(context.Background()); err != nil {
		t.Fatal(err)
	}
	c1, r1 := w.c.as(w.c1), w.c.as(w.r1)
	today := time.Now().UTC().Format(time.DateOnly)
	u := c1.want(200, "GET", "/usage", nil)["items"].([]any)
	if len(u) != 1 {
		t.Fatalf("c1's usage: %v", u)
	}
	row := u[0].(map[string]any)
	if row["customer"] != "Customer One" || row["period"] != today || row["protected_addresses"].(float64) != 1 {
		t.Errorf("c1's usage row: %v", row)
	}
	var names []string
	for _, it := range r1.want(200, "GET", "/usage?period=month", nil)["items"].([]any) {
		names = append(names, it.(map[string]any)["customer"].(string))
		if it.(map[string]any)["period"] != today[:7] {
			t.Errorf("monthly row: %v", it)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Customer One", "Customer Two"}) {
		t.Errorf("r1's usage shows %v", names)
	}
	// The CSV file.
	st, raw, _ := r1.send("GET", "/usage?format=csv", "", nil)
	if st != 200 {
		t.Fatalf("usage as CSV: %d %s", st, raw)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "day" || recs[0][4] != "protected_addresses" {
		t.Errorf("usage CSV (%v):\n%s", err, raw)
	}
	for _, rec := range recs[1:] {
		if rec[2] == "Customer Three" {
			t.Errorf("r1's CSV shows reseller two's customer: %v", rec)
		}
	}
	// An empty range is a report of nothing, not an error.
	if u := c1.want(200, "GET", "/usage?from=2020-01-01&to=2020-02-01", nil)["items"].([]any); len(u) != 0 {
		t.Errorf("usage of 2020: %v", u)
	}
	// Dashboard: storage of the own domains only.
	for _, tc := range []struct {
		who  *client
		want []string
	}{{c1, []string{"one.test"}}, {r1, []string{"one.test", "two.test"}}, {w.c.as(w.provider), []string{"example.test", "one.test", "three.test", "two.test"}}} {
		d := tc.who.want(200, "GET", "/dashboard", nil)
		var got []string
		for _, it := range d["domains"].([]any) {
			got = append(got, it.(map[string]any)["domain"].(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("dashboard domains %v, want %v", got, tc.want)
		}
		if n := len(d["days"].([]any)); n != 30 {
			t.Errorf("dashboard of the default 30 days has %d", n)
		}
	}
	// The queue figure counts the own domains' entries only.
	seedMessage(t, w, "bob@two.test", "dash-1@two.test")
	if q := c1.want(200, "GET", "/dashboard", nil)["queue"].(float64); q != 0 {
		t.Errorf("c1's dashboard counts %v queue entries of others", q)
	}
	if q := r1.want(200, "GET", "/dashboard", nil)["queue"].(float64); q != 1 {
		t.Errorf("r1's dashboard queue: %v, want 1", q)
	}
}

func TestReportsBadInput(t *testing.T) {
	w := newWorld(t)
	c1 := w.c.as(w.c1)
	for _, tc := range []struct{ path, field string }{
		{"/usage?from=yesterday", "from"},
		{"/usage?to=2026-13-01", "to"},
		{"/usage?from=2026-02-01&to=2026-01-01", "to"},
		{"/usage?from=2020-01-01&to=2026-01-01", "from"},
		{"/usage?period=week", "period"},
		{"/usage?format=xml", "format"},
		{"/dashboard?days=0", "days"},
		{"/dashboard?days=400", "days"},
		{"/dashboard?days=many", "days"},
	} {
		st, m := c1.do("GET", tc.path, nil)
		if st != 400 || m["field"] != tc.field {
			t.Errorf("GET %s: %d %v, want 400 naming %q", tc.path, st, m, tc.field)
		}
	}
}
