// Command xtramail runs the email continuity service (`xtramail serve`)
// and administers it (`domain`, `user`, `message`, `log`) on the same data
// directory, also while the server runs.
//
// Each command group lives in its own file and contributes its commands to
// the table in commands(); each command has its own flag set, so a flag
// that a command does not take is an error, never silently ignored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/service"
	"github.com/xtramail/xtramail/internal/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// cli carries what every command writes to.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one `xtramail GROUP SUB` (or `xtramail NAME`) command.
type command struct {
	name    string // "domain add", "serve"
	args    string // positional arguments in the usage line: "NAME", "ADDRESS ID..."
	summary string // one line for the overview
	// minArgs and maxArgs bound the positional arguments; maxArgs < 0
	// means no upper bound.
	minArgs, maxArgs int
	// data says how the command uses the data directory: dataNone
	// (serve opens it itself), dataExisting (the store must exist) or
	// dataCreate (may initialise a store in an existing directory).
	data dataUse
	// setup declares the command's own flags on fs and returns what runs
	// once they are parsed.
	setup func(fs *flag.FlagSet) action
}

// action runs a parsed command. st is nil for commands with dataNone.
type action func(ctx context.Context, e *env, args []string) error

// env is what an action works with.
type env struct {
	*cli
	cfg   config.Config
	flags *commonFlags
	store store.Store
	// adminSvc is built on first use (env.admin).
	adminSvc *admin.Service
	// sealKey is the data directory's password seal key (admin.Options.
	// SealKey), so that an import's pending passwords open in the
	// service that hashes them.
	sealKey []byte
}

type dataUse int

const (
	dataNone dataUse = iota
	dataExisting
	dataCreate
)

// commands is the table of every command, in overview order. A new
// command group adds its file and one line here.
func commands() []command {
	return concat(
		serveCommands(),
		domainCommands(),
		dkimCommands(),
		userCommands(),
		tenantCommands(),
		adminCommands(),
		tokenCommands(),
		usageCommands(),
		auditCommands(),
		messageCommands(),
		logCommands(),
		queueCommands(),
		versionCommands(),
	)
}

func concat(groups ...[]command) []command {
	var out []command
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// errUsage marks a command line that is wrong: run prints the error and
// where to get help, and exits 2.
var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	err := c.dispatch(args)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "xtramail: %s\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	default:
		fmt.Fprintf(stderr, "xtramail: %v\n", err)
		return 1
	}
}

