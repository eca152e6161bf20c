package imapserver_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

const multipartMsg = "From: \"Bob B.\" <bob@example.net>\r\n" +
	"To: undisclosed-recipients:;\r\n" +
	"Subject: =?UTF-8?Q?caf=C3=A9?=\r\n" +
	"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XX\r\n" +
	"\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"hello world\r\n" +
	"--XX\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAw==\r\n" +
	"--XX--\r\n"

func TestSelectExamine(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("one", "first"), 0)
	e.deliver("INBOX", msg("two", "second"), store.FlagSeen)
	c := e.login()
	lines := c.ok("SELECT INBOX")
	has(t, lines, "* 2 EXISTS", "* 0 RECENT", "[UIDVALIDITY ", "[UIDNEXT 3]", "[PERMANENTFLAGS (", "[HIGHESTMODSEQ ", "* FLAGS (")
	if !strings.Contains(c.tagLine(), "[READ-WRITE]") {
		t.Error("SELECT not READ-WRITE")
	}
	lines = c.ok("EXAMINE INBOX")
	has(t, lines, "[CLOSED]", "* 2 EXISTS")
	if !strings.Contains(c.tagLine(), "[READ-ONLY]") {
		t.Error("EXAMINE not READ-ONLY")
	}
	// EXAMINE never sets \Seen, and STORE is refused.
	lines = c.ok("FETCH 1 (BODY[] FLAGS)")
	hasNot(t, lines, `\Seen`)
	c.want(`STORE 1 +FLAGS (\Flagged)`, "NO")
	c.want("EXPUNGE", "NO")
	c.want("SELECT Nonexistent", "NO [NONEXISTENT]")
	c.want("FETCH 1 FLAGS", "BAD") // no mailbox selected after a failed SELECT
}

// tagLine returns the last tagged status line (kept by cmd).
func (c *conn) tagLine() string { return c.last }

func TestFetchItems(t *testing.T) {
	e := newEnv(t)
	uid := e.deliver("INBOX", multipartMsg, 0)
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY MODSEQ)")
	has(t, lines, fmt.Sprintf("UID %d", uid), "FLAGS ()", `INTERNALDATE "20-Nov-2026 10:00:00 +0000"`,
		fmt.Sprintf("RFC822.SIZE %d", len(multipartMsg)), `ENVELOPE ("Fri, 20 Nov 2026 10:00:00 +0000" "=?UTF-8?Q?caf=C3=A9?="`,
		`BODYSTRUCTURE (("TEXT" "PLAIN"`, `"MIXED"`, "MODSEQ (")

	lines = c.ok("UID FETCH " + fmt.Sprint(uid) + " (BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.6> BINARY.PEEK[2] BINARY.SIZE[2] RFC822.HEADER)")
	has(t, lines, "BODY[] {"+fmt.Sprint(len(multipartMsg))+"}\r\n"+multipartMsg,
		"BODY[1] {11}\r\nhello world",
		"BODY[HEADER.FIELDS (Subject)] {",
		"BODY[TEXT]<0> {6}\r\n--XX\r\n",
		"BINARY[2] ~{4}\r\n\x00\x01\x02\x03",
		"BINARY.SIZE[2] 4",
		"RFC822.HEADER {")
	hasNot(t, lines, `\Seen`)

	// A non-peek body fetch sets \Seen and shows it in the same response.
	lines = c.ok("FETCH 1 (BODY[1])")
	has(t, lines, `FLAGS (\Seen)`)
	lines = c.ok("FETCH 1 (RFC822)")
	has(t, lines, "RFC822 {")
	hasNot(t, lines, "FLAGS") // already seen: no change to report

	c.want("FETCH 5 FLAGS", "BAD")
	c.ok("UID FETCH 999 FLAGS")
	c.ok("FETCH 1:* FAST")
	c.ok("FETCH 5:* FLAGS")
	c.ok("EXAMINE Trash")
	c.ok("FETCH 1:* FLAGS") // empty mailbox: nothing, but OK
}

