package console

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/console/chart"
)

// dashboardDays is how many days the traffic chart covers.
const dashboardDays = 14

// dashboardDomains is how many domains the storage chart names: the
// largest; the rest are in the domains list.
const dashboardDomains = 12

type storageRow struct {
	Name     string // as stored (A-labels), for the link
	Display  string // as people read it (U-labels)
	Messages int64
	Size     string
}

type dashboardData struct {
	base
	Days           int
	Domains        int
	Captured, Sent string
	Queue          string
	// Each chart twice: drawn for a wide box and for a phone (the page's
	// stylesheet shows one), so that its text stays readable on both.
	Traffic, TrafficNarrow template.HTML
	Storage, StorageNarrow template.HTML
	DayRows                []store.DayCount
	StorageRows            []storageRow
	MoreDomains            bool
}

func (a *app) dashboard(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	dash, err := a.ops.Dashboard(r.Context(), p, dashboardDays)
	if err != nil {
		a.fail(w, r, p, "dashboard", err)
		return
	}
	a.render(w, r, p, http.StatusOK, "dashboard", "Dashboard", "/console/", dashboardView(dash))
}

// dashboardView turns the figures into the page: the charts, their
// figures as tables (the same numbers for screen readers and copying),
// and the totals.
func dashboardView(dash store.Dashboard) dashboardData {
	d := dashboardData{Days: len(dash.Days), Domains: len(dash.Domains), DayRows: dash.Days, Queue: chart.Count(float64(dash.Queue))}
	var cats []string
	var captured, sent []float64
	var totalC, totalS int64
	for _, day := range dash.Days {
		cats = append(cats, day.Day.UTC().Format("Jan 2"))
		captured = append(captured, float64(day.Captured))
		sent = append(sent, float64(day.Sent))
		totalC += day.Captured
		totalS += day.Sent
	}
	d.Captured, d.Sent = chart.Count(float64(totalC)), chart.Count(float64(totalS))
	traffic := chart.Chart{ID: "traffic", Title: "Messages captured and sent per day", XLabel: "Day (UTC)", YLabel: "Messages",
		Categories: cats, Series: []chart.Series{{Name: "Captured", Values: captured}, {Name: "Sent", Values: sent}}}
	d.Traffic = chart.Bars(traffic)
	traffic.ID, traffic.Width = "traffic-narrow", chart.NarrowWidth
	d.TrafficNarrow = chart.Bars(traffic)

	doms := slices.Clone(dash.Domains)
	slices.SortFunc(doms, func(x, y store.DomainUsage) int {
		return cmp.Or(cmp.Compare(y.Bytes, x.Bytes), cmp.Compare(x.Name, y.Name))
	})
	if len(doms) > dashboardDomains {
		doms, d.MoreDomains = doms[:dashboardDomains], true
	}
	var names []string
	var sizes []float64
	for _, u := range doms {
		display := store.DomainUnicode(u.Name)
		names = append(names, display)
		sizes = append(sizes, float64(u.Bytes))
		d.StorageRows = append(d.StorageRows, storageRow{Name: u.Name, Display: display, Messages: u.Messages, Size: chart.Bytes(float64(u.Bytes))})
	}
	storage := chart.Chart{ID: "storage", Title: "Storage per domain", XLabel: "Stored", Format: chart.Bytes,
		Categories: names, Series: []chart.Series{{Name: "Stored", Values: sizes}}}
	d.Storage = chart.HBars(storage)
	storage.ID, storage.Width = "storage-narrow", chart.NarrowWidth
	d.StorageNarrow = chart.HBars(storage)
	return d
}
