package imapserver_test

import (
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

func TestListAndManage(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	lines := c.ok(`LIST "" ""`)
	has(t, lines, `* LIST (\Noselect) "/" ""`)
	lines = c.ok(`LIST "" *`)
	has(t, lines, `* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* LIST (\HasNoChildren \Drafts) "/" Drafts`, `* LIST (\HasNoChildren \Trash) "/" Trash`)

	c.ok("CREATE Projects/2026")
	c.want("CREATE Projects", "NO [ALREADYEXISTS]")
	c.want("CREATE inbox", "NO [ALREADYEXISTS]")
	c.ok("CREATE &ZeVnLIqe-") // 日本語 in modified UTF-7
	lines = c.ok(`LIST "" %`)
	has(t, lines, `(\HasChildren) "/" Projects`, `"/" &ZeVnLIqe-`)
	hasNot(t, lines, "Projects/2026")
	lines = c.ok(`LIST Projects %`)
	has(t, lines, `"/" Projects/2026`)
	lines = c.ok(`LIST "" "Proj*"`)
	has(t, lines, "Projects/2026", `"/" Projects`)

	c.ok("RENAME Projects Work")
	lines = c.ok(`LIST "" *`)
	has(t, lines, `"/" Work/2026`)
	hasNot(t, lines, "Projects")
	c.want("RENAME Nope Other", "NO [NONEXISTENT]")
	c.want("RENAME Work Sent", "NO [ALREADYEXISTS]")

	e.deliver("INBOX", msg("keep", "x"), 0)
	c.ok("SELECT INBOX")
	c.ok("COPY 1 Work/2026")
	c.ok("DELETE Work/2026")
	c.want("DELETE INBOX", "NO [CANNOT]")
	c.want("DELETE Trash", "NO [CANNOT]")
	c.want("DELETE Nope", "NO [NONEXISTENT]")
	lines = c.ok("STATUS Trash (MESSAGES)")
	has(t, lines, "* STATUS Trash (MESSAGES 1)")

	c.ok("SUBSCRIBE Work")
	lines = c.ok(`LSUB "" *`)
	has(t, lines, `* LSUB (`, `"/" Work`)
	lines = c.ok(`LIST (SUBSCRIBED) "" *`)
	has(t, lines, `\Subscribed`, `"/" Work`)
	c.ok("UNSUBSCRIBE Work")
	lines = c.ok(`LIST (SUBSCRIBED) "" *`)
	hasNot(t, lines, `"/" Work`)

	// LIST-EXTENDED with SPECIAL-USE and LIST-STATUS.
	lines = c.ok(`LIST (SPECIAL-USE) "" * RETURN (STATUS (MESSAGES UIDNEXT))`)
	has(t, lines, `"/" Sent`, `* STATUS Sent (MESSAGES 0 UIDNEXT 1)`)
	hasNot(t, lines, `"/" INBOX`)
	lines = c.ok(`LIST "" (INBOX Drafts) RETURN (CHILDREN)`)
	has(t, lines, `"/" INBOX`, `"/" Drafts`)
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("a", "x"), 0)
	e.deliver("INBOX", msg("b", "y"), store.FlagSeen|store.FlagDeleted)
	c := e.login()
	lines := c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ") ||
		!strings.Contains(lines[0], "UNSEEN 1 DELETED 1 SIZE ") || !strings.Contains(lines[0], "HIGHESTMODSEQ ") {
		t.Errorf("STATUS: %q", lines)
	}
	c.want("STATUS Nope (MESSAGES)", "NO [NONEXISTENT]")
}

func TestEnableIDNamespace(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	has(t, c.ok("ENABLE CONDSTORE QRESYNC UNKNOWN"), "* ENABLED CONDSTORE QRESYNC")
	has(t, c.ok("ID NIL"), `* ID ("name" "xtramail")`)
	has(t, c.ok("NAMESPACE"), `* NAMESPACE (("" "/")) NIL NIL`)
	has(t, c.ok("ENABLE IMAP4rev2"), "* ENABLED IMAP4rev2")
	// IMAP4rev2: mailbox names in UTF-8, LIST in SELECT, no RECENT.
	c.ok(`CREATE "Café"`)
	has(t, c.ok(`LIST "" Caf*`), `"/" "Café"`)
	lines := c.ok("SELECT INBOX")
	has(t, lines, `* LIST () "/" INBOX`)
	hasNot(t, lines, "RECENT")
}
