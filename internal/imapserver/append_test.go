package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	m := msg("appended", "body text")
	// Synchronising literal: the server asks for it with "+".
	c.send(fmt.Sprintf(`a1 APPEND Drafts (\Draft \Seen $Work) "21-Nov-2026 08:30:00 +0100" {%d}`, len(m)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("want continuation, got %q", l)
	}
	c.send(m)
	_, st := c.until("a1")
	if !strings.HasPrefix(st, "OK [APPENDUID ") || !strings.Contains(st, " 1]") {
		t.Fatalf("APPEND: %s", st)
	}
	// LITERAL+ and a bare-LF message, stored with CRLF.
	lf := "Subject: lf\n\nline\n"
	c.send(fmt.Sprintf("a2 APPEND Drafts {%d+}\r\n%s", len(lf), lf))
	if _, st := c.until("a2"); !strings.HasPrefix(st, "OK [APPENDUID") {
		t.Fatal(st)
	}
	c.ok("SELECT Drafts")
	lines := c.ok("FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[])")
	// Appended while no session had Drafts selected: recent to this
	// SELECT (RFC 3501 section 2.3.2).
	has(t, lines, `FLAGS (\Seen \Draft \Recent $Work)`, `INTERNALDATE "21-Nov-2026 07:30:00 +0000"`, /* the store keeps the instant in UTC */
		fmt.Sprintf("BODY[] {%d}\r\n%s", len(m), m), "BODY[] {21}\r\nSubject: lf\r\n\r\nline\r\n")

	// Into the selected mailbox: EXISTS at once.
	c.send(fmt.Sprintf("a3 APPEND Drafts {%d+}\r\n%s", len(m), m))
	lines, st = c.until("a3")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	has(t, lines, "* 3 EXISTS")

	c.send("a4 APPEND Nope {1+}\r\nx")
	if _, st := c.until("a4"); !strings.HasPrefix(st, "NO [TRYCREATE]") {
		t.Fatalf("APPEND to a missing mailbox: %s", st)
	}
	// Over APPENDLIMIT: refused before the data is sent.
	c.send("a5 APPEND INBOX {99999999999}")
	if _, st := c.until("a5"); !strings.HasPrefix(st, "BAD [TOOBIG]") && !strings.HasPrefix(st, "NO [TOOBIG]") {
		t.Fatalf("huge APPEND: %s", st)
	}
	c.ok("NOOP")
}

// TestAppendKeepsDateTimeInstant: the date-time of APPEND is stored as that
// instant, to the second, whatever its zone; INTERNALDATE shows it in UTC.
func TestAppendKeepsDateTimeInstant(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	for i, date := range []string{"07-Feb-1994 21:52:25 -0800", " 1-Jan-2026 00:00:59 +1345", "29-Feb-2024 23:59:58 -0330"} {
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

// TestAppendFutureDateIsNow: an APPEND dated in the future is stored as
// arriving now, for INTERNALDATE and for the retention window alike: a
// client could otherwise keep a message past its window, up to forever.
func TestAppendFutureDateIsNow(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	before := time.Now().Truncate(time.Second)
	m := msg("from the future", "x")
	c.send(fmt.Sprintf("f1 APPEND Drafts \"01-Jan-2999 00:00:00 +0000\" {%d+}\r\n%s", len(m), m))
	if _, st := c.until("f1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("APPEND: %s", st)
	}
	after := time.Now()
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.MessagesByUID(context.Background(), e.account.ID, mb.ID, []store.UIDRange{{First: mb.UIDNext - 1, Last: mb.UIDNext - 1}})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored message: %v %v", msgs, err)
	}
	if got := msgs[0].Received; got.Before(before) || got.After(after) {
		t.Errorf("APPEND dated 2999 stored as received %v, want between %v and %v", got, before, after)
	}
}

// TestAppendReportsOtherSessionsChanges: when another session wrote between the view
// and an APPEND to the selected mailbox, the APPEND's response still
// reports both (the shortcut for a session's own append does not apply).
func TestAppendReportsOtherSessionsChanges(t *testing.T) {
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