func (c *cli) dispatch(args []string) error {
	table := commands()
	if len(args) == 0 {
		c.overview(c.stderr, table)
		return usageErr("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		c.overview(c.stdout, table)
		return nil
	case "--version", "-version":
		return c.printVersion()
	}
	// The longest name that matches: "domain add" before "domain".
	var cmd *command
	var rest []string
	for i := range table {
		words := strings.Fields(table[i].name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) && (cmd == nil || len(words) > len(strings.Fields(cmd.name))) {
			cmd, rest = &table[i], args[len(words):]
		}
	}
	if cmd == nil {
		group := groupCommands(table, args[0])
		if len(group) == 0 {
			return usageErr("unknown command %q (xtramail --help lists them)", args[0])
		}
		// `xtramail domain`, `xtramail domain --help`, `xtramail domain frobnicate`.
		if len(args) > 1 && isHelp(args[1]) {
			c.groupUsage(c.stdout, args[0], group)
			return flag.ErrHelp
		}
		c.groupUsage(c.stderr, args[0], group)
		if len(args) == 1 {
			return usageErr("%s needs a subcommand", args[0])
		}
		return usageErr("unknown %s subcommand %q", args[0], args[1])
	}
	return c.runCommand(cmd, rest)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

func groupCommands(table []command, group string) []command {
	var out []command
	for _, cmd := range table {
		if strings.HasPrefix(cmd.name, group+" ") {
			out = append(out, cmd)
		}
	}
	return out
}

func (c *cli) overview(w io.Writer, table []command) {
	fmt.Fprint(w, "Usage: xtramail COMMAND [ARGS] [FLAGS]\n\nCommands:\n")
	tw := newTable(w)
	for _, cmd := range table {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
Every command takes --data DIR (default ./data) or --config FILE; every
command but serve needs an existing data directory. xtramail COMMAND --help
shows a command's flags; xtramail --version shows the build.
`)
}

func (c *cli) groupUsage(w io.Writer, group string, cmds []command) {
	fmt.Fprintf(w, "Usage: xtramail %s SUBCOMMAND [ARGS] [FLAGS]\n\nSubcommands:\n", group)
	tw := newTable(w)
	for _, cmd := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nxtramail %s SUBCOMMAND --help shows its flags.\n", group)
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	configFile string
	data       string
}

func (c *cli) runCommand(cmd *command, args []string) error {
	fs := flag.NewFlagSet("xtramail "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once by run
	// The flag package calls Usage itself on -help and on every parse
	// error, before it returns: the answers to both are given below,
	// once, the usage on stdout for -help and one line of where to find
	// it on stderr for an error.
	fs.Usage = func() {}
	cf := &commonFlags{}
	fs.StringVar(&cf.configFile, "config", "", "TOML configuration `file`")
	fs.StringVar(&cf.data, "data", "", "data `directory` (default ./data, or the configuration's data)")
	act := cmd.setup(fs)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandUsage(fs, cmd)
		return err
	}
	if err != nil {
		return usageErr("%s: %v\n%s", cmd.name, err, helpHint(cmd))
	}
	switch {
	case len(pos) < cmd.minArgs, cmd.maxArgs >= 0 && len(pos) > cmd.maxArgs:
		return usageErr("%s: %s\n%s", cmd.name, argCount(cmd), helpHint(cmd))
	}
	e := &env{cli: c, flags: cf}
	if e.cfg, err = loadConfig(cf, false); err != nil {
		return err
	}
	if cmd.data != dataNone {
		st, err := c.openStore(&e.cfg, cmd.data == dataCreate)
		if err != nil {
			return err
		}
		defer st.Close()
		e.store = st
		if e.sealKey, err = service.LoadSealKey(e.cfg.Data); err != nil {
			return err
		}
	}
	return act(context.Background(), e, pos)
}

// commandUsage writes cmd's usage and flags (fs) to stdout: its answer
// to --help.
func (c *cli) commandUsage(fs *flag.FlagSet, cmd *command) {
	fmt.Fprintf(c.stdout, "Usage: xtramail %s [FLAGS]\n\n%s.\n\nFlags:\n",
		strings.TrimSpace(cmd.name+" "+cmd.args), upperFirst(cmd.summary))
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// helpHint is the line after a wrong command line's error: where its
// usage is.
func helpHint(cmd *command) string {
	return fmt.Sprintf("run 'xtramail %s --help' for the flags", cmd.name)
}

func argCount(cmd *command) string {
	switch {
	case cmd.maxArgs == 0:
		return "takes no arguments"
	case cmd.maxArgs < 0:
		return fmt.Sprintf("needs %s", cmd.args)
	case cmd.minArgs == cmd.maxArgs:
		return fmt.Sprintf("takes %d argument%s: %s", cmd.minArgs, plural(cmd.minArgs), cmd.args)
	default:
		return fmt.Sprintf("takes %d to %d arguments: %s", cmd.minArgs, cmd.maxArgs, cmd.args)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseInterleaved parses fs over args whose positional arguments may come
// before, between or after the flags (`domain add NAME --retention-days 7`).
// "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// loadConfig loads the configuration file if given and applies --data.
// With dev, the development set-up is applied first and the file over it:
// what an administrator wrote in the file wins over --dev's loopback
// listeners, as --data and the listener flags win over both.
func loadConfig(cf *commonFlags, dev bool) (config.Config, error) {
	cfg := config.Default()
	if dev {
		cfg.ApplyDev()
	}
	if cf.configFile != "" {
		if err := config.Load(cf.configFile, &cfg); err != nil {
			return cfg, err
		}
	}
	if cf.data != "" {
		cfg.Data = cf.data
	}
	return cfg, nil
}

// openStore opens the data directory's store for an admin command. The
// directory must exist: a mistyped --data must never yield an empty store
// that answers "nothing found", or take a user the server never sees. Only
// a command that creates (create) may initialise a store in an existing,
// empty directory, and it says so.
func (c *cli) openStore(cfg *config.Config, create bool) (store.Store, error) {
	fi, err := os.Stat(cfg.Data)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("data directory %s does not exist (check --data or the configuration's data)", cfg.Data)
	case err != nil:
		return nil, fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("data directory %s is not a directory", cfg.Data)
	}
	if _, err := os.Stat(cfg.DBPath()); errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("no xtramail store in %s (no %s): check --data, or start with xtramail domain add", cfg.Data, cfg.DBPath())
		}
		fmt.Fprintf(c.stderr, "xtramail: new store in %s\n", cfg.Data)
	}
	return service.OpenStore(cfg, slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// plural returns "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// count writes "1 address" / "2 addresses".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
