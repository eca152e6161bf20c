package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
)

func usageCommands() []command {
	return []command{
		{name: "usage", summary: "protected addresses per customer per day or month, for billing (CSV or JSON)",
			data: dataExisting, setup: usageReport},
	}
}

// usageRow is a line of `usage --json`.
type usageRow struct {
	Period     string `json:"period"` // 2026-12-05, or 2026-12 with --monthly
	CustomerID int64  `json:"customer_id"`
	Customer   string `json:"customer"`
	ResellerID int64  `json:"reseller_id,omitempty"`
	Addresses  int    `json:"protected_addresses"`
}

func usageReport(fs *flag.FlagSet) action {
	from := fs.String("from", "", "first day `YYYY-MM-DD` (default: the first of this month)")
	to := fs.String("to", "", "last day `YYYY-MM-DD`, included (default: today)")
	monthly := fs.Bool("monthly", false, "one line per customer and month: the month's peak")
	snapshot := fs.Bool("snapshot", false, "record today's figures first (the server does it hourly)")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		now := time.Now().UTC()
		start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		var err error
		if *from != "" {
			if start, err = time.Parse(time.DateOnly, *from); err != nil {
				return usageErr("usage: --from %q is not a day (YYYY-MM-DD)", *from)
			}
		}
		if *to != "" {
			if end, err = time.Parse(time.DateOnly, *to); err != nil {
				return usageErr("usage: --to %q is not a day (YYYY-MM-DD)", *to)
			}
		}
		if end.Before(start) {
			return usageErr("usage: --to is before --from")
		}
		adm := e.admin()
		if *snapshot {
			if err := adm.SnapshotUsage(ctx); err != nil {
				return err
			}
		}
		rows, err := adm.Usage(ctx, admin.CLI(), start, end.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		if *monthly {
			rows = admin.MonthlyUsage(rows)
		}
		if !*asJSON {
			return admin.WriteUsageCSV(e.stdout, rows, *monthly)
		}
		out := make([]usageRow, len(rows))
		for i, r := range rows {
			p := r.Day.Format(time.DateOnly)
			if *monthly {
				p = r.Day.Format("2006-01")
			}
			out[i] = usageRow{p, r.CustomerID, r.CustomerName, r.ResellerID, r.Addresses}
		}
		if len(out) == 0 {
			fmt.Fprintln(e.stderr, "xtramail: no usage snapshot in that period (the server writes one hourly; --snapshot writes one now)")
		}
		return e.printJSON(out)
	}
}
