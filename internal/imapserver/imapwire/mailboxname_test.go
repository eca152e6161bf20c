package imapwire

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// TestInvalidMailboxNameIsNo: a mailbox name that is a valid astring but
// not valid modified UTF-7 (or UTF-8 once on) is refused with a ParseError
// marked No, after the whole command has been read, so that the next
// command is read from its start.
func TestInvalidMailboxNameIsNo(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		utf8     bool
		cmd      string
	}{
		{"select bad shift", "a SELECT &Jjo!\r\n", false, "SELECT"},
		{"create unterminated", "a CREATE \"x&AOQ\"\r\n", false, "CREATE"},
		{"noncanonical", "a DELETE &AGE-\r\n", false, "DELETE"},
		{"rename second", "a RENAME INBOX/x \"&-&\"\r\n", false, "RENAME"},
		{"append literal after name", "a APPEND &Jjo! {3+}\r\nabc\r\n", false, "APPEND"},
		{"copy", "a UID COPY 1:* &U,BTFw\r\n", false, "COPY"},
		{"utf8 invalid", "a SELECT {2+}\r\n\xff\xfe\r\n", true, "SELECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bufio.NewReader(strings.NewReader(tc.in+"b NOOP\r\n")), Options{})
			r.SetUTF8(tc.utf8)
			_, err := r.ReadCommand()
			var perr *ParseError
			if !errors.As(err, &perr) || !perr.No || perr.Fatal || perr.Tag != "a" || perr.Name != tc.cmd {
				t.Fatalf("got %#v (%v), want a non-fatal No error for %s", perr, err, tc.cmd)
			}
			next, err := r.ReadCommand()
			if err != nil || next.Tag != "b" || next.Name != "NOOP" {
				t.Fatalf("next command: %v %v", next, err)
			}
		})
	}
	// A syntax error stays BAD even when a name is also invalid.
	r := NewReader(bufio.NewReader(strings.NewReader("a SELECT &Jjo! (BOGUS\r\n")), Options{})
	_, err := r.ReadCommand()
	var perr *ParseError
	if !errors.As(err, &perr) || perr.No {
		t.Fatalf("syntax error with a bad name: %#v", perr)
	}
}
