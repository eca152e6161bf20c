package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

func domainCommands() []command {
	return []command{
		{name: "domain add", args: "NAME", summary: "protect a domain (its addresses are added with user add)",
			minArgs: 1, maxArgs: 1, data: dataCreate, setup: domainAdd},
		{name: "domain list", summary: "list the protected domains",
			data: dataExisting, setup: domainList},
		{name: "domain remove", args: "NAME", summary: "stop protecting a domain that has no addresses left",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: domainRemove},
		{name: "domain retention", args: "NAME DAYS", summary: "change how many days a domain's messages are kept",
			minArgs: 2, maxArgs: 2, data: dataExisting, setup: domainRetention},
	}
}

func domainAdd(fs *flag.FlagSet) action {
	days := fs.Int("retention-days", store.DefaultRetentionDays, "days a message is kept")
	return func(ctx context.Context, e *env, args []string) error {
		d, err := e.store.CreateDomain(ctx, args[0], *days)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s added, messages kept %d days\n", d.Name, d.RetentionDays)
		return nil
	}
}

// domainRow is a domain in `domain list --json`.
type domainRow struct {
	Name          string    `json:"name"`
	RetentionDays int       `json:"retention_days"`
	Addresses     int       `json:"addresses"`
	CreatedAt     time.Time `json:"created_at"`
}

func domainList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		ds, err := e.store.Domains(ctx)
		if err != nil {
			return err
		}
		rows := make([]domainRow, len(ds))
		for i, d := range ds {
			as, err := e.store.Accounts(ctx, d.Name)
			if err != nil {
				return err
			}
			rows[i] = domainRow{d.Name, d.RetentionDays, len(as), d.CreatedAt}
		}
		if *asJSON {
			return e.printJSON(rows)
		}
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "DOMAIN\tRETENTION\tADDRESSES\tCREATED")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%d days\t%d\t%s\n", r.Name, r.RetentionDays, r.Addresses, r.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
}

func domainRemove(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		if err := e.store.DeleteDomain(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s removed\n", strings.ToLower(args[0]))
		return nil
	}
}

func domainRetention(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		d, err := strconv.Atoi(args[1])
		if err != nil {
			return usageErr("domain retention: days %q is not a number", args[1])
		}
		if err := e.store.SetRetention(ctx, args[0], d); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "domain %s now keeps messages %d days\n", strings.ToLower(args[0]), d)
		return nil
	}
}
