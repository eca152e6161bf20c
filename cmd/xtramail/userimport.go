package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// userImport imports a CSV file of addresses, as the console and the API
// do (admin.ImportWith): each line whole or not at all, refused lines
// reported on stderr by line number. With --generate-passwords, lines
// without a password get a generated one, printed once as CSV
// (address,password) on stdout, or written to --passwords-file (created,
// mode 0600: never over an existing file). The passwords the file brings
// are stored sealed and hashed afterwards by the running service (`serve`
// on the same data directory), as the console's and the API's imports
// are: each address signs in at once (its first sign-in hashes it).
func userImport(fs *flag.FlagSet) action {
	generate := fs.Bool("generate-passwords", false, "give each address without a password a generated one (printed once, as CSV)")
	pwFile := fs.String("passwords-file", "", "write the generated passwords to this new `file` (mode 0600) instead of standard output")
	return func(ctx context.Context, e *env, args []string) error {
		var in io.Reader = e.stdin
		if args[0] != "-" {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		if *pwFile != "" && !*generate {
			return usageErr("--passwords-file needs --generate-passwords")
		}
		out := e.stdout
		if *pwFile != "" {
			f, err := os.OpenFile(*pwFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("passwords file: %w", err)
			}
			defer f.Close()
			out = f
		}
		cw := csv.NewWriter(out)
		if *generate {
			cw.Write([]string{"address", "password"})
		}
		res, err := e.admin().ImportWith(ctx, admin.CLI(), in, admin.ImportOptions{
			GeneratePasswords: *generate,
			Generated: func(_ int, address, password string) {
				cw.Write([]string{address, password}) // an error stays in cw
			},
			Progress: func(line int, address string, err error) {
				if err != nil {
					fmt.Fprintf(e.stderr, "line %d: %s: %s\n", line, address, importReason(err))
				}
			},
		})
		cw.Flush()
		if werr := cw.Error(); werr != nil {
			return fmt.Errorf("write generated passwords: %w", werr)
		}
		fmt.Fprintf(e.stderr, "%s read: %d imported, %d refused, %s generated\n",
			count(res.Lines, "line", "lines"), res.Imported, res.Failed, count(res.Generated, "password", "passwords"))
		if res.Deferred > 0 {
			fmt.Fprintf(e.stderr, "%s from the file will be hashed by the running service; each signs in already\n",
				count(res.Deferred, "password", "passwords"))
		}
		if err != nil {
			return err
		}
		if res.Failed > 0 {
			return fmt.Errorf("%s not imported (listed above)", count(res.Failed, "line", "lines"))
		}
		return nil
	}
}

// importReason says in words why a line was refused.
func importReason(err error) string {
	var fe *admin.FieldError
	switch {
	case errors.As(err, &fe):
		return fe.Field + ": " + fe.Msg
	case errors.Is(err, store.ErrExists):
		return "exists already"
	case errors.Is(err, store.ErrNotFound):
		return "its domain is not protected"
	}
	return err.Error()
}
