package imapserver_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// TestSearchUpdateCarriesModSeq: a live result whose search uses MODSEQ
// (CONDSTORE, RFC 7162 section 3.1.5) gets, with each ADDTO, "MODSEQ n":
// the highest modseq of the messages the update adds, as the command's
// own ESEARCH response carries the highest of those it returns (RFC 4731
// section 3.2). A REMOVEFROM alone returns no message and carries none; a
// result whose search does not use MODSEQ never carries it.
func TestSearchUpdateCarriesModSeq(t *testing.T) {
	e := newEnv(t)
	for _, s := range []string{"one", "two", "three"} {
		e.deliver("INBOX", msg(s, "x"), 0) // UIDs 1..3
	}
	a := e.login()
	a.ok("ENABLE CONDSTORE")
	a.ok("SELECT INBOX")
	b := e.login()
	b.ok("ENABLE CONDSTORE")
	b.ok("SELECT INBOX")

	lines := a.run("m1", "UID SEARCH RETURN (ALL UPDATE) MODSEQ 1 FLAGGED")
	hasNot(t, lines, "ALL") // nothing flagged yet
	a.run("m2", "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 MODSEQ 1 UNSEEN")
	a.run("p1", "UID SEARCH RETURN (UPDATE) FLAGGED")

	// Another session flags two messages: each result that now holds
	// them says so, with the modseq of that STORE (the highest of the
	// messages added); the plain result without it.
	lines = b.ok(`UID STORE 1,3 +FLAGS (\Flagged)`)
	modseq := fetchModSeq(t, lines)
	lines = a.ok("NOOP")
	has(t, lines, fmt.Sprintf(`* ESEARCH (TAG "m1") UID ADDTO (0 1,3) MODSEQ %d`, modseq), `* ESEARCH (TAG "p1") UID ADDTO (0 1,3)`)
	for _, l := range esearchLines(lines, "p1") {
		if regexp.MustCompile(`MODSEQ`).MatchString(l) {
			t.Errorf("a result without MODSEQ in its search got %q", l)
		}
	}

	// Seen: out of m2 (one three two: "two" is third), a REMOVEFROM
	// alone, without MODSEQ.
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Seen)`)
	lines = a.ok("NOOP")
	has(t, lines, `* ESEARCH (TAG "m2") UID REMOVEFROM (3 2)`)
	for _, l := range esearchLines(lines, "m2") {
		if regexp.MustCompile(`MODSEQ`).MatchString(l) {
			t.Errorf("a REMOVEFROM alone carries MODSEQ: %q", l)
		}
	}

	// A new message: into m2 (unseen, "four" sorts first), with its own
	// modseq.
	e.deliver("INBOX", msg("four", "x"), 0) // UID 4
	lines = a.ok("NOOP")
	fetch := a.ok("UID FETCH 4 (MODSEQ)")
	has(t, lines, fmt.Sprintf(`* ESEARCH (TAG "m2") UID ADDTO (1 4) MODSEQ %d`, fetchModSeq(t, fetch)))
}

// fetchModSeq returns the modseq of the last FETCH line holding one.
func fetchModSeq(t *testing.T, lines []string) uint64 {
	t.Helper()
	re := regexp.MustCompile(`MODSEQ \((\d+)\)`)
	var n uint64
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ = strconv.ParseUint(m[1], 10, 64)
		}
	}
	if n == 0 {
		t.Fatalf("no MODSEQ in %q", lines)
	}
	return n
}
