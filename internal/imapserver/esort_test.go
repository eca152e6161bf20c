package imapserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestESearchPartialAndESortSave guards the ESEARCH return options SEARCH
// and SORT share: PARTIAL (RFC 9394, after RFC 5267 section 4.4) from the
// start and from the end, in sort order for SORT, NIL beyond the result,
// exclusive with ALL; SAVE in SORT (RFC 5182 section 2.4) keeping what
// the options return; MODSEQ in ESORT (RFC 7162 section 3.1.5).
func TestESearchPartialAndESortSave(t *testing.T) {
	e := newEnv(t)
	deliverThreads(e) // UIDs 1..6; by DATE: 2 1 5 3 4 6
	c := e.login()
	c.ok("SELECT INBOX")
	want := func(cmd, line string) {
		t.Helper()
		lines := c.ok(cmd)
		got := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "* ESEARCH") {
				got = l
			}
		}
		w := strings.Replace(line, `TAG "a"`, `TAG "`+c.tag+`"`, 1)
		if got != w {
			t.Errorf("%s:\n got %q\nwant %q", cmd, got, w)
		}
	}
	want("SEARCH RETURN (PARTIAL 2:4) ALL", `* ESEARCH (TAG "a") PARTIAL (2:4 2:4)`)
	want("UID SEARCH RETURN (PARTIAL -1:-2) ALL", `* ESEARCH (TAG "a") UID PARTIAL (-1:-2 5:6)`)
	want("SEARCH RETURN (PARTIAL 4:2 COUNT) ALL", `* ESEARCH (TAG "a") COUNT 6 PARTIAL (2:4 2:4)`)
	want("SEARCH RETURN (PARTIAL 7:9) ALL", `* ESEARCH (TAG "a") PARTIAL (7:9 NIL)`)
	want("SEARCH RETURN (PARTIAL -5:-9) ALL", `* ESEARCH (TAG "a") PARTIAL (-5:-9 1:2)`)
	want("SORT RETURN (PARTIAL 1:3) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") PARTIAL (1:3 2,1,5)`)
	want("UID SORT RETURN (PARTIAL -1:-3 MIN) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") UID MIN 2 PARTIAL (-1:-3 3:4,6)`)
	c.want("SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "BAD")
	c.want("SEARCH RETURN (PARTIAL 0:2) ALL", "BAD")
	c.want("SEARCH RETURN (PARTIAL -1:2) ALL", "BAD")

	// SORT ... SAVE: "$" is the whole result, or what PARTIAL or MIN/MAX
	// return; the response is left out when SAVE is alone.
	fetchUIDs := func() []string {
		var out []string
		for _, l := range c.ok("UID FETCH $ (UID)") {
			var seq, uid int
			if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d)", &seq, &uid); err == nil {
				out = append(out, fmt.Sprint(uid))
			}
		}
		slices.Sort(out)
		return out
	}
	lines := c.ok("UID SORT RETURN (SAVE) (REVERSE DATE) UTF-8 SUBJECT lunch")
	if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "* ESEARCH") }) {
		t.Errorf("SORT RETURN (SAVE) answered %q", lines)
	}
	if got := fetchUIDs(); !slices.Equal(got, []string{"1", "3", "4", "5"}) {
		t.Errorf("$ after SORT SAVE: %v", got)
	}
	want("UID SORT RETURN (SAVE PARTIAL 1:2) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") UID PARTIAL (1:2 2,1)`)
	if got := fetchUIDs(); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("$ after SORT SAVE PARTIAL: %v", got)
	}
	want("UID SORT RETURN (SAVE MAX) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a") UID MAX 6`)
	if got := fetchUIDs(); !slices.Equal(got, []string{"6"}) {
		t.Errorf("$ after SORT SAVE MAX: %v", got)
	}
	// "$" in the sort's own keys is the result saved before it.
	want("UID SORT RETURN (SAVE ALL) (DATE) UTF-8 OR UID $ SUBJECT report", `* ESEARCH (TAG "a") UID ALL 2,6`)

	// MODSEQ: the highest modseq of the messages returned (1 was
	// stored after 5).
	c.ok(`STORE 5 +FLAGS.SILENT (\Flagged)`)
	c.ok(`STORE 1 +FLAGS.SILENT (\Flagged)`)
	ms := map[int]string{}
	for _, l := range c.ok("FETCH 1:6 (MODSEQ)") {
		var seq int
		var m string
		if _, err := fmt.Sscanf(l, "* %d FETCH (MODSEQ (%s", &seq, &m); err == nil {
			ms[seq] = strings.TrimSuffix(m, "))")
		}
	}
	want("SORT RETURN (MIN) (DATE) UTF-8 FLAGGED MODSEQ 1", `* ESEARCH (TAG "a") MIN 1 MODSEQ `+ms[1])
	want("SORT RETURN (MAX) (DATE) UTF-8 FLAGGED MODSEQ 1", `* ESEARCH (TAG "a") MAX 5 MODSEQ `+ms[5])
	want("SORT RETURN (ALL) (DATE) UTF-8 FLAGGED MODSEQ 1", `* ESEARCH (TAG "a") ALL 1,5 MODSEQ `+ms[1])
	has(t, c.ok("SORT (DATE) UTF-8 FLAGGED MODSEQ 1"), "* SORT 1 5 (MODSEQ "+ms[1]+")")
}
