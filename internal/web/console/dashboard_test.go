package console

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

func bigDashboard(domains int) store.Dashboard {
	var d store.Dashboard
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i := range dashboardDays {
		d.Days = append(d.Days, store.DayCount{Day: day.AddDate(0, 0, i), Captured: int64(1000 + 37*i), Sent: int64(200 + 11*i)})
	}
	for i := range domains {
		d.Domains = append(d.Domains, store.DomainUsage{DomainID: int64(i + 1), Name: fmt.Sprintf("customer%04d.example", i),
			Messages: int64(i * 13), Bytes: int64(i) << 20})
	}
	d.Queue = 42
	return d
}

// TestDashboardViewNamesTheLargestDomains: with more domains than the
// chart has room for, it shows the largest, says so, and its figures
// table matches the chart.
func TestDashboardViewNamesTheLargestDomains(t *testing.T) {
	v := dashboardView(bigDashboard(1000))
	if !v.MoreDomains || len(v.StorageRows) != dashboardDomains || v.Domains != 1000 {
		t.Fatalf("%d rows of %d domains, more=%v", len(v.StorageRows), v.Domains, v.MoreDomains)
	}
	if v.StorageRows[0].Name != "customer0999.example" || v.StorageRows[0].Size != "999 MiB" {
		t.Errorf("largest domain first: got %+v", v.StorageRows[0])
	}
	if !strings.Contains(string(v.Storage), "customer0999.example: 999 MiB") {
		t.Error("the storage chart lacks the largest domain's tooltip")
	}
	if v.Captured != "17,367" || v.Queue != "42" {
		t.Errorf("totals: captured %s, queue %s", v.Captured, v.Queue)
	}
}

// BenchmarkDashboardView is the console's share of the dashboard's
// server time over 1,000 domains (the figures come from admin's
// counters): sorting the domains and drawing four charts.
func BenchmarkDashboardView(b *testing.B) {
	d := bigDashboard(1000)
	for b.Loop() {
		dashboardView(d)
	}
}
