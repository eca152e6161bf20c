package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/console/chart"
)

// The usage page is the billing report over admin.Usage: protected
// (enabled) addresses per customer per day, or per month (each
// customer's peak day of the month), for a range of days the
// administrator picks, with the same rows as a CSV download. admin.Usage
// confines it to the principal's customers; a customer named in the
// query that is not theirs is a 404.

// usageMaxChartBars is how many periods the totals chart draws as bars;
// a longer range is drawn as a line.
const usageMaxChartBars = 45

// usagePivotCustomers is how many customers the table shows side by side
// (a column each, one row per day or month); with more, it lists one
// row per customer and period.
const usagePivotCustomers = 6

// usageQuery is a usage request as the form and the links carry it. From
// and To are both included, as a person reads a range of days.
type usageQuery struct {
	Period   string // "day" or "month"
	From, To time.Time
	Customer int64 // 0: every customer of the principal
}

// values is q as URL query values (for the CSV link and the presets).
func (q usageQuery) values() url.Values {
	v := url.Values{"period": {q.Period}, "from": {q.From.Format(time.DateOnly)}, "to": {q.To.Format(time.DateOnly)}}
	if q.Customer != 0 {
		v.Set("customer", strconv.FormatInt(q.Customer, 10))
	}
	return v
}

type usageRow struct {
	Period     string
	CustomerID int64
	Customer   string
	Addresses  int
}

// usagePivotRow is one day or month of the side-by-side table: a count
// per column customer ("—" for a day without a count) and their total.
type usagePivotRow struct {
	Period string
	Counts []string
	Total  int
}

type usageColumn struct {
	ID   int64
	Name string
}

type usagePreset struct {
	Label, URL string
	Current    bool
}

type usageData struct {
	base
	Period, From, To string
	Customer         int64
	Customers        []store.Customer
	Presets          []usagePreset
	Rows             []usageRow
	// With few customers, Rows are shown side by side instead: a column
	// per customer.
	Columns   []usageColumn
	PivotRows []usagePivotRow
	// Totals per period over the customers shown, drawn twice (wide
	// and phone) like the dashboard's charts.
	Chart, ChartNarrow template.HTML
	Peak               int    // the largest total of a period
	PeakPeriod         string // when it was
	CSV                string
}

// today is the current UTC day at midnight.
func (a *app) today() time.Time {
	n := a.now().UTC()
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// usagePresets are the ranges an administrator asks for most: this and
// last month by day, and the last twelve months by month.
func (a *app) usagePresets(cur usageQuery) []usagePreset {
	today := a.today()
	this := monthStart(today)
	last := this.AddDate(0, -1, 0)
	qs := []struct {
		label string
		q     usageQuery
	}{
		{"Last 31 days", usageQuery{Period: "day", From: today.AddDate(0, 0, -30), To: today}},
		{"This month", usageQuery{Period: "day", From: this, To: today}},
		{"Last month", usageQuery{Period: "day", From: last, To: this.AddDate(0, 0, -1)}},
		{"Last 12 months", usageQuery{Period: "month", From: this.AddDate(0, -11, 0), To: today}},
	}
	out := make([]usagePreset, 0, len(qs))
	for _, p := range qs {
		p.q.Customer = cur.Customer
		out = append(out, usagePreset{Label: p.label, URL: "/console/usage?" + p.q.values().Encode(),
			Current: p.q.Period == cur.Period && p.q.From.Equal(cur.From) && p.q.To.Equal(cur.To)})
	}
	return out
}

// parseUsage reads the query; msg is what the form shows for a bad value.
func (a *app) parseUsage(r *http.Request) (q usageQuery, msg string) {
	v := r.URL.Query()
	today := a.today()
	q = usageQuery{Period: v.Get("period"), From: today.AddDate(0, 0, -30), To: today}
	switch q.Period {
	case "":
		q.Period = "day"
	case "day", "month":
	default:
		return q, "Choose per day or per month."
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(f.name)
		if s == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return q, "Give the first and last day as dates, like 2026-12-05."
		}
		*f.dst = d
	}
	if s := v.Get("customer"); s != "" {
		id, ok := parseID(s)
		if !ok {
			return q, "Choose a customer from the list."
		}
		q.Customer = id
	}
	if q.Period == "month" {
		// Months are counted whole: a peak of part of a month is not
		// the month's.
		q.From = monthStart(q.From)
		q.To = monthStart(q.To).AddDate(0, 1, -1)
	}
	if q.To.Before(q.From) {
		return q, "The last day is before the first."
	}
	return q, ""
}

