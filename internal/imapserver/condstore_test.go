package imapserver_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// modseqIn returns the number after key in lines, such as HIGHESTMODSEQ.
func modseqIn(t *testing.T, lines []string, key string) uint64 {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(key) + ` \(?(\d+)`)
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", key, lines)
	return 0
}

// CONDSTORE flows of RFC 7162 section 3.1 on our data.
func TestCondStore(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	lines := c.ok("SELECT INBOX (CONDSTORE)")
	base := modseqIn(t, lines, "HIGHESTMODSEQ")

	// Example 3 / 3.1.4.1: FETCH with CHANGEDSINCE.
	lines = c.ok(`STORE 2,4 +FLAGS (\Seen)`)
	has(t, lines, "MODSEQ (") // CONDSTORE on: STORE shows MODSEQ
	changed := modseqIn(t, lines, "MODSEQ")
	lines = c.ok(fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", base))
	if len(lines) != 2 {
		t.Fatalf("CHANGEDSINCE: %q", lines)
	}
	has(t, lines, fmt.Sprintf(`* 2 FETCH (FLAGS (\Seen) MODSEQ (%d))`, changed), `* 4 FETCH (FLAGS (\Seen) MODSEQ (`)

	// 3.1.3: conditional STORE; message 2 changed after base, so it is
	// MODIFIED and left alone.
	lines = c.ok(fmt.Sprintf(`STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\Flagged)`, base))
	if st := c.tagLine(); !strings.HasPrefix(st, "OK [MODIFIED 2]") {
		t.Errorf("UNCHANGEDSINCE: %q %q", st, lines)
	}
	has(t, c.ok("FETCH 2 FLAGS"), `FLAGS (\Seen)`)
	c.ok(fmt.Sprintf(`UID STORE 5 (UNCHANGEDSINCE 0) +FLAGS (\Flagged)`))
	if st := c.tagLine(); !strings.HasPrefix(st, "OK [MODIFIED 5]") {
		t.Errorf("UNCHANGEDSINCE 0: %q", st)
	}

	// 3.1.5: SEARCH MODSEQ answers with the highest modseq found.
	lines = c.ok(fmt.Sprintf("SEARCH MODSEQ %d", changed))
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "* SEARCH ") || !strings.Contains(lines[0], "(MODSEQ ") {
		t.Errorf("SEARCH MODSEQ: %q", lines)
	}
	has(t, c.ok("STATUS INBOX (HIGHESTMODSEQ)"), "HIGHESTMODSEQ ")
}

