package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
)

func tokenCommands() []command {
	return []command{
		{name: "token create", args: "NAME", summary: "create a REST API token acting as --admin (printed once)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: tokenCreate},
		{name: "token list", summary: "list API tokens (never their secrets)",
			data: dataExisting, setup: tokenList},
		{name: "token revoke", args: "ID", summary: "revoke an API token",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: tokenRevoke},
	}
}

func tokenCreate(fs *flag.FlagSet) action {
	adminEmail := fs.String("admin", "", "the administrator the token acts as (`email`): its role and scope")
	expires := fs.String("expires", "90d", "lifetime: 90d, 12h, ... or \"never\"")
	return func(ctx context.Context, e *env, args []string) error {
		if *adminEmail == "" {
			return usageErr("token create needs --admin EMAIL (the token acts with that administrator's role)")
		}
		var exp time.Time
		if *expires != "never" {
			d, err := parseAge(*expires)
			if err != nil || d <= 0 {
				return usageErr("token create: --expires %q is not a lifetime (90d, 12h or never)", *expires)
			}
			exp = time.Now().Add(d)
		}
		a, err := e.adminByEmail(ctx, *adminEmail)
		if err != nil {
			return err
		}
		secret, t, err := e.admin().CreateToken(ctx, admin.CLI(), a.ID, args[0], exp)
		if err != nil {
			return err
		}
		when := "never expires"
		if !t.ExpiresAt.IsZero() {
			when = "expires " + t.ExpiresAt.UTC().Format(time.DateTime) + " UTC"
		}
		fmt.Fprintf(e.stderr, "token %d %q for %s (%s role), %s; it is shown only now:\n", t.ID, t.Name, a.Email, a.Role, when)
		fmt.Fprintln(e.stdout, secret)
		return nil
	}
}

// tokenRow is a token in `token list --json`.
type tokenRow struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Admin     string     `json:"admin"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Revoked   bool       `json:"revoked"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func tokenList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		ts, err := e.admin().Tokens(ctx, admin.CLI())
		if err != nil {
			return err
		}
		rows := make([]tokenRow, len(ts))
		for i, t := range ts {
			rows[i] = tokenRow{t.ID, t.Name, t.AdminEmail, t.CreatedAt.UTC(), optTime(t.ExpiresAt), optTime(t.LastUsed), t.Revoked}
		}
		show := func(t *time.Time, none string) string {
			if t == nil {
				return none
			}
			return t.Format(time.DateTime)
		}
		now := time.Now()
		return printList(e.cli, *asJSON, rows, "ID\tNAME\tADMIN\tCREATED\tEXPIRES\tLAST USED\tSTATE", func(r tokenRow) string {
			state := "active"
			switch {
			case r.Revoked:
				state = "revoked"
			case r.ExpiresAt != nil && !now.Before(*r.ExpiresAt):
				state = "expired"
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.Name, r.Admin, r.CreatedAt.Format(time.DateOnly),
				show(r.ExpiresAt, "never"), show(r.LastUsed, "never"), state)
		})
	}
}

func tokenRevoke(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id < 1 {
			return usageErr("token revoke: %q is not a token id (xtramail token list)", args[0])
		}
		if err := e.admin().RevokeToken(ctx, admin.CLI(), id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "token %d revoked\n", id)
		return nil
	}
}