// usageRows runs the report for q: rows oldest first, per day or month.
func (a *app) usageRows(r *http.Request, p admin.Principal, q usageQuery) ([]admin.UsageRow, error) {
	if q.Customer != 0 {
		// Another tenant's customer is not found (and audited).
		if _, err := a.ops.Customer(r.Context(), p, q.Customer); err != nil {
			return nil, err
		}
	}
	rows, err := a.ops.Usage(r.Context(), p, q.From, q.To.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	if q.Customer != 0 {
		kept := rows[:0]
		for _, u := range rows {
			if u.CustomerID == q.Customer {
				kept = append(kept, u)
			}
		}
		rows = kept
	}
	if q.Period == "month" {
		rows = admin.MonthlyUsage(rows)
	}
	return rows, nil
}

// chartLabel is a period as the chart's axis names it: short.
func chartLabel(t time.Time, period string) string {
	if period == "month" {
		return t.Format("Jan 2006")
	}
	return t.Format("Jan 2")
}

// pivotUsage lays rows (by period, then customer) out side by side: a
// column per customer, a row per period. It returns nothing when there
// are more customers than usagePivotCustomers.
func pivotUsage(rows []usageRow, periods []string) ([]usageColumn, []usagePivotRow) {
	col := map[int64]int{}
	var cols []usageColumn
	for _, r := range rows {
		if _, ok := col[r.CustomerID]; !ok {
			col[r.CustomerID] = len(cols)
			cols = append(cols, usageColumn{ID: r.CustomerID, Name: r.Customer})
		}
	}
	if len(cols) > usagePivotCustomers || len(cols) == 0 {
		return nil, nil
	}
	out := make([]usagePivotRow, len(periods))
	at := map[string]int{}
	for i, p := range periods {
		at[p] = i
		out[i] = usagePivotRow{Period: p, Counts: make([]string, len(cols))}
		for j := range cols {
			out[i].Counts[j] = "—"
		}
	}
	for _, r := range rows {
		pr := &out[at[r.Period]]
		pr.Counts[col[r.CustomerID]] = strconv.Itoa(r.Addresses)
		pr.Total += r.Addresses
	}
	return cols, out
}

func periodLabel(t time.Time, period string) string {
	if period == "month" {
		return t.Format("2006-01")
	}
	return t.Format(time.DateOnly)
}

func (a *app) usage(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	q, msg := a.parseUsage(r)
	d := usageData{Period: q.Period, From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Customer: q.Customer}
	cs, err := a.ops.Customers(r.Context(), p)
	if err != nil {
		a.fail(w, r, p, "usage customers", err)
		return
	}
	d.Customers = cs
	if msg != "" {
		d.Error = msg
		a.render(w, r, p, http.StatusBadRequest, "usage", "Usage", "/console/usage", d)
		return
	}
	rows, err := a.usageRows(r, p, q)
	if err != nil {
		a.failForm(w, r, p, "usage", err, func(msg string) {
			d.Error = msg
			a.render(w, r, p, http.StatusBadRequest, "usage", "Usage", "/console/usage", d)
		})
		return
	}
	d.Presets = a.usagePresets(q)
	d.CSV = "/console/usage.csv?" + q.values().Encode()
	var cats, periods []string
	var totals []float64
	for _, u := range rows {
		label := periodLabel(u.Day, q.Period)
		d.Rows = append(d.Rows, usageRow{Period: label, CustomerID: u.CustomerID, Customer: u.CustomerName, Addresses: u.Addresses})
		if len(periods) == 0 || periods[len(periods)-1] != label {
			periods, totals = append(periods, label), append(totals, 0)
			cats = append(cats, chartLabel(u.Day, q.Period))
		}
		totals[len(totals)-1] += float64(u.Addresses)
		if t := int(totals[len(totals)-1]); t > d.Peak {
			d.Peak, d.PeakPeriod = t, label
		}
	}
	d.Columns, d.PivotRows = pivotUsage(d.Rows, periods)
	if len(cats) > 0 {
		title := "Protected addresses per day"
		if q.Period == "month" {
			title = "Protected addresses per month (each customer's peak)"
		}
		c := chart.Chart{ID: "usage", Title: title, XLabel: map[string]string{"day": "Day (UTC)", "month": "Month"}[q.Period],
			YLabel: "Addresses", Categories: cats, Series: []chart.Series{{Name: "Protected addresses", Values: totals}}}
		draw := chart.Bars
		if len(cats) > usageMaxChartBars {
			draw = chart.Line
		}
		d.Chart = draw(c)
		c.ID, c.Width = "usage-narrow", chart.NarrowWidth
		d.ChartNarrow = draw(c)
	}
	a.render(w, r, p, http.StatusOK, "usage", "Usage", "/console/usage", d)
}

// usageCSV is the page's rows as the CSV file the API also serves
// (admin.WriteUsageCSV).
func (a *app) usageCSV(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	q, msg := a.parseUsage(r)
	if msg != "" {
		web400(w, r, msg)
		return
	}
	rows, err := a.usageRows(r, p, q)
	if err != nil {
		a.fail(w, r, p, "usage CSV", err)
		return
	}
	csvHeaders(w, "usage-"+q.From.Format(time.DateOnly)+"-"+q.To.Format(time.DateOnly)+".csv")
	if err := admin.WriteUsageCSV(w, rows, q.Period == "month"); err != nil {
		a.log.Warn("console: write usage CSV", "admin", p.String(), "err", err)
	}
}
