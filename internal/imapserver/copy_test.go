package imapserver_test

import (
	"context"
	"testing"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

func TestCopyMove(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"a", "b", "c"} {
		e.deliver("INBOX", msg(s, s), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("COPY 1:2 Trash")
	if st := c.tagLine(); st != "OK [COPYUID "+uidValidity(t, e, "Trash")+" 1:2 1:2] COPY completed" {
		t.Errorf("COPY: %q", st)
	}
	c.want("COPY 1 Nope", "NO [TRYCREATE]")

	lines := c.ok("MOVE 2 Drafts")
	has(t, lines, "* OK [COPYUID "+uidValidity(t, e, "Drafts")+" 2 1]", "* 2 EXPUNGE")
	lines = c.ok("UID MOVE 3 Drafts")
	has(t, lines, "[COPYUID "+uidValidity(t, e, "Drafts")+" 3 2]", "* 2 EXPUNGE")
	has(t, c.ok("STATUS Drafts (MESSAGES)"), "MESSAGES 2")
	has(t, c.ok("SEARCH ALL"), "* SEARCH 1")

	// Events are written in the background; Shutdown drains them.
	e.stop()
	events, err := e.st.SearchLog(context.Background(), store.LogQuery{Status: msglog.Moved})
	if err != nil || len(events) != 2 {
		t.Errorf("moved events: %v %v", events, err)
	}
}

func uidValidity(t *testing.T, e *env, name string) string {
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return itoa(mb.UIDValidity)
}

func itoa(n uint32) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
