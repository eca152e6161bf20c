package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestUTF8Accept: ENABLE UTF8=ACCEPT, then mailbox names in UTF-8 both
// ways and APPEND UTF8 (~{n}...) (RFC 6855 sections 3 and 4).
func TestUTF8Accept(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	has(t, c.ok("CAPABILITY"), "UTF8=ACCEPT")
	c.ok("CREATE Entw&APw-rfe") // modified UTF-7 before ENABLE
	has(t, c.ok(`LIST "" Entw*`), `"/" Entw&APw-rfe`)

	m := "From: J\u00f6rg <j@example.net>\r\nSubject: Gr\u00fc\u00dfe\r\n\r\nHallo\r\n"
	c.send(fmt.Sprintf("u0 APPEND INBOX UTF8 (~{%d+}\r\n%s)", len(m), m))
	if _, st := c.until("u0"); !strings.HasPrefix(st, "BAD") || !strings.Contains(st, "ENABLE UTF8=ACCEPT") {
		t.Fatalf("APPEND UTF8 before ENABLE: %s", st)
	}

	has(t, c.ok("ENABLE UTF8=ACCEPT"), "* ENABLED UTF8=ACCEPT")
	has(t, c.ok(`LIST "" Entw*`), `"/" "Entwürfe"`)
	c.ok(`CREATE "Büro"`)
	has(t, c.ok(`STATUS "Büro" (MESSAGES)`), `* STATUS "Büro" (MESSAGES 0)`)

	c.send(fmt.Sprintf("u1 APPEND \"Büro\" (\\Seen) UTF8 (~{%d}", len(m)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send(m + ")")
	if _, st := c.until("u1"); !strings.HasPrefix(st, "OK [APPENDUID ") {
		t.Fatalf("APPEND UTF8: %s", st)
	}
	c.ok(`SELECT "Büro"`)
	has(t, c.ok("FETCH 1 (FLAGS BODY.PEEK[])"), `FLAGS (\Seen \Recent)`, fmt.Sprintf("BODY[] {%d}\r\n%s", len(m), m))

	// The old names still read back: the store holds UTF-8.
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, "Entwürfe")
	if err != nil || mb.Name != "Entwürfe" {
		t.Fatalf("stored name: %+v %v", mb, err)
	}
}

// TestSelectUnseen: IMAP4rev1 clients get [UNSEEN n], the sequence number
// of the first unseen message (RFC 3501 section 6.3.1); IMAP4rev2
// dropped it.
func TestSelectUnseen(t *testing.T) {
	e := newEnv(t)
	e.deliver("Trash", msg("t1", "x"), store.FlagSeen)
	e.deliver("Trash", msg("t2", "x"), store.FlagSeen)
	e.deliver("Trash", msg("t3", "x"), 0)
	e.deliver("Trash", msg("t4", "x"), 0)
	e.deliver("Drafts", msg("d1", "x"), store.FlagSeen)

	c := e.login()
	lines := c.ok("EXAMINE Trash")
	has(t, lines, "* 4 EXISTS", "* OK [UNSEEN 3] ")
	// The view built from the flag snapshot answers the FETCH that
	// clients send next.
	has(t, c.ok("FETCH 1:* (UID FLAGS)"), `* 1 FETCH (UID 1 FLAGS (\Seen))`, `* 4 FETCH (UID 4 FLAGS ())`)
	hasNot(t, c.ok("SELECT Drafts"), "UNSEEN")

	// A change by another session after SELECT still shows.
	c.ok("SELECT Trash")
	o := e.login()
	o.ok("SELECT Trash")
	o.ok(`STORE 1 -FLAGS (\Seen)`)
	has(t, c.ok("FETCH 1 FLAGS"), `* 1 FETCH (FLAGS ())`)

	c2 := e.login()
	c2.ok("ENABLE IMAP4rev2")
	hasNot(t, c2.ok("SELECT Trash"), "UNSEEN")
}

// TestEnableState: ENABLE is refused once a mailbox is selected (RFC 5161
// section 3.1).
func TestEnableState(t *testing.T) {
	e := newEnv(t)
	c := e.dial()
	c.want("ENABLE CONDSTORE", "BAD")
	c.ok("LOGIN " + testUser + ` "` + testPassword + `"`)
	c.ok("SELECT INBOX")
	c.want("ENABLE CONDSTORE", "BAD")
	if !strings.Contains(c.last, "before SELECT") {
		t.Errorf("ENABLE after SELECT: %q", c.last)
	}
	c.ok("UNSELECT")
	has(t, c.ok("ENABLE CONDSTORE"), "* ENABLED CONDSTORE")
}

// TestAppendKeepsInstant: the date-time of APPEND is stored as that
// instant, to the second, whatever its zone; INTERNALDATE shows it in UTC.
func TestAppendKeepsInstant(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	for i, date := range []string{"07-Feb-1994 21:52:25 -0800", " 1-Jan-2027 00:00:59 +1345", "29-Feb-2024 23:59:58 -0330"} {
		m := msg(fmt.Sprintf("dated %d", i), "x")
		c.send(fmt.Sprintf("d%d APPEND Drafts \"%s\" {%d+}\r\n%s", i, date, len(m), m))
		_, st := c.until(fmt.Sprintf("d%d", i))
		if !strings.HasPrefix(st, "OK") {
			t.Fatalf("APPEND %q: %s", date, st)
		}
		want, err := time.Parse("_2-Jan-2006 15:04:05 -0700", date)
		if err != nil {
			t.Fatal(err)
		}
		mb, err := e.st.Mailbox(context.Background(), e.account.ID, "Drafts")
		if err != nil {
			t.Fatal(err)
		}
		uid := mb.UIDNext - 1
		msgs, err := e.st.MessagesByUID(context.Background(), e.account.ID, mb.ID, []store.UIDRange{{First: uid, Last: uid}})
		if err != nil || len(msgs) != 1 {
			t.Fatalf("stored message: %v %v", msgs, err)
		}
		if !msgs[0].Received.Equal(want) {
			t.Errorf("APPEND %q stored %v, want the instant %v", date, msgs[0].Received, want)
		}
		c.ok("EXAMINE Drafts")
		has(t, c.ok(fmt.Sprintf("UID FETCH %d INTERNALDATE", uid)), `INTERNALDATE "`+want.UTC().Format("_2-Jan-2006 15:04:05 -0700")+`"`)
	}
}

// TestLoginLogBackground: sign-in events are written by the background
// writer, not before the OK, and Shutdown drains them.
func TestLoginLogBackground(t *testing.T) {
	e := newEnv(t)
	const n = 30
	for range n {
		c := e.login()
		c.ok("LOGOUT")
	}
	e.stop()
	events, err := e.st.SearchLog(context.Background(), store.LogQuery{Address: testUser, Status: msglog.Login, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d login events after Shutdown, want %d", len(events), n)
	}
}

// TestFlagChangeBetweenOwnWrites: a flag change by another session that
// falls between two of this session's own writes is still reported (the
// session skips re-reading only its own changes).
func TestFlagChangeBetweenOwnWrites(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	a.ok(`STORE 1 +FLAGS.SILENT (\Answered)`)
	b.ok(`STORE 2 +FLAGS.SILENT (\Flagged)`)
	// Reported during the next command that may report it, or NOOP.
	seen := a.ok(`STORE 3 +FLAGS.SILENT (\Seen)`)
	seen = append(seen, a.ok("NOOP")...)
	// When B's event had not arrived before A's second STORE, A's view
	// cannot take that STORE as the only change (modseqs 5 and 6 for 4):
	// it re-reads both, and may echo its own change, which is allowed.
	has(t, seen, `* 2 FETCH (FLAGS (\Flagged))`)
	has(t, b.ok("NOOP"), `* 3 FETCH (FLAGS (\Seen))`)
}

// TestSearchSaveWithDollar: "$" in a SEARCH that also saves is the result
// saved before it (RFC 5182 section 2.1), as in mox and Dovecot.
func TestSearchSaveWithDollar(t *testing.T) {
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

// TestLoadToolSession runs the load tool's session (select, fetch flags,
// store, append, store \Deleted, uid expunge) twice over one mailbox with
// unseen mail, so that the shared flag snapshot serves the reads, and
// checks every answer against the store.
func TestLoadToolSession(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprintf("l%d", i), "x"), 0)
	}
	for round := range 2 {
		c := e.login()
		has(t, c.ok("SELECT INBOX"), "* 3 EXISTS", "* OK [UNSEEN 1]")
		lines := c.ok("FETCH 1:* (UID FLAGS)")
		if len(lines) != 3 {
			t.Fatalf("round %d FETCH: %q", round, lines)
		}
		has(t, c.ok(`STORE 3 +FLAGS (\Seen)`), `* 3 FETCH (FLAGS (\Seen))`)
		has(t, c.ok("FETCH 3 FLAGS"), `* 3 FETCH (FLAGS (\Seen))`)
		m := msg("appended", "x")
		c.send(fmt.Sprintf("ap APPEND INBOX {%d+}\r\n%s", len(m), m))
		lines, st := c.until("ap")
		if !strings.HasPrefix(st, "OK [APPENDUID") {
			t.Fatal(st)
		}
		has(t, lines, "* 4 EXISTS")
		uid := strings.TrimSuffix(strings.Fields(st)[3], "]")
		has(t, c.ok("UID STORE "+uid+` +FLAGS (\Deleted)`), `* 4 FETCH (FLAGS (\Deleted \Recent) UID `+uid+`)`)
		has(t, c.ok("UID EXPUNGE "+uid), "* 4 EXPUNGE")
		has(t, c.ok("FETCH 1:* (FLAGS)"), `* 3 FETCH (FLAGS (\Seen))`)
		c.ok("LOGOUT")
		mb, err := e.st.Mailbox(context.Background(), e.account.ID, "INBOX")
		if err != nil || mb.Messages != 3 {
			t.Fatalf("round %d: mailbox %+v %v", round, mb, err)
		}
		if _, err := e.st.FlagsByUID(context.Background(), e.account.ID, mb.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAppendAfterOtherChange: when another session wrote between the view
// and an APPEND to the selected mailbox, the APPEND's response still
// reports both (the shortcut for a session's own append does not apply).
func TestAppendAfterOtherChange(t *testing.T) {
	e := newEnv(t)
	e.deliver("INBOX", msg("o1", "x"), 0)
	e.deliver("INBOX", msg("o2", "x"), 0)
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	b.ok(`STORE 1 +FLAGS.SILENT (\Flagged)`)
	b.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
	b.ok("EXPUNGE")
	m := msg("o3", "x")
	a.send(fmt.Sprintf("ap APPEND INBOX {%d+}\r\n%s", len(m), m))
	lines, st := a.until("ap")
	if !strings.HasPrefix(st, "OK [APPENDUID") {
		t.Fatal(st)
	}
	lines = append(lines, a.ok("NOOP")...)
	has(t, lines, `* 1 FETCH (FLAGS (\Flagged))`, "* 2 EXPUNGE", "* 2 EXISTS")
	has(t, a.ok("FETCH 1:* (UID FLAGS)"), `* 1 FETCH (UID 1 FLAGS (\Flagged))`, "* 2 FETCH (UID 3 FLAGS (")
}
