package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

// Output helpers shared by every command. JSON keys are snake_case in
// every --json output: each command prints its own row types with json
// tags, never a store type without them.

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON (snake_case keys)")
}

// printList prints a list command's rows: as one JSON array with asJSON
// (an empty one, not null, when there are none), else as a table of the
// header line and one line of tab-separated cells per row.
func printList[R any](c *cli, asJSON bool, rows []R, header string, cells func(R) string) error {
	if asJSON {
		if rows == nil {
			rows = []R{}
		}
		return c.printJSON(rows)
	}
	tw := newTable(c.stdout)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, cells(r))
	}
	return tw.Flush()
}

// printJSON prints v as one indented JSON document.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
