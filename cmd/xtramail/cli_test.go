package main

import (
	"bytes"
	"strings"
	"testing"
)

// xt runs the CLI in-process on dir and returns exit code, stdout, stderr.
func xt(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append(args, "--data", dir), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		args  []string
		stdin string
		code  int
		want  string // in stdout on success, in stderr on failure
	}{
		{[]string{"domain", "add", "Example.TEST", "--retention-days", "7"}, "", 0, "domain example.test added, messages kept 7 days"},
		{[]string{"domain", "add", "example.test"}, "", 1, "domain example.test: already exists"},
		{[]string{"domain", "add", "bad domain"}, "", 1, "invalid"},
		{[]string{"domain", "add", "x.test", "--retention-days", "0"}, "", 0, "kept 30 days"},
		{[]string{"domain", "add", "y.test", "--retention-days", "-3"}, "", 1, "retention of -3 days"},
		{[]string{"domain", "list"}, "", 0, "example.test  7 days"},
		{[]string{"user", "add", "bob@nowhere.test"}, "", 1, "domain nowhere.test (add it first): not found"},
		{[]string{"user", "add", "not-an-address"}, "", 1, `address "not-an-address": invalid`},
		{[]string{"user", "add", "Bob@example.test", "--password-stdin"}, "correct horse\n", 0, "address bob@example.test protected (password set)"},
		{[]string{"user", "add", "bob@example.test"}, "", 1, "address bob@example.test: already exists"},
		{[]string{"user", "add", "carol@example.test"}, "", 0, "no password yet"},
		{[]string{"user", "passwd", "carol@example.test"}, "", 2, "needs --password-stdin"},
		{[]string{"user", "passwd", "carol@example.test", "--password-stdin"}, "short\n", 1, "password too short"},
		{[]string{"user", "passwd", "carol@example.test", "--password-stdin"}, "", 1, "no password on standard input"},
		{[]string{"user", "passwd", "nobody@example.test", "--password-stdin"}, "long enough pw\n", 1, "not found"},
		{[]string{"user", "passwd", "carol@example.test", "--password-stdin"}, "long enough pw\r\n", 0, "password of carol@example.test changed"},
		{[]string{"user", "disable", "carol@example.test"}, "", 0, "disabled"},
		{[]string{"user", "list", "--domain", "example.test"}, "", 0, "carol@example.test  disabled"},
		{[]string{"user", "list", "--domain", "nowhere.test"}, "", 1, "not found"},
		{[]string{"user", "enable", "nobody@example.test"}, "", 1, "not found"},
		{[]string{"domain", "remove", "example.test"}, "", 1, "has 2 addresses; remove them first"},
		{[]string{"user", "remove", "carol@example.test"}, "", 0, "removed"},
		{[]string{"user", "remove", "bob@example.test"}, "", 0, "removed"},
		{[]string{"domain", "remove", "example.test"}, "", 0, "domain example.test removed"},
		{[]string{"domain", "retention", "x.test", "abc"}, "", 2, "not a number"},
		{[]string{"domain", "retention", "x.test", "45"}, "", 0, "45 days"},
		{[]string{"domain", "frobnicate"}, "", 2, "unknown domain subcommand"},
		{[]string{"user", "add"}, "", 2, "takes 1 argument"},
		{[]string{"log", "search", "--since", "soon"}, "", 2, "invalid value"},
		{[]string{"log", "search", "--status", "refused"}, "", 0, "TIME"},
		{[]string{"frobnicate"}, "", 2, "unknown command"},
	}
	for _, s := range steps {
		code, out, errOut := xt(t, dir, s.stdin, s.args...)
		got := out
		if s.code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(got, s.want) {
			t.Errorf("xtramail %s: exit %d, stdout %q, stderr %q; want exit %d with %q",
				strings.Join(s.args, " "), code, out, errOut, s.code, s.want)
		}
	}
}

func TestCLIConfigErrors(t *testing.T) {
	code, _, errOut := xt(t, t.TempDir(), "", "domain", "list", "--config", "/nonexistent/x.toml")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing config: exit %d, %q", code, errOut)
	}
}
