package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestInvalidMailboxNameNo: a mailbox name that is a valid astring but not
// valid modified UTF-7 is answered NO, not BAD, by every command that
// takes one, and the session goes on (RFC 9051 section 7.1, RFC 3501
// section 5.1.3). Before sign-in the command is still BAD.
func TestInvalidMailboxNameNo(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.want("SELECT &Jjo!", "BAD")
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	for _, cmd := range []string{
		"SELECT &Jjo!", "EXAMINE &AGE-", `CREATE "x&AOQ"`, "DELETE &-&", "RENAME INBOX &Jjo!",
		"SUBSCRIBE &Jjo!", "UNSUBSCRIBE &Jjo!", "STATUS &Jjo! (MESSAGES)", `LIST "" &Jjo!`,
	} {
		_, st := c.cmd(cmd)
		if !strings.HasPrefix(st, "NO") {
			t.Errorf("%s: %s, want NO", cmd, st)
		}
	}
	// APPEND: the literal is read, then NO; the next command works.
	m := msg("x", "y")
	c.send(fmt.Sprintf("ap APPEND &Jjo! {%d+}\r\n%s", len(m), m))
	if _, st := c.until("ap"); !strings.HasPrefix(st, "NO") {
		t.Errorf("APPEND to an invalid name: %s", st)
	}
	c.ok("SELECT INBOX")
	c.want("COPY 1:* &Jjo!", "NO")
	c.ok("NOOP")
	// A valid name still works.
	c.ok("CREATE Entw&APw-rfe")
}
