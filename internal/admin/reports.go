package admin

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// SearchAudit searches the audit log records p sees, newest first: a
// reseller admin those placed under their reseller, a customer admin
// those under their customer. q.BeforeID is the cursor (the last id of
// the previous page).
func (s *Service) SearchAudit(ctx context.Context, p Principal, q store.AuditQuery) ([]store.AuditRecord, error) {
	if err := s.allow(ctx, p, OpAuditSearch); err != nil {
		return nil, err
	}
	if q.Limit > 1000 {
		return nil, fieldErr("limit", "at most 1000")
	}
	return s.st.SearchAudit(ctx, p.Scope(), q)
}

// Dashboard returns the figures of p's domains for the last days days
// (today included; default 30, at most 366): messages captured and sent
// per day, storage per domain and the queue size. It reads counters
// only, so it stays fast with thousands of domains.
func (s *Service) Dashboard(ctx context.Context, p Principal, days int) (store.Dashboard, error) {
	if err := s.allow(ctx, p, OpDashboard); err != nil {
		return store.Dashboard{}, err
	}
	if days <= 0 {
		days = 30
	}
	if days > 366 {
		return store.Dashboard{}, fieldErr("days", "at most 366")
	}
	now := s.now().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	return s.st.Dashboard(ctx, p.Scope(), since)
}

// UsageRow is one line of the usage report: a customer's protected
// (enabled) addresses on a day, or in a month (Day is then the first of
// the month and Addresses the month's peak: what billing per protected
// address counts).
type UsageRow struct {
	Day          time.Time
	CustomerID   int64
	CustomerName string
	ResellerID   int64
	Addresses    int
}

// Usage returns the daily usage rows of p's customers for the days in
// [from, to), by day then customer. Days come from the snapshots the
// usage worker writes (RunUsageSnapshots).
func (s *Service) Usage(ctx context.Context, p Principal, from, to time.Time) ([]UsageRow, error) {
	if err := s.allow(ctx, p, OpUsage); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, fieldErr("to", "must be after from")
	}
	if to.Sub(from) > 2*366*24*time.Hour {
		return nil, fieldErr("from", "at most two years at a time")
	}
	days, err := s.st.Usage(ctx, p.Scope(), from, to)
	if err != nil {
		return nil, err
	}
	cs, err := s.st.Customers(ctx, p.Scope())
	if err != nil {
		return nil, err
	}
	byID := map[int64]store.Customer{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	out := make([]UsageRow, 0, len(days))
	for _, d := range days {
		c, ok := byID[d.CustomerID]
		if !ok {
			continue // removed since
		}
		out = append(out, UsageRow{Day: d.Day, CustomerID: c.ID, CustomerName: c.Name, ResellerID: c.ResellerID, Addresses: d.Addresses})
	}
	return out, nil
}

// MonthlyUsage folds daily rows into months: per customer and month, the
// peak of its daily counts.
func MonthlyUsage(days []UsageRow) []UsageRow {
	type key struct {
		month    time.Time
		customer int64
	}
	idx := map[key]int{}
	var out []UsageRow
	for _, d := range days {
		m := time.Date(d.Day.Year(), d.Day.Month(), 1, 0, 0, 0, 0, time.UTC)
		k := key{m, d.CustomerID}
		i, ok := idx[k]
		if !ok {
			r := d
			r.Day = m
			idx[k] = len(out)
			out = append(out, r)
			continue
		}
		out[i].Addresses = max(out[i].Addresses, d.Addresses)
	}
	slices.SortStableFunc(out, func(a, b UsageRow) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return int(a.CustomerID - b.CustomerID)
	})
	return out
}

// WriteUsageCSV writes usage rows as CSV with a header line; monthly
// rows print the month (2026-12), daily ones the day (2026-12-05).
func WriteUsageCSV(w io.Writer, rows []UsageRow, monthly bool) error {
	cw := NewCSVWriter(w)
	period := "day"
	if monthly {
		period = "month"
	}
	if err := cw.Write([]string{period, "customer_id", "customer", "reseller_id", "protected_addresses"}); err != nil {
		return err
	}
	for _, r := range rows {
		d := r.Day.Format(time.DateOnly)
		if monthly {
			d = r.Day.Format("2006-01")
		}
		if err := cw.Write([]string{d, strconv.FormatInt(r.CustomerID, 10), r.CustomerName,
			strconv.FormatInt(r.ResellerID, 10), strconv.Itoa(r.Addresses)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVWriter writes CSV files that people open in a spreadsheet: a field
// that begins like a formula ("=", "+", "-", "@", a tab or a carriage
// return) gets a leading apostrophe, so that the spreadsheet shows it as
// text and never runs it (OWASP "CSV injection"). Every CSV the service
// hands out goes through it: their fields come from others (customer
// names from resellers, addresses created by the first copy of a
// whole-domain address, lines of an uploaded file).
type CSVWriter struct{ *csv.Writer }

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) CSVWriter { return CSVWriter{csv.NewWriter(w)} }

// Write writes one record, each field made safe.
func (c CSVWriter) Write(record []string) error {
	safe := make([]string, len(record))
	for i, f := range record {
		safe[i] = csvSafe(f)
	}
	return c.Writer.Write(safe)
}

// csvSafe keeps a spreadsheet from reading a field as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

// SnapshotUsage records today's usage now (the worker does it hourly; the
// last snapshot of a day stands for the day).
func (s *Service) SnapshotUsage(ctx context.Context) error {
	if err := s.st.SnapshotUsage(ctx, s.now().UTC()); err != nil {
		return fmt.Errorf("usage snapshot: %w", err)
	}
	return nil
}

// RunUsageSnapshots writes the usage snapshot at once and then every
// interval (default an hour) until ctx ends.
func (s *Service) RunUsageSnapshots(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.SnapshotUsage(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("usage snapshot", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
