package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

func versionCommands() []command {
	return []command{
		{name: "version", summary: "print the module version and the VCS revision it was built from (also --version)",
			setup: func(fs *flag.FlagSet) action {
				return func(ctx context.Context, e *env, args []string) error { return e.printVersion() }
			}},
	}
}

// printVersion prints what the build carries: the module version ("(devel)"
// for a build from a checkout), the VCS revision and time, whether the tree
// had uncommitted changes, and the Go version.
func (c *cli) printVersion() error {
	fmt.Fprintln(c.stdout, versionString())
	return nil
}

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "xtramail (no build information)"
	}
	return formatVersion(bi)
}

// formatVersion renders the build information. The go command stamps the
// VCS settings when it builds in a checkout with -buildvcs on (not in a
// git worktree, nor with GOFLAGS=-buildvcs=false): without them the
// revision is said to be unknown, never guessed.
func formatVersion(bi *debug.BuildInfo) string {
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "xtramail %s", bi.Main.Version)
	if rev := s["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " revision %s", rev)
		if t := s["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
		if s["vcs.modified"] == "true" {
			b.WriteString(" with uncommitted changes")
		}
	} else {
		b.WriteString(" revision unknown (built without VCS information)")
	}
	fmt.Fprintf(&b, ", %s", bi.GoVersion)
	return b.String()
}
