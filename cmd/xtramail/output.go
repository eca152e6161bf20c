package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/store"
)

// Output helpers shared by every command. JSON keys are snake_case in
// every --json output: each command prints its own row types with json
// tags, never a store type without them.

// newTable returns a writer of tab-separated cells, one row a line, as
// aligned columns. Cells hold what clients and remote servers sent (a
// remote reply, a refused user name, a subject): an escape sequence
// among them would be run by the administrator's terminal (clear the
// screen, retitle the window) and a bidirectional override would make a
// row read as something else, so each control or bidirectional
// formatting character is shown as U+FFFD, but for the table's own tabs
// and line ends.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(termSafe{w}, 0, 4, 2, ' ', 0)
}

// termSafe is newTable's output: tabwriter writes a cell with one Write,
// so a rune is never split between two.
type termSafe struct{ w io.Writer }

func (t termSafe) Write(p []byte) (int, error) {
	layout := func(r rune) rune {
		if r == '\t' || r == '\n' {
			return r
		}
		return cellRune(r)
	}
	if !bytes.ContainsFunc(p, func(r rune) bool { return layout(r) != r }) {
		return t.w.Write(p)
	}
	if _, err := t.w.Write(bytes.Map(layout, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// cellRune is r as a table cell shows it: U+FFFD for a control or
// bidirectional formatting character.
func cellRune(r rune) rune {
	if store.Hidden(r) {
		return utf8.RuneError
	}
	return r
}

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
