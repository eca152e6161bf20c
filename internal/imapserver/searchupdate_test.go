package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// run sends a command with a tag of the test's choosing (a live result
// is named by its command's tag) and returns its untagged lines; it must
// succeed.
func (c *conn) run(tag, command string) []string {
	c.t.Helper()
	c.send(tag + " " + command)
	lines, st := c.until(tag)
	if !strings.HasPrefix(st, "OK") {
		c.t.Fatalf("%s %s: %s (untagged %q)", tag, command, st, lines)
	}
	return lines
}

// esearchLines returns the ESEARCH lines of tag among lines.
func esearchLines(lines []string, tag string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, `* ESEARCH (TAG "`+tag+`")`) {
			out = append(out, l)
		}
	}
	return out
}

// TestSearchUpdateAcrossSessions: SEARCH and SORT with RETURN (UPDATE)
// keep their result live over TLS while other sessions and deliveries
// change the mailbox (RFC 5267 section 4.3): flags moving a message out
// of and into the result, a new message, an expunge (REMOVEFROM before
// the EXPUNGE that renumbers), SORT positions, CANCELUPDATE, and NOUPDATE
// where a result cannot be kept.
func TestSearchUpdateAcrossSessions(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"delta", "alpha", "echo", "charlie"} {
		e.deliver("INBOX", msg(s, "x"), 0) // UIDs 1..4
	}
	a := e.login()
	has(t, a.ok("CAPABILITY"), "CONTEXT=SEARCH", "CONTEXT=SORT", "PARTIAL")
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")

	// UPDATE alone: the first result comes as ADDTO; position 0 for
	// SEARCH, positions in sort order for SORT (alpha charlie delta echo).
	has(t, a.run("s1", "UID SEARCH RETURN (UPDATE) UNSEEN"), `* ESEARCH (TAG "s1") UID ADDTO (0 1:4)`)
	has(t, a.run("o1", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL"), `* ESEARCH (TAG "o1") UID ADDTO (1 2 2 4 3 1 4 3)`)
	// With other options, those come first and updates follow.
	has(t, a.run("c1", "SEARCH RETURN (COUNT UPDATE CONTEXT) SEEN"), `* ESEARCH (TAG "c1") COUNT 0`)

	// Another session's flag change: out of UNSEEN, into SEEN (by
	// sequence number: message 2).
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Seen)`)
	lines := a.ok("NOOP")
	has(t, lines, `* ESEARCH (TAG "s1") UID REMOVEFROM (0 2)`, `* ESEARCH (TAG "c1") ADDTO (0 2)`)
	hasNot(t, lines, `(TAG "o1")`) // still in ALL

	// A new message: EXISTS, then into every result; "bravo" sorts second.
	e.deliver("INBOX", msg("bravo", "x"), 0) // UID 5
	lines = a.ok("NOOP")
	has(t, lines, "* 5 EXISTS", `* ESEARCH (TAG "s1") UID ADDTO (0 5)`, `* ESEARCH (TAG "o1") UID ADDTO (2 5)`)

	// An expunge: REMOVEFROM in the numbers the client knows, before the
	// EXPUNGE that renumbers. "alpha" (UID 2, seq 2) is first in o1.
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.ok("UID EXPUNGE 2")
	lines = a.ok("NOOP")
	has(t, lines, `* ESEARCH (TAG "o1") UID REMOVEFROM (1 2)`, `* ESEARCH (TAG "c1") REMOVEFROM (0 2)`, "* 2 EXPUNGE")
	for i, l := range lines {
		if l == "* 2 EXPUNGE" {
			for _, later := range lines[i:] {
				if strings.Contains(later, "REMOVEFROM") {
					t.Errorf("REMOVEFROM after the EXPUNGE: %q", lines)
				}
			}
		}
	}

	// The session's own STORE updates its own results too.
	lines = a.ok(`UID STORE 4 +FLAGS (\Seen)`)
	has(t, lines, `* ESEARCH (TAG "s1") UID REMOVEFROM (0 4)`, `* ESEARCH (TAG "c1") ADDTO (0 3)`)

	// CANCELUPDATE stops s1 only; an unknown tag is NO and cancels
	// nothing.
	a.want(`CANCELUPDATE "s1" "nope"`, "NO")
	a.ok(`CANCELUPDATE "s1"`)
	a.want(`CANCELUPDATE "s1"`, "NO")
	b.ok(`UID STORE 5 +FLAGS.SILENT (\Seen)`)
	lines = a.ok("NOOP")
	hasNot(t, lines, `(TAG "s1")`)
	has(t, lines, `* ESEARCH (TAG "c1") ADDTO (0 4)`)

	// NOUPDATE: a PARTIAL result, and a second result under a tag
	// already live; the result itself is still answered.
	lines = a.run("p1", "UID SEARCH RETURN (PARTIAL 1:2 UPDATE) ALL")
	has(t, lines, `* NO [NOUPDATE "p1"]`, `* ESEARCH (TAG "p1") UID PARTIAL (1:2 1,3)`)
	lines = a.run("c1", "UID SEARCH RETURN (UPDATE) ALL")
	has(t, lines, `* NO [NOUPDATE "c1"]`)
	b.ok(`UID STORE 1 +FLAGS.SILENT (\Seen)`)
	lines = a.ok("NOOP")
	hasNot(t, lines, `(TAG "p1")`)
	if got := esearchLines(lines, "c1"); len(got) != 1 || got[0] != `* ESEARCH (TAG "c1") ADDTO (0 1)` {
		t.Errorf("c1 after the refused second c1: %q", got)
	}

	// A live result ends with the selection.
	a.ok("UNSELECT")
	a.ok("SELECT INBOX")
	a.want(`CANCELUPDATE "c1"`, "NO")
	// CANCELUPDATE needs a selected mailbox.
	a.ok("UNSELECT")
	a.want(`CANCELUPDATE "c1"`, "BAD")
}

// TestSearchUpdateSequenceNumbers: a result by sequence number that names
// a sequence range ("2:3") is matched again when an expunge renumbers the
// view, and its numbers are the client's.
func TestSearchUpdateSequenceNumbers(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("SELECT INBOX")
	has(t, a.run("q1", "SEARCH RETURN (UPDATE) 2:3"), `* ESEARCH (TAG "q1") ADDTO (0 2:3)`)
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.ok("UID EXPUNGE 2")
	// Message 2 leaves (before its EXPUNGE); then UID 4, now number 3,
	// enters.
	lines := a.ok("NOOP")
	want := []string{`* ESEARCH (TAG "q1") REMOVEFROM (0 2)`, "* 2 EXPUNGE", `* ESEARCH (TAG "q1") ADDTO (0 3)`}
	var got []string
	for _, l := range lines {
		if strings.Contains(l, "q1") || strings.Contains(l, "EXPUNGE") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	has(t, a.ok("SEARCH 2:3"), "* SEARCH 2 3")
}
