package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func tenantCommands() []command {
	return []command{
		{name: "reseller add", args: "NAME", summary: "add a reseller (an intermediary with customers of its own)",
			minArgs: 1, maxArgs: 1, data: dataCreate, setup: resellerAdd},
		{name: "reseller list", summary: "list resellers",
			data: dataExisting, setup: resellerList},
		{name: "customer add", args: "NAME", summary: "add a customer, under the provider or --reseller",
			minArgs: 1, maxArgs: 1, data: dataCreate, setup: customerAdd},
		{name: "customer list", summary: "list customers with their reseller and domains",
			data: dataExisting, setup: customerList},
	}
}

// resellerID resolves a reseller given by id or exact name.
func (e *env) resellerID(ctx context.Context, ref string) (int64, error) {
	rs, err := e.admin().Resellers(ctx, admin.CLI())
	if err != nil {
		return 0, err
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	for _, r := range rs {
		if r.ID == id || strings.EqualFold(r.Name, ref) {
			return r.ID, nil
		}
	}
	return 0, fmt.Errorf("reseller %q (xtramail reseller list): %w", ref, store.ErrNotFound)
}

// customerID resolves a customer given by id or name (a name must be
// unique; two resellers may each have a customer of that name).
func (e *env) customerID(ctx context.Context, ref string) (int64, error) {
	cs, err := e.admin().Customers(ctx, admin.CLI())
	if err != nil {
		return 0, err
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		for _, c := range cs {
			if c.ID == id {
				return id, nil
			}
		}
	}
	var found []int64
	for _, c := range cs {
		if strings.EqualFold(c.Name, ref) {
			found = append(found, c.ID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return 0, fmt.Errorf("customer %q (xtramail customer list): %w", ref, store.ErrNotFound)
	}
	return 0, fmt.Errorf("%d customers are named %q: give the id (xtramail customer list)", len(found), ref)
}

func resellerAdd(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		r, err := e.admin().AddReseller(ctx, admin.CLI(), args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "reseller %d %q added\n", r.ID, r.Name)
		return nil
	}
}

// resellerRow is a reseller in `reseller list --json`.
type resellerRow struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Customers int       `json:"customers"`
	CreatedAt time.Time `json:"created_at"`
}

func resellerList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		rs, err := e.admin().Resellers(ctx, admin.CLI())
		if err != nil {
			return err
		}
		cs, err := e.admin().Customers(ctx, admin.CLI())
		if err != nil {
			return err
		}
		per := map[int64]int{}
		for _, c := range cs {
			per[c.ResellerID]++
		}
		rows := make([]resellerRow, len(rs))
		for i, r := range rs {
			rows[i] = resellerRow{r.ID, r.Name, per[r.ID], r.CreatedAt.UTC()}
		}
		return printList(e.cli, *asJSON, rows, "ID\tRESELLER\tCUSTOMERS\tCREATED", func(r resellerRow) string {
			return fmt.Sprintf("%d\t%s\t%d\t%s", r.ID, r.Name, r.Customers, r.CreatedAt.Format(time.DateOnly))
		})
	}
}

func customerAdd(fs *flag.FlagSet) action {
	reseller := resellerFlag(fs, "reseller `ID or name` (default: directly under the provider)")
	return func(ctx context.Context, e *env, args []string) error {
		rid, err := reseller.id(ctx, e)
		if err != nil {
			return err
		}
		c, err := e.admin().AddCustomer(ctx, admin.CLI(), rid, args[0])
		if err != nil {
			return err
		}
		under := "the provider"
		if rid != 0 {
			under = fmt.Sprintf("reseller %d", rid)
		}
		fmt.Fprintf(e.stdout, "customer %d %q added under %s\n", c.ID, c.Name, under)
		return nil
	}
}

// customerRow is a customer in `customer list --json`.
type customerRow struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	ResellerID int64     `json:"reseller_id,omitempty"`
	Domains    []string  `json:"domains"`
	CreatedAt  time.Time `json:"created_at"`
}

func customerList(fs *flag.FlagSet) action {
	reseller := resellerFlag(fs, "only customers of this reseller (`ID or name`)")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		rid, err := reseller.id(ctx, e)
		if err != nil {
			return err
		}
		cs, err := e.admin().Customers(ctx, admin.CLI())
		if err != nil {
			return err
		}
		ds, err := e.admin().Domains(ctx, admin.CLI(), 0)
		if err != nil {
			return err
		}
		doms := map[int64][]string{}
		for _, d := range ds {
			doms[d.CustomerID] = append(doms[d.CustomerID], d.Name)
		}
		rows := []customerRow{}
		for _, c := range cs {
			if rid != 0 && c.ResellerID != rid {
				continue
			}
			d := doms[c.ID]
			if d == nil {
				d = []string{}
			}
			rows = append(rows, customerRow{c.ID, c.Name, c.ResellerID, d, c.CreatedAt.UTC()})
		}
		return printList(e.cli, *asJSON, rows, "ID\tCUSTOMER\tRESELLER\tDOMAINS\tCREATED", func(r customerRow) string {
			res := "-"
			if r.ResellerID != 0 {
				res = fmt.Sprint(r.ResellerID)
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", r.ID, r.Name, res, dash(clip(strings.Join(r.Domains, " "), 60)), r.CreatedAt.Format(time.DateOnly))
		})
	}
}
