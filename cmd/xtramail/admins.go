package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// admin returns the administrative operations over the command's store.
// Every command acts as admin.CLI(): the provider's whole tree, audited
// as "cli".
func (e *env) admin() *admin.Service {
	if e.adminSvc == nil {
		e.adminSvc = admin.New(e.store, admin.Options{SealKey: e.sealKey})
	}
	return e.adminSvc
}

func adminCommands() []command {
	return []command{
		{name: "admin create", args: "EMAIL", summary: "create a provider administrator (the first one, for the console; password from standard input)",
			minArgs: 1, maxArgs: 1, data: dataCreate, setup: adminCreate},
		{name: "admin add", args: "EMAIL", summary: "add an administrator with a role: --reseller ID or --customer ID (password from standard input)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminAdd},
		{name: "admin list", summary: "list administrators and their roles",
			data: dataExisting, setup: adminList},
		{name: "admin remove", args: "EMAIL", summary: "remove an administrator and their API tokens",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminRemove},
		{name: "admin passwd", args: "EMAIL", summary: "set an administrator's password (read from standard input)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminPasswd},
		{name: "admin disable", args: "EMAIL", summary: "stop an administrator's sign-in, sessions and tokens",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminDisable(true)},
		{name: "admin enable", args: "EMAIL", summary: "allow a disabled administrator again",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminDisable(false)},
		{name: "admin totp-reset", args: "EMAIL", summary: "remove an administrator's second factors, TOTP and passkeys (a lost device)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: adminTOTPReset},
	}
}

func adminCreate(fs *flag.FlagSet) action {
	pwIn := requiredPassword(fs, "admin create")
	return func(ctx context.Context, e *env, args []string) error {
		if err := pwIn.check(); err != nil {
			return err
		}
		pw, err := e.readPassword()
		if err != nil {
			return err
		}
		a, err := e.admin().AddAdmin(ctx, admin.CLI(), args[0], pw, store.RoleProvider, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "provider administrator %s created; they enrol a second factor (TOTP) at their first console sign-in\n", a.Email)
		return nil
	}
}

func adminAdd(fs *flag.FlagSet) action {
	pwIn := requiredPassword(fs, "admin add")
	reseller := resellerFlag(fs, "reseller `ID or name`: a reseller administrator")
	customer := customerFlag(fs, "customer `ID or name`: a customer administrator")
	provider := fs.Bool("provider", false, "a provider administrator (as admin create)")
	return func(ctx context.Context, e *env, args []string) error {
		n := 0
		for _, set := range []bool{reseller.given(), customer.given(), *provider} {
			if set {
				n++
			}
		}
		if n != 1 {
			return usageErr("admin add needs exactly one of --reseller, --customer or --provider")
		}
		if err := pwIn.check(); err != nil {
			return err
		}
		role, tenant := store.RoleProvider, tenantFlag{}
		switch {
		case reseller.given():
			role, tenant = store.RoleReseller, reseller
		case customer.given():
			role, tenant = store.RoleCustomer, customer
		}
		scope, err := tenant.id(ctx, e)
		if err != nil {
			return err
		}
		pw, err := e.readPassword()
		if err != nil {
			return err
		}
		a, err := e.admin().AddAdmin(ctx, admin.CLI(), args[0], pw, role, scope)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s administrator %s added%s\n", a.Role, a.Email, scopeNote(a.Role, a.ScopeID))
		return nil
	}
}

func scopeNote(role store.Role, id int64) string {
	if role == store.RoleProvider {
		return ""
	}
	return fmt.Sprintf(" (%s %d)", role, id)
}

// adminRow is an administrator in `admin list --json`.
type adminRow struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	ScopeID   int64     `json:"scope_id,omitempty"`
	TOTP      bool      `json:"totp"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

func adminList(fs *flag.FlagSet) action {
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		as, err := e.admin().Admins(ctx, admin.CLI())
		if err != nil {
			return err
		}
		rows := make([]adminRow, len(as))
		for i, a := range as {
			rows[i] = adminRow{a.ID, a.Email, string(a.Role), a.ScopeID, a.TOTPEnabled, a.Disabled, a.CreatedAt.UTC()}
		}
		err = printList(e.cli, *asJSON, rows, "ID\tEMAIL\tROLE\tSCOPE\tTOTP\tSTATE\tCREATED", func(r adminRow) string {
			scope := "-"
			if r.ScopeID != 0 {
				scope = fmt.Sprint(r.ScopeID)
			}
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.Email, r.Role, scope, onOff(r.TOTP, "on", "off"),
				onOff(r.Disabled, "disabled", "active"), r.CreatedAt.Format(time.DateOnly))
		})
		if err != nil || *asJSON {
			return err
		}
		fmt.Fprintln(e.stdout, count(len(rows), "administrator", "administrators"))
		return nil
	}
}

// adminByEmail finds an administrator for a command.
func (e *env) adminByEmail(ctx context.Context, email string) (admin.AdminInfo, error) {
	return e.admin().AdminByEmail(ctx, admin.CLI(), email)
}

func adminRemove(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		a, err := e.adminByEmail(ctx, args[0])
		if err != nil {
			return err
		}
		if err := e.admin().RemoveAdmin(ctx, admin.CLI(), a.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "administrator %s removed with their API tokens\n", a.Email)
		return nil
	}
}

func adminPasswd(fs *flag.FlagSet) action {
	pwIn := requiredPassword(fs, "admin passwd")
	return func(ctx context.Context, e *env, args []string) error {
		if err := pwIn.check(); err != nil {
			return err
		}
		a, err := e.adminByEmail(ctx, args[0])
		if err != nil {
			return err
		}
		pw, err := e.readPassword()
		if err != nil {
			return err
		}
		if err := e.admin().SetAdminPassword(ctx, admin.CLI(), a.ID, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of administrator %s changed\n", a.Email)
		return nil
	}
}

func adminDisable(disabled bool) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		return func(ctx context.Context, e *env, args []string) error {
			a, err := e.adminByEmail(ctx, args[0])
			if err != nil {
				return err
			}
			if err := e.admin().SetAdminDisabled(ctx, admin.CLI(), a.ID, disabled); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "administrator %s %s\n", a.Email, onOff(disabled, "disabled", "enabled"))
			return nil
		}
	}
}

func adminTOTPReset(fs *flag.FlagSet) action {
	return func(ctx context.Context, e *env, args []string) error {
		a, err := e.adminByEmail(ctx, args[0])
		if err != nil {
			return err
		}
		if err := e.admin().RemoveTOTP(ctx, admin.CLI(), a.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "second factors of %s removed (TOTP and passkeys); they enrol a new one at their next sign-in\n", a.Email)
		return nil
	}
}
