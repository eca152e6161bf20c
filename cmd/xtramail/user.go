package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

func userCommands() []command {
	return []command{
		{name: "user add", args: "ADDRESS", summary: "protect an address of a protected domain",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userAdd},
		{name: "user list", summary: "list protected addresses",
			data: dataExisting, setup: userList},
		{name: "user remove", args: "ADDRESS", summary: "remove an address with all its messages (needs --yes)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userRemove},
		{name: "user enable", args: "ADDRESS", summary: "turn continuity on: copies kept, sign-in allowed",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userEnable(true)},
		{name: "user disable", args: "ADDRESS", summary: "turn continuity off: copies refused, sign-in refused",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userEnable(false)},
		{name: "user passwd", args: "ADDRESS", summary: "set the sign-in password (read from standard input)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userPasswd},
		{name: "user import", args: "FILE", summary: "import addresses from CSV (address,password,enabled; - reads standard input)",
			minArgs: 1, maxArgs: 1, data: dataExisting, setup: userImport},
	}
}

func userAdd(fs *flag.FlagSet) action {
	pwStdin := passwordFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		var pw string
		if *pwStdin {
			var err error
			if pw, err = e.readPassword(); err != nil {
				return err
			}
		}
		a, err := e.admin().AddAddress(ctx, admin.CLI(), args[0], pw, true)
		if err != nil {
			return err
		}
		note := "no password yet: set one with user passwd"
		if pw != "" {
			note = "password set"
		}
		fmt.Fprintf(e.stdout, "address %s protected (%s)\n", a.Address, note)
		return nil
	}
}

// userRow is an address in `user list --json`.
type userRow struct {
	Address     string    `json:"address"`
	Enabled     bool      `json:"enabled"`
	PasswordSet bool      `json:"password_set"`
	CreatedAt   time.Time `json:"created_at"`
}

func userList(fs *flag.FlagSet) action {
	domain := fs.String("domain", "", "only addresses of this `domain`")
	asJSON := jsonFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		as, err := e.admin().Addresses(ctx, admin.CLI(), store.AccountQuery{Domain: *domain, Limit: 1 << 30})
		if err != nil {
			return err
		}
		rows := make([]userRow, len(as))
		for i, a := range as {
			rows[i] = userRow{a.Address, a.Enabled, a.PasswordHash != "", a.CreatedAt}
		}
		return printList(e.cli, *asJSON, rows, "ADDRESS\tCONTINUITY\tPASSWORD\tCREATED", func(r userRow) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s", r.Address, onOff(r.Enabled, "enabled", "disabled"),
				onOff(r.PasswordSet, "set", "not set"), r.CreatedAt.Format(time.DateOnly))
		})
	}
}

func userRemove(fs *flag.FlagSet) action {
	yes := fs.Bool("yes", false, "confirm: the address and all its messages are deleted for good")
	return func(ctx context.Context, e *env, args []string) error {
		adm := e.admin()
		a, err := adm.Address(ctx, admin.CLI(), args[0])
		if err != nil {
			return err
		}
		if !*yes {
			n, err := adm.MessageCount(ctx, admin.CLI(), a.Address)
			if err != nil {
				return err
			}
			return usageErr("user remove deletes %s and its %s for good: add --yes to confirm", a.Address, count(n, "message", "messages"))
		}
		if err := adm.RemoveAddress(ctx, admin.CLI(), a.Address); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "address %s removed with its messages\n", a.Address)
		return nil
	}
}

func userEnable(on bool) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		return func(ctx context.Context, e *env, args []string) error {
			if err := e.admin().SetAddressEnabled(ctx, admin.CLI(), args[0], on); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "address %s %s\n", strings.ToLower(args[0]), onOff(on, "enabled", "disabled"))
			return nil
		}
	}
}

func userPasswd(fs *flag.FlagSet) action {
	pwIn := requiredPassword(fs, "user passwd")
	return func(ctx context.Context, e *env, args []string) error {
		if err := pwIn.check(); err != nil {
			return err
		}
		pw, err := e.readPassword()
		if err != nil {
			return err
		}
		if err := e.admin().SetPassword(ctx, admin.CLI(), args[0], pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s changed\n", strings.ToLower(args[0]))
		return nil
	}
}

// readPassword reads the first line of stdin; the admin package checks
// it against the password policy and hashes it.
func (c *cli) readPassword() (string, error) {
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input (the first line is empty)")
	}
	return pw, nil
}
