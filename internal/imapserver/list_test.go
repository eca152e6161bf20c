package imapserver_test

import (
	"testing"
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
