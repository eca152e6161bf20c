package imapwire

import (
	"errors"
	"strings"
	"testing"
)

// TestCommandsLookupRefusesBeforeArguments guards Options.Commands: an
// error refuses the command before its literal is announced with "+",
// unknown names and UID forms are reported, and the returned parser is
// the one used.
func TestCommandsLookupRefusesBeforeArguments(t *testing.T) {
	lookup := func(name string, uid bool) (ParseFunc, error) {
		switch {
		case name == "APPEND":
			return nil, errors.New("sign in first")
		case name == "SORTX" && !uid:
			return ParseMailbox, nil
		}
		return nil, nil
	}
	for _, tc := range []struct{ in, want string }{
		{"a APPEND INBOX {100}\r\n", "sign in first"},
		{"b FETCH 1 FLAGS\r\n", "unknown command"},
		{"c UID SORTX x\r\n", "UID SORTX is not a command"},
	} {
		_, err, conts := readOne(t, tc.in, Options{Commands: lookup})
		var perr *ParseError
		if !errors.As(err, &perr) || !strings.Contains(perr.Msg, tc.want) || perr.Fatal {
			t.Errorf("%q: err %v, want non-fatal %q", tc.in, err, tc.want)
		}
		if len(conts) != 0 {
			t.Errorf("%q: continuation requests %q", tc.in, conts)
		}
	}
	cmd, err, _ := readOne(t, "d SORTX INBOX\r\n", Options{Commands: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := cmd.Args.(*MailboxArgs); !ok || a.Mailbox != "INBOX" {
		t.Errorf("args %#v", cmd.Args)
	}
}
