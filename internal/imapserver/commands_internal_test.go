package imapserver

import (
	"reflect"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
)

// TestCommandTableRowsComplete guards the command table: every row can be
// parsed, run and refused, and it names the same parser as imapwire's
// StandardCommands for every command both know, so that tools using the
// default parse what the server parses.
func TestCommandTableRowsComplete(t *testing.T) {
	list := commandTable()
	byName := commandsByName(list)
	if len(byName) != len(list) {
		t.Fatalf("%d rows, %d names", len(list), len(byName))
	}
	ptr := func(f imapwire.ParseFunc) uintptr { return reflect.ValueOf(f).Pointer() }
	for _, c := range list {
		if c.parse == nil || c.handle == nil || c.states == 0 {
			t.Errorf("%s: incomplete row (parse %v, handle %v, states %b)", c.name, c.parse != nil, c.handle != nil, c.states)
		}
		for _, uid := range []bool{false, true} {
			std, err := imapwire.StandardCommands(c.name, uid)
			if err != nil {
				t.Fatal(err)
			}
			if uid && !c.uid {
				if std != nil {
					t.Errorf("UID %s: imapwire knows a UID form, the table does not", c.name)
				}
				continue
			}
			if std != nil && ptr(std) != ptr(c.parse) {
				t.Errorf("%s (uid %v): table and StandardCommands name different parsers", c.name, uid)
			}
		}
	}
}

// TestCommandTablePanicsOnDuplicate guards against a command added twice,
// where the second row would silently win.
func TestCommandTablePanicsOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a duplicate row")
		}
	}()
	commandsByName([]*command{{name: "NOOP"}, {name: "NOOP"}})
}
