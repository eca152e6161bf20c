package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestCommandHelpAndBadFlagsOnce: every command of the table answers
// --help (and -h) with its usage once, on stdout, exit 0, and a flag it
// does not take, or one without its value, with the error and one line
// of where the usage is, on stderr, exit 2. Before, the flag package
// printed the usage and runCommand printed it again (twice on --help),
// and a bad flag wrote the whole usage to stdout.
func TestCommandHelpAndBadFlagsOnce(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			words := strings.Fields(cmd.name)
			for _, help := range []string{"--help", "-h"} {
				code, out, errOut := xtBin(t, "", append(words, help)...)
				if code != 0 || strings.Count(out, "Usage:") != 1 || !strings.HasPrefix(out, "Usage: xtramail "+cmd.name) || errOut != "" {
					t.Errorf("xtramail %s %s: exit %d\nstdout %q\nstderr %q\nwant exit 0 and the usage once on stdout", cmd.name, help, code, out, errOut)
				}
			}
			hint := fmt.Sprintf("run 'xtramail %s --help' for the flags\n", cmd.name)
			bogus := fmt.Sprintf("no-such-flag-%d", rng.IntN(1e6))
			for _, bad := range []struct {
				args []string
				err  string
			}{
				{[]string{"--" + bogus}, "flag provided but not defined: -" + bogus},
				{[]string{"--data"}, "flag needs an argument: -data"},
			} {
				code, out, errOut := xtBin(t, "", append(words, bad.args...)...)
				want := fmt.Sprintf("xtramail: %s: %s\n%s", cmd.name, bad.err, hint)
				if code != 2 || out != "" || errOut != want {
					t.Errorf("xtramail %s %s: exit %d\nstdout %q\nstderr %q\nwant exit 2, nothing on stdout, stderr %q",
						cmd.name, strings.Join(bad.args, " "), code, out, errOut, want)
				}
			}
		})
	}
}
