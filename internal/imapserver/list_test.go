package imapserver_test

import (
	"strings"
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

// TestListSpecialUseEveryForm: a mailbox's special use is shown by every
// form of LIST and by LSUB, not only by a plain LIST and RETURN
// (SPECIAL-USE): RETURN (STATUS ...) and RETURN (CHILDREN) left \Sent,
// \Drafts and \Trash out, so a client saw them come and go.
func TestListSpecialUseEveryForm(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	c.ok("CREATE Projects")
	c.ok("SUBSCRIBE Projects")
	want := []string{`\Drafts) "/" Drafts`, `\Sent) "/" Sent`, `\Trash) "/" Trash`}
	for _, command := range []string{
		`LIST "" *`,
		`LIST "" %`,
		`LIST () "" *`,
		`LIST (SPECIAL-USE) "" *`,
		`LIST (SUBSCRIBED) "" *`,
		`LIST (SUBSCRIBED RECURSIVEMATCH) "" *`,
		`LIST "" * RETURN ()`,
		`LIST "" * RETURN (SPECIAL-USE)`,
		`LIST "" * RETURN (CHILDREN)`,
		`LIST "" * RETURN (SUBSCRIBED)`,
		`LIST "" * RETURN (STATUS (MESSAGES UNSEEN))`,
		`LIST "" (Sent Drafts Trash) RETURN (STATUS (UIDNEXT))`,
		`LIST () "" * RETURN (SUBSCRIBED CHILDREN STATUS (SIZE))`,
		`LSUB "" *`,
	} {
		t.Run(command, func(t *testing.T) {
			lines := c.ok(command)
			has(t, lines, want...)
			for _, l := range lines {
				if strings.HasSuffix(l, `"/" Projects`) || strings.HasSuffix(l, `"/" INBOX`) {
					for _, use := range []string{`\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`} {
						if strings.Contains(l, use) {
							t.Errorf("%q: a special use on a mailbox without one", l)
						}
					}
				}
			}
		})
	}
	c.ok("ENABLE IMAP4rev2")
	has(t, c.ok(`LIST "" * RETURN (STATUS (MESSAGES))`), want...)
	// The LIST response of an IMAP4rev2 SELECT has accurate attributes
	// (RFC 9051 section 6.3.2): the special use too.
	has(t, c.ok("SELECT Sent"), `* LIST (\Sent) "/" Sent`)
	has(t, c.ok("EXAMINE Projects"), `* LIST () "/" Projects`)
}
