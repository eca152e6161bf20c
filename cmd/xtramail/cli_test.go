package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// commandLimit bounds a command the tests run to completion. A command
// still running then is sent SIGQUIT, so that the Go runtime prints its
// goroutines to its stderr and the test fails showing them; otherwise
// the package's timeout kills the test binary and says only which test
// was waiting.
const commandLimit = 5 * time.Minute

// boundedCommand is exec.Command under commandLimit; hung reports,
// after it has run, whether the limit stopped it.
func boundedCommand(name string, args ...string) (cmd *exec.Cmd, hung func() bool) {
	ctx, cancel := context.WithTimeout(context.Background(), commandLimit)
	cmd = exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 30 * time.Second
	return cmd, func() bool {
		defer cancel()
		return ctx.Err() != nil
	}
}

// xtBin runs the built binary and returns its exit code, stdout and stderr.
func xtBin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd, hung := boundedCommand(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if hung() {
		t.Fatalf("xtramail %s still running after %v; its goroutines:\n%s", strings.Join(args, " "), commandLimit, errb.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run xtramail %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// cliCase is one command line and what an administrator must see.
type cliCase struct {
	args    []string // $DATA is replaced by the data directory
	stdin   string
	code    int
	stdout  []string // each must appear in stdout
	stderr  []string // each must appear in stderr
	notOut  []string // none may appear in stdout
	noStore bool     // the command must not have created a store
}

func runCases(t *testing.T, data string, cases []cliCase) {
	t.Helper()
	for _, c := range cases {
		args := make([]string, len(c.args))
		for i, a := range c.args {
			args[i] = strings.ReplaceAll(a, "$DATA", data)
		}
		code, out, errOut := xtBin(t, c.stdin, args...)
		bad := code != c.code
		for _, w := range c.stdout {
			bad = bad || !strings.Contains(out, w)
		}
		for _, w := range c.stderr {
			bad = bad || !strings.Contains(errOut, w)
		}
		for _, w := range c.notOut {
			bad = bad || strings.Contains(out, w)
		}
		if bad {
			t.Errorf("xtramail %s:\n exit %d\n stdout %q\n stderr %q\nwant exit %d, stdout with %q (not %q), stderr with %q",
				strings.Join(args, " "), code, out, errOut, c.code, c.stdout, c.notOut, c.stderr)
		}
	}
}

// TestCLI drives the administration commands of the built binary through a
// session an administrator could type, including every way issue 12 part 6
// found the CLI misleading.
func TestCLI(t *testing.T) {
	data := t.TempDir()
	d := func(args ...string) []string { return append(args, "--data", "$DATA") }
	runCases(t, data, []cliCase{
		// Domains.
		{args: d("domain", "add", "Example.TEST", "--retention-days", "7"), stdout: []string{"domain example.test added, messages kept 7 days"}},
		{args: d("domain", "add", "example.test"), code: 1, stderr: []string{"domain example.test: already exists"}},
		{args: d("domain", "add", "bad domain"), code: 1, stderr: []string{`"bad domain" is not a domain name`}},
		{args: d("domain", "add", "x.test", "--retention-days", "0"), stdout: []string{"kept 30 days"}},
		{args: d("domain", "add", "y.test", "--retention-days", "-3"), code: 1, stderr: []string{"retention_days: between 1 and 3650 days"}},
		{args: d("domain", "list"), stdout: []string{"example.test  7 days"}},
		// A flag the subcommand does not take is refused, not ignored.
		{args: d("domain", "list", "--retention-days", "5"), code: 2, stderr: []string{"flag provided but not defined: -retention-days"}},
		{args: d("user", "add", "carol@example.test", "--json"), code: 2, stderr: []string{"flag provided but not defined: -json"}},
		{args: d("domain", "retention", "x.test", "abc"), code: 2, stderr: []string{"not a number"}},
		{args: d("domain", "retention", "x.test", "45"), stdout: []string{"45 days"}},

		// Addresses.
		{args: d("user", "add", "bob@nowhere.test"), code: 1, stderr: []string{"domain nowhere.test: not found"}},
		{args: d("user", "add", "not-an-address"), code: 1, stderr: []string{`address: "not-an-address" is not an email address`}},
		{args: d("user", "add", "Bob@example.test", "--password-stdin"), stdin: "correct horse\n", stdout: []string{"address bob@example.test protected (password set)"}},
		{args: d("user", "add", "bob@example.test"), code: 1, stderr: []string{"address bob@example.test: already exists"}},
		{args: d("user", "add", "carol@example.test"), stdout: []string{"no password yet"}},
		{args: d("user", "passwd", "carol@example.test"), code: 2, stderr: []string{"needs --password-stdin"}},
		{args: d("user", "passwd", "carol@example.test", "--password-stdin"), stdin: "short\n", code: 1, stderr: []string{"password: at least 8 characters"}},
		{args: d("user", "passwd", "carol@example.test", "--password-stdin"), code: 1, stderr: []string{"no password on standard input"}},
		{args: d("user", "passwd", "nobody@example.test", "--password-stdin"), stdin: "long enough pw\n", code: 1, stderr: []string{"not found"}},
		{args: d("user", "passwd", "carol@example.test", "--password-stdin"), stdin: "long enough pw\r\n", stdout: []string{"password of carol@example.test changed"}},
		{args: d("user", "disable", "carol@example.test"), stdout: []string{"address carol@example.test disabled"}},
		{args: d("user", "list", "--domain", "example.test"), stdout: []string{"carol@example.test  disabled"}},
		{args: d("user", "list", "--domain", "nowhere.test"), code: 1, stderr: []string{"not found"}},
		{args: d("user", "enable", "nobody@example.test"), code: 1, stderr: []string{"not found"}},
		{args: d("user", "add"), code: 2, stderr: []string{"takes 1 argument: ADDRESS"}},
		{args: d("domain", "list"), stdout: []string{"ADDRESSES", "example.test  7 days     2 "}},

		// Removing needs --yes, and says what it would delete.
		{args: d("domain", "remove", "example.test"), code: 1, stderr: []string{"has 2 addresses; remove them first"}},
		{args: d("user", "remove", "carol@example.test"), code: 2, stderr: []string{"deletes carol@example.test and its 0 messages for good: add --yes"}},
		{args: d("user", "list"), stdout: []string{"carol@example.test"}},
		{args: d("user", "remove", "carol@example.test", "--yes"), stdout: []string{"address carol@example.test removed with its messages"}},
		{args: d("user", "list"), notOut: []string{"carol@example.test"}},
		{args: d("domain", "remove", "example.test"), code: 1, stderr: []string{"has 1 address; remove it first"}},
		{args: d("user", "remove", "bob@example.test", "--yes"), stdout: []string{"removed"}},
		{args: d("domain", "remove", "example.test"), stdout: []string{"domain example.test removed"}},

		// The message log: ages in days, statuses checked.
		{args: d("log", "search", "--since", "7d"), stdout: []string{"TIME (UTC)", "IP"}},
		{args: d("log", "search", "--since", "2d12h", "--until", "2d"), stdout: []string{"TIME (UTC)"}},
		{args: d("log", "search", "--since", "2026-01-02"), stdout: []string{"TIME (UTC)"}},
		{args: d("log", "search", "--since", "soon"), code: 2, stderr: []string{`--since: "soon" is not an age`}},
		{args: d("log", "search", "--until", "-2d"), code: 2, stderr: []string{"--until"}},
		{args: d("log", "search", "--status", "refused"), stdout: []string{"TIME (UTC)"}},
		{args: d("log", "search", "--status", "login-failed"), stdout: []string{"TIME (UTC)"}},
		{args: d("log", "search", "--status", "refsued"), code: 2,
			stderr: []string{`unknown --status "refsued"`, "captured, refused, stored, duplicate, deleted, restored, purged, moved, login, login-failed"}},
		{args: d("log", "search", "--limit", "0"), code: 2, stderr: []string{"--limit"}},
		{args: d("log", "search", "extra"), code: 2, stderr: []string{"log search: takes no arguments"}},

		// Messages.
		{args: d("message", "list"), code: 2, stderr: []string{"takes 1 argument: ADDRESS"}},
		{args: d("message", "restore", "nobody@x.test"), code: 2, stderr: []string{"needs ADDRESS ID..."}},
		{args: d("message", "list", "nobody@x.test"), code: 1, stderr: []string{"not found"}},
	})
}

// TestCLIHelpAndUsage checks that every command and group answers --help
// on stdout with exit 0, and that a wrong command line exits 2.
func TestCLIHelpAndUsage(t *testing.T) {
	runCases(t, t.TempDir(), []cliCase{
		{args: []string{"--help"}, stdout: []string{"Usage: xtramail COMMAND", "domain add NAME", "message restore ADDRESS ID...", "log search"}},
		{args: []string{"help"}, stdout: []string{"Usage: xtramail COMMAND"}},
		{args: []string{"domain", "--help"}, stdout: []string{"Usage: xtramail domain SUBCOMMAND", "domain retention NAME DAYS"}, notOut: []string{"user remove"}},
		{args: []string{"user", "--help"}, stdout: []string{"Usage: xtramail user SUBCOMMAND", "user remove ADDRESS", "user passwd ADDRESS"}},
		{args: []string{"message", "-h"}, stdout: []string{"message list ADDRESS"}},
		{args: []string{"domain", "add", "--help"}, stdout: []string{"Usage: xtramail domain add NAME", "-retention-days", "-data"}, notOut: []string{"-json"}},
		{args: []string{"domain", "list", "--help"}, stdout: []string{"-json"}, notOut: []string{"-retention-days"}},
		{args: []string{"user", "remove", "--help"}, stdout: []string{"-yes"}},
		{args: []string{"log", "search", "--help"}, stdout: []string{"login-failed", "7d"}},
		{args: []string{"message", "list", "--help"}, stdout: []string{"-deleted", "-mailbox", "-since"}},
		{args: []string{"serve", "--help"}, stdout: []string{"-dev", "-capture-listen"}},
		{args: []string{}, code: 2, stderr: []string{"Usage: xtramail COMMAND", "no command given"}},
		{args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{args: []string{"domain"}, code: 2, stderr: []string{"domain needs a subcommand", "domain add NAME"}},
		{args: []string{"domain", "frobnicate"}, code: 2, stderr: []string{`unknown domain subcommand "frobnicate"`}},
		{args: []string{"serve", "extra"}, code: 2, stderr: []string{"serve: takes no arguments"}},
	})
}

// TestCLIDataDirectoryMustExist guards issue 12 part 6: a mistyped --data
// (or configuration data) is an error for every command but serve, and
// creates nothing.
func TestCLIDataDirectoryMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	empty := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(cfg, []byte("data = "+strconvQuote(missing)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notThere := []string{"data directory " + missing + " does not exist"}
	runCases(t, missing, []cliCase{
		{args: []string{"log", "search", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"log", "search", "--config", cfg}, code: 1, stderr: notThere},
		{args: []string{"domain", "add", "example.test", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"domain", "list", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"user", "add", "a@example.test", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"user", "list", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"message", "list", "a@example.test", "--data", missing}, code: 1, stderr: notThere},
		{args: []string{"domain", "list", "--config", "/nonexistent/x.toml"}, code: 1, stderr: []string{"no such file"}},
		// An existing directory without a store: only domain add starts one, and says so.
		{args: []string{"log", "search", "--data", empty}, code: 1, stderr: []string{"no xtramail store in " + empty}},
		{args: []string{"user", "add", "a@example.test", "--data", empty}, code: 1, stderr: []string{"no xtramail store in " + empty}},
	})
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command created the missing data directory: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("a read command wrote into the empty directory: %v", ents)
	}
	runCases(t, empty, []cliCase{
		{args: []string{"domain", "add", "example.test", "--data", empty}, stdout: []string{"domain example.test added"}, stderr: []string{"new store in " + empty}},
		{args: []string{"log", "search", "--data", empty}, stdout: []string{"TIME (UTC)"}},
	})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestCLIVersion checks --version against what the go command stamped
// into the binary it built.
func TestCLIVersion(t *testing.T) {
	code, out, errOut := xtBin(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "xtramail ") {
		t.Fatalf("--version: exit %d, %q %q", code, out, errOut)
	}
	if _, out2, _ := xtBin(t, "", "version"); out2 != out {
		t.Errorf("version %q differs from --version %q", out2, out)
	}
	meta, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	rev := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=(\S+)$`).FindSubmatch(meta)
	switch {
	case rev != nil && !strings.Contains(out, "revision "+string(rev[1])):
		t.Errorf("--version %q does not name the stamped revision %s", out, rev[1])
	case rev == nil && !strings.Contains(out, "revision unknown"):
		t.Errorf("--version %q names a revision the build does not carry", out)
	}
	if !strings.Contains(out, runtime.Version()) {
		t.Errorf("--version %q lacks the Go version", out)
	}
}

// TestFormatVersion covers the stamped forms that a test binary built in a
// worktree cannot carry.
func TestFormatVersion(t *testing.T) {
	for _, c := range []struct {
		settings []debug.BuildSetting
		version  string
		want     string
	}{
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-12-05T07:00:00Z"}, {Key: "vcs.modified", Value: "false"}},
			"v1.2.3", "xtramail v1.2.3 revision 0123abc (2026-12-05T07:00:00Z), go1.99"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "true"}},
			"(devel)", "xtramail (devel) revision 0123abc with uncommitted changes, go1.99"},
		{nil, "(devel)", "xtramail (devel) revision unknown (built without VCS information), go1.99"},
	} {
		bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: c.version}, Settings: c.settings}
		if got := formatVersion(bi); got != c.want {
			t.Errorf("formatVersion:\n got %q\nwant %q", got, c.want)
		}
	}
}

// snakeKey is the one JSON key style of every --json output.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkSnake fails for any key of a decoded JSON value that is not
// snake_case.
func checkSnake(t *testing.T, what string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if !snakeKey.MatchString(k) {
				t.Errorf("%s: JSON key %q is not snake_case", what, k)
			}
			checkSnake(t, what, e)
		}
	case []any:
		for _, e := range v {
			checkSnake(t, what, e)
		}
	}
}

// decodeJSON reads one JSON document or JSON lines.
func decodeJSON(t *testing.T, what, s string) []any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var out []any
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v in %q", what, err, s)
		}
		out = append(out, v)
	}
	return out
}
