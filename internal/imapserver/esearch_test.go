package imapserver_test

import (
	"fmt"
	"testing"
)

// TestESearchMinMaxModSeq: with MODSEQ in the criteria, ESEARCH RETURN
// (MIN) or (MAX) gives the modseq of that message, (MIN MAX) the higher
// of the two, and ALL or COUNT the highest of all that matched (RFC 4731
// section 3.2, RFC 7162 section 3.1.5).
func TestESearchMinMaxModSeq(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.deliver("INBOX", msg(fmt.Sprintf("e%d", i), "x"), 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	// Modseqs, oldest last: 3 changed last, then 1, then 4.
	c.ok(`STORE 4 +FLAGS.SILENT (\Flagged)`)
	c.ok(`STORE 1 +FLAGS.SILENT (\Flagged)`)
	c.ok(`STORE 3 +FLAGS.SILENT (\Flagged)`)
	ms := map[int]string{}
	for _, l := range c.ok("FETCH 1:4 (MODSEQ)") {
		var seq int
		var m string
		if _, err := fmt.Sscanf(l, "* %d FETCH (MODSEQ (%s", &seq, &m); err == nil {
			ms[seq] = m[:len(m)-2]
		}
	}
	if len(ms) != 4 {
		t.Fatalf("modseqs %v", ms)
	}
	const crit = "FLAGGED MODSEQ 1"
	has(t, c.ok("SEARCH RETURN (MIN) "+crit), "MIN 1 MODSEQ "+ms[1])
	has(t, c.ok("SEARCH RETURN (MAX) "+crit), "MAX 4 MODSEQ "+ms[4])
	has(t, c.ok("SEARCH RETURN (MIN MAX) "+crit), "MIN 1 MAX 4 MODSEQ "+ms[1]) // ms[1] > ms[4]
	has(t, c.ok("SEARCH RETURN (MIN COUNT) "+crit), "MODSEQ "+ms[3])
	has(t, c.ok("SEARCH RETURN (ALL) "+crit), "ALL 1,3:4 MODSEQ "+ms[3])
	has(t, c.ok("UID SEARCH RETURN (MAX) "+crit), "UID MAX 4 MODSEQ "+ms[4])
}