func TestStoreFlags(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok(`STORE 1:2 +FLAGS (\Flagged $Important)`)
	has(t, lines, `* 1 FETCH (FLAGS (\Flagged $Important))`, `* 2 FETCH (FLAGS (\Flagged $Important))`)
	lines = c.ok(`STORE 1 -FLAGS.SILENT (\Flagged)`)
	if len(lines) != 0 {
		t.Errorf("silent store answered %q", lines)
	}
	lines = c.ok(`UID STORE 3 FLAGS (\Seen \Deleted)`)
	has(t, lines, `* 3 FETCH (FLAGS (\Deleted \Seen) UID 3)`)
	lines = c.ok(`FETCH 1:* FLAGS`)
	has(t, lines, `* 1 FETCH (FLAGS ($Important))`, `* 2 FETCH (FLAGS (\Flagged $Important))`)
	c.want(`STORE 1 +FLAGS (\Bogus)`, "BAD")
	c.want(`STORE 1 +FLAGS (bad"kw)`, "BAD")

	// EXPUNGE removes \Deleted messages and reports them; they stay
	// restorable in the store.
	lines = c.ok("EXPUNGE")
	has(t, lines, "* 3 EXPUNGE")
	lines = c.ok("UID SEARCH ALL")
	has(t, lines, "* SEARCH 1 2")
	mb, _ := e.st.Mailbox(t.Context(), e.account.ID, "INBOX")
	gone, err := e.st.Expunged(t.Context(), e.account.ID, mb.ID)
	if err != nil || len(gone) != 1 {
		t.Errorf("expunged in store: %v, %v", gone, err)
	}
	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	lines = c.ok("UID EXPUNGE 1")
	if len(lines) != 0 {
		t.Errorf("UID EXPUNGE of a message without \\Deleted: %q", lines)
	}
	lines = c.ok("UID EXPUNGE 1:2")
	has(t, lines, "* 2 EXPUNGE")
	// CLOSE expunges silently.
	c.ok(`STORE 1 +FLAGS (\Deleted)`)
	lines = c.ok("CLOSE")
	hasNot(t, lines, "EXPUNGE")
	lines = c.ok("SELECT INBOX")
	has(t, lines, "* 0 EXISTS")
	c.ok("UNSELECT")
	c.want("FETCH 1 FLAGS", "BAD")
}

// Large sets are answered from the shared flag snapshot; it follows
// changes made by other sessions and by the store.
func TestFlagSnapshot(t *testing.T) {
	e := newEnv(t)
	const n = 700
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 10 {
				e.deliver("INBOX", msg(fmt.Sprint("bulk ", i), "x"), 0)
			}
		}()
	}
	wg.Wait()
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	if lines := a.ok("FETCH 1:* (FLAGS)"); len(lines) != n {
		t.Fatalf("%d FETCH lines", len(lines))
	}
	b.ok(`STORE 600:700 +FLAGS.SILENT (\Seen)`)
	b.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.ok("EXPUNGE")
	lines := a.ok("UID FETCH 1:* (FLAGS)")
	seen := 0
	for _, l := range lines {
		// Unsolicited updates (no UID) come first, then the response.
		if strings.Contains(l, `\Seen`) && strings.Contains(l, "UID") {
			seen++
		}
	}
	if seen != 101 {
		t.Errorf("%d seen, want 101", seen)
	}
	has(t, lines, "* 1 EXPUNGE")
	lines = a.ok("SEARCH UNSEEN")
	if len(lines) != 1 || len(strings.Fields(lines[0])) != 2+598 {
		t.Errorf("SEARCH UNSEEN: %d numbers", len(strings.Fields(lines[0]))-2)
	}
	e.deliverNew("INBOX", msg("late", "x"), store.FlagFlagged)
	lines = a.ok("UID FETCH 1:* (FLAGS)")
	has(t, lines, "* 700 EXISTS", `* 700 FETCH (UID 701 FLAGS (\Flagged \Recent))`)
}