// QRESYNC flows of RFC 7162 section 3.2 on our data: resynchronisation on
// SELECT, VANISHED (EARLIER) on UID FETCH, VANISHED instead of EXPUNGE.
func TestQResync(t *testing.T) {
	e := newEnv(t)
	for i := range 6 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.want("SELECT INBOX (QRESYNC (1 1))", "BAD") // not enabled
	has(t, c.ok("ENABLE QRESYNC"), "* ENABLED QRESYNC")
	lines := c.ok("SELECT INBOX")
	base := modseqIn(t, lines, "HIGHESTMODSEQ")
	uidv := uidValidity(t, e, "INBOX")
	c.ok("UNSELECT")

	// Another session changes things while this client is away.
	o := e.login()
	o.ok("SELECT INBOX")
	o.ok(`STORE 1 +FLAGS (\Flagged)`)
	o.ok(`STORE 3,5 +FLAGS (\Deleted)`)
	o.ok("EXPUNGE")

	lines = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%s %d 1:6))", uidv, base))
	has(t, lines, "* VANISHED (EARLIER) 3,5", `* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (`)
	hasNot(t, lines, "UID 2 FLAGS")
	// A wrong UIDVALIDITY: no resync data.
	lines = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", 12345, base))
	hasNot(t, lines, "VANISHED")
	has(t, lines, "[CLOSED]")

	lines = c.ok(fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", base))
	has(t, lines, "* VANISHED (EARLIER) 3,5", "UID 1 FLAGS (\\Flagged)")
	c.want(fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", base), "BAD")

	c.ok(`STORE 2 +FLAGS (\Deleted)`)
	lines = c.ok("EXPUNGE")
	has(t, lines, "* VANISHED 2")
	hasNot(t, lines, "EXPUNGE")
	// Another session's expunge reaches this one as VANISHED too.
	o.ok(`UID STORE 4 +FLAGS (\Deleted)`)
	o.ok("UID EXPUNGE 4")
	has(t, c.ok("NOOP"), "* VANISHED 4")
}

// TestCondStoreFetchCarriesUID: once CONDSTORE is on, every FETCH a flag
// change causes carries the UID and the modseq (RFC 7162 section 3.1):
// after STORE, STORE .SILENT and UNCHANGEDSINCE, a FETCH that sets \Seen,
// and another session's change. Regression: only a UID command or
// QRESYNC got the UID.
func TestCondStoreFetchCarriesUID(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	c := e.login()
	c.ok("ENABLE CONDSTORE")
	c.ok("SELECT INBOX")
	other := e.login()
	other.ok("SELECT INBOX")
	uidAndModSeq := regexp.MustCompile(`(?s)^\* (\d) FETCH \(.*\bUID (\d)\b.*\bMODSEQ \(\d+\)|(?s)^\* (\d) FETCH \(.*\bMODSEQ \(\d+\).*\bUID (\d)\b`)
	for _, tc := range []struct {
		command string
		want    string // the message whose FETCH must come back
		other   bool   // run by the other session, seen at NOOP
	}{
		{`STORE 1 +FLAGS (\Flagged)`, "1", false},
		{`STORE 2 +FLAGS.SILENT (\Flagged)`, "2", false},
		{`STORE 3 (UNCHANGEDSINCE 1000) +FLAGS (\Flagged)`, "3", false},
		{`FETCH 4 BODY[]`, "4", false},
		{`STORE 5 +FLAGS (\Answered)`, "5", true},
	} {
		t.Run(tc.command, func(t *testing.T) {
			var lines []string
			if tc.other {
				other.ok(tc.command)
				lines = c.ok("NOOP")
			} else {
				lines = c.ok(tc.command)
			}
			found := false
			for _, l := range lines {
				if m := uidAndModSeq.FindStringSubmatch(l); m != nil {
					seq, u := m[1]+m[3], m[2]+m[4]
					found = found || seq == tc.want && u == tc.want
				}
			}
			if !found {
				t.Errorf("no FETCH of message %s with UID and MODSEQ in %q", tc.want, lines)
			}
		})
	}
}

// TestCondStoreEnabledWhileSelected: the first CONDSTORE-enabling command
// issued with a mailbox selected reports its HIGHESTMODSEQ (RFC 7162
// section 3.1; Apache James does the same), and only the first.
func TestCondStoreEnabledWhileSelected(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver("INBOX", msg(fmt.Sprint("m", i), "x"), 0)
	}
	for _, enabling := range []string{"FETCH 1 (MODSEQ)", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)", "SEARCH MODSEQ 1",
		`STORE 1 (UNCHANGEDSINCE 1000) +FLAGS (\Flagged)`, "STATUS INBOX (HIGHESTMODSEQ)", "SORT RETURN (MIN) (DATE) UTF-8 MODSEQ 1"} {
		t.Run(enabling, func(t *testing.T) {
			c := e.login()
			highest := modseqIn(t, c.ok("SELECT INBOX"), "HIGHESTMODSEQ")
			has(t, c.ok(enabling), fmt.Sprintf("* OK [HIGHESTMODSEQ %d]", highest))
			hasNot(t, c.ok(enabling), "[HIGHESTMODSEQ")
		})
	}
	// Enabled before SELECT: SELECT reports it, nothing more.
	c := e.login()
	c.ok("STATUS INBOX (HIGHESTMODSEQ)")
	c.ok("SELECT INBOX")
	hasNot(t, c.ok("FETCH 1 (MODSEQ)"), "[HIGHESTMODSEQ")
}
