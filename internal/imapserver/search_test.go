package imapserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// Every SEARCH key end to end, briefly (imapmsg tests each key in depth).
func TestSearchKeys(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", "From: Carol <carol@example.com>\r\nTo: alice@example.org\r\nCc: dave@example.com\r\nBcc: eve@example.com\r\n"+
		"Subject: Quarterly asdfghjkl report\r\nDate: Mon, 16 Nov 2026 09:00:00 +0000\r\nX-Tag: blue\r\n\r\nThe numbers are in.\r\n", store.FlagSeen|store.FlagAnswered)
	e.deliver("INBOX", msg("lunch", "Shall we meet at noon? Pizza."), store.FlagFlagged|store.FlagDraft)
	e.deliver("INBOX", msg("deleted one", "bye"), store.FlagDeleted)
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok(`STORE 2 +FLAGS ($Lunch)`)
	cases := []struct{ query, want string }{
		{"ALL", "* SEARCH 1 2 3"},
		{"1:2", "* SEARCH 1 2"},
		{"UID 2:*", "* SEARCH 2 3"},
		{"ANSWERED", "* SEARCH 1"},
		{"UNANSWERED", "* SEARCH 2 3"},
		{"DELETED", "* SEARCH 3"},
		{"UNDELETED", "* SEARCH 1 2"},
		{"DRAFT", "* SEARCH 2"},
		{"UNDRAFT", "* SEARCH 1 3"},
		{"FLAGGED", "* SEARCH 2"},
		{"UNFLAGGED", "* SEARCH 1 3"},
		{"SEEN", "* SEARCH 1"},
		{"UNSEEN", "* SEARCH 2 3"},
		{"KEYWORD $Lunch", "* SEARCH 2"},
		{"UNKEYWORD $Lunch", "* SEARCH 1 3"},
		{"RECENT", "* SEARCH"},
		{"NEW", "* SEARCH"},
		{"OLD", "* SEARCH 1 2 3"},
		{"FROM carol", "* SEARCH 1"},
		{"TO alice", "* SEARCH 1 2 3"},
		{"CC dave", "* SEARCH 1"},
		{"BCC eve", "* SEARCH 1"},
		{"SUBJECT lunch", "* SEARCH 2"},
		{"HEADER X-Tag blue", "* SEARCH 1"},
		{`HEADER X-Tag ""`, "* SEARCH 1"},
		{"BODY pizza", "* SEARCH 2"},
		{"TEXT sdfghjk", "* SEARCH 1"}, // a substring of a word
		{"TEXT carol", "* SEARCH 1"},
		{"TEXT nothinglikethis", "* SEARCH"},
		{"BEFORE 21-Nov-2026", "* SEARCH 1 2 3"},
		{"ON 20-Nov-2026", "* SEARCH 1 2 3"},
		{"SINCE 21-Nov-2026", "* SEARCH"},
		{"SENTBEFORE 17-Nov-2026", "* SEARCH 1"},
		{"SENTON 20-Nov-2026", "* SEARCH 2 3"},
		{"SENTSINCE 18-Nov-2026", "* SEARCH 2 3"},
		{"LARGER 200", "* SEARCH 1"},
		{"SMALLER 200", "* SEARCH 2 3"},
		{"MODSEQ 1", "* SEARCH 1 2 3 (MODSEQ "},
		{"NOT SEEN", "* SEARCH 2 3"},
		{"OR SEEN FLAGGED", "* SEARCH 1 2"},
		{"(SEEN ANSWERED) FROM carol", "* SEARCH 1"},
		{"CHARSET UTF-8 SUBJECT lunch", "* SEARCH 2"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			// MODSEQ turns CONDSTORE on: the mailbox's HIGHESTMODSEQ
			// comes first (TestCondStoreEnabledWhileSelected).
			lines := slices.DeleteFunc(c.ok("SEARCH "+tc.query), func(l string) bool { return strings.HasPrefix(l, "* OK [HIGHESTMODSEQ ") })
			if len(lines) != 1 || !(lines[0] == tc.want || len(tc.want) > 0 && tc.want[len(tc.want)-1] == ' ' && len(lines[0]) > len(tc.want) && lines[0][:len(tc.want)] == tc.want) {
				t.Errorf("SEARCH %s: %q, want %q", tc.query, lines, tc.want)
			}
		})
	}
	c.want("SEARCH CHARSET KOI8-R FROM x", "NO [BADCHARSET (UTF-8 US-ASCII)]")
	has(t, c.ok("UID SEARCH FLAGGED"), "* SEARCH 2")

	// ESEARCH (RFC 4731) and SEARCHRES (RFC 5182).
	has(t, c.ok("SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED"), `* ESEARCH (TAG "a`, "MIN 1 MAX 2 ALL 1:2 COUNT 2")
	has(t, c.ok("UID SEARCH RETURN () ALL"), "UID ALL 1:3")
	has(t, c.ok("SEARCH RETURN (COUNT) TEXT nothinglikethis"), "COUNT 0")
	lines := c.ok("SEARCH RETURN (SAVE) FLAGGED")
	if len(lines) != 0 {
		t.Errorf("SAVE alone: %q", lines)
	}
	has(t, c.ok("FETCH $ (UID)"), "* 2 FETCH (UID 2)")
	has(t, c.ok("SEARCH $"), "* SEARCH 2")
	has(t, c.ok("UID SEARCH UID $"), "* SEARCH 2")
}

// TestSearchSaveDollarIsPreviousResult: "$" in a SEARCH that also saves is the result
// saved before it (RFC 5182 section 2.1), as in mox and Dovecot.
func TestSearchSaveDollarIsPreviousResult(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("s1", "x"), store.FlagFlagged)
	e.deliver("INBOX", msg("s2", "x"), store.FlagFlagged)
	e.deliver("INBOX", msg("s3", "x"), store.FlagFlagged)
	e.deliver("INBOX", msg("s4", "x"), 0)
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("SEARCH RETURN (SAVE) 2:4")
	c.ok("SEARCH RETURN (SAVE) $ FLAGGED")
	lines := c.ok("FETCH $ (UID)")
	has(t, lines, "* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)")
	if len(lines) != 2 {
		t.Errorf("FETCH $ after SAVE with $: %q", lines)
	}
	has(t, c.ok("SEARCH RETURN (SAVE ALL) NOT $"), "ALL 1,4")
	has(t, c.ok("SEARCH $"), "* SEARCH 1 4")
}
