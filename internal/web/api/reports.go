package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// Reports: the usage report for billing and the dashboard's figures.
func (a *API) registerReports() {
	a.handle("GET /usage", a.usage, "from", "to", "period", "format")
	a.handle("GET /dashboard", a.dashboard, "days")
}

type usageJSON struct {
	Period     string `json:"period"` // 2026-12-05, or 2026-12 for a month
	CustomerID int64  `json:"customer_id"`
	Customer   string `json:"customer"`
	ResellerID int64  `json:"reseller_id"`
	Addresses  int    `json:"protected_addresses"`
}

func queryDate(r *http.Request, name string, def time.Time) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, bad(name, "must be a date like 2026-12-05")
	}
	return t, nil
}

// usage answers the usage report of the token's customers for the days
// in [from, to) (default the last 31 days, today included), per day or
// per month (each customer's peak), as JSON or, with format=csv, as the
// CSV file the console offers. A report is bounded (two years of the
// subtree's customers) and not paged.
func (a *API) usage(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	q := r.URL.Query()
	monthly := false
	switch q.Get("period") {
	case "", "day":
	case "month":
		monthly = true
	default:
		return bad("period", "must be day or month")
	}
	csv := false
	switch q.Get("format") {
	case "", "json":
	case "csv":
		csv = true
	default:
		return bad("format", "must be json or csv")
	}
	now := time.Now().UTC()
	tomorrow := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	to, err := queryDate(r, "to", tomorrow)
	if err != nil {
		return err
	}
	from, err := queryDate(r, "from", to.AddDate(0, 0, -31))
	if err != nil {
		return err
	}
	rows, err := a.adm.Usage(r.Context(), p, from, to)
	if err != nil {
		return err
	}
	if monthly {
		rows = admin.MonthlyUsage(rows)
	}
	if csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="usage.csv"`)
		return admin.WriteUsageCSV(w, rows, monthly)
	}
	out := struct {
		Items []usageJSON `json:"items"`
	}{Items: []usageJSON{}}
	for _, u := range rows {
		period := u.Day.Format(time.DateOnly)
		if monthly {
			period = u.Day.Format("2006-01")
		}
		out.Items = append(out.Items, usageJSON{Period: period, CustomerID: u.CustomerID, Customer: u.CustomerName,
			ResellerID: u.ResellerID, Addresses: u.Addresses})
	}
	return writeJSON(w, http.StatusOK, out)
}

type dayJSON struct {
	Day      string `json:"day"`
	Captured int64  `json:"captured"`
	Sent     int64  `json:"sent"`
}

type storageJSON struct {
	DomainID int64  `json:"domain_id"`
	Domain   string `json:"domain"`
	Messages int64  `json:"messages"`
	Bytes    int64  `json:"bytes"`
}

type dashboardJSON struct {
	Days    []dayJSON     `json:"days"`
	Domains []storageJSON `json:"domains"`
	Queue   int64         `json:"queue"`
}

func dashboardOf(d store.Dashboard) dashboardJSON {
	out := dashboardJSON{Days: []dayJSON{}, Domains: []storageJSON{}, Queue: d.Queue}
	for _, c := range d.Days {
		out.Days = append(out.Days, dayJSON{Day: c.Day.UTC().Format(time.DateOnly), Captured: c.Captured, Sent: c.Sent})
	}
	for _, u := range d.Domains {
		out.Domains = append(out.Domains, storageJSON{DomainID: u.DomainID, Domain: u.Name, Messages: u.Messages, Bytes: u.Bytes})
	}
	return out
}

func (a *API) dashboard(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	days := 0
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return bad("days", "must be a number from 1 to 366")
		}
		days = n
	}
	d, err := a.adm.Dashboard(r.Context(), p, days)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, dashboardOf(d))
}
