package main

import (
	"context"
	"flag"
)

// tenantFlag is an optional flag naming a reseller or a customer by id or
// name (--reseller, --customer): commands resolve it in one call.
type tenantFlag struct {
	ref     *string
	resolve func(e *env, ctx context.Context, ref string) (int64, error)
}

// resellerFlag defines --reseller on fs.
func resellerFlag(fs *flag.FlagSet, usage string) tenantFlag {
	return tenantFlag{fs.String("reseller", "", usage), (*env).resellerID}
}

// customerFlag defines --customer on fs.
func customerFlag(fs *flag.FlagSet, usage string) tenantFlag {
	return tenantFlag{fs.String("customer", "", usage), (*env).customerID}
}

// given says whether the flag was set (never, for the zero tenantFlag).
func (f tenantFlag) given() bool { return f.ref != nil && *f.ref != "" }

// id resolves the flag's tenant; it is 0 when the flag was not given.
func (f tenantFlag) id(ctx context.Context, e *env) (int64, error) {
	if !f.given() {
		return 0, nil
	}
	return f.resolve(e, ctx, *f.ref)
}

// passwordFlag defines --password-stdin on fs.
func passwordFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("password-stdin", false, "read the password from the first line of standard input")
}

// passwordInput is --password-stdin for a command that must set a
// password: check, before the command does anything, is a usage error
// without it; the command reads the password (readPassword) when it
// needs it.
type passwordInput struct {
	cmd   string
	stdin *bool
}

func requiredPassword(fs *flag.FlagSet, cmd string) passwordInput {
	return passwordInput{cmd, passwordFlag(fs)}
}

func (p passwordInput) check() error {
	if !*p.stdin {
		return usageErr("%s needs --password-stdin (the password is never taken on the command line)", p.cmd)
	}
	return nil
}
