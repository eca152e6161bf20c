package imapserver_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// liveModel is the client's copy of a live result (RFC 5267 section
// 4.3), kept only from what the server sends: the first result, then
// ADDTO, REMOVEFROM and, for sequence numbers, EXPUNGE.
type liveModel struct {
	tag, fresh  string // the live command's tag, and the command that asks the same afresh
	uid, sorted bool
	nums        []uint32 // ascending for SEARCH, in result order for SORT
}

// expandSet returns the numbers of a sequence-set in the order written.
func expandSet(s string) ([]uint32, error) {
	var out []uint32
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, ":")
		x, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("set %q: %v", s, err)
		}
		y := x
		if isRange {
			if y, err = strconv.ParseUint(b, 10, 32); err != nil {
				return nil, fmt.Errorf("set %q: %v", s, err)
			}
		}
		if y < x {
			return nil, fmt.Errorf("set %q: descending range in a result", s)
		}
		for n := x; n <= y; n++ {
			out = append(out, uint32(n))
		}
	}
	return out, nil
}

// applyESearch applies one ESEARCH line for m's tag: ALL of the first
// result, ADDTO and REMOVEFROM, each position checked.
func (m *liveModel) applyESearch(line string) error {
	rest := strings.TrimPrefix(line, `* ESEARCH (TAG "`+m.tag+`")`)
	if m.uid {
		var ok bool
		if rest, ok = strings.CutPrefix(rest, " UID"); !ok {
			return fmt.Errorf("no UID in %q", line)
		}
	}
	for rest != "" {
		rest = strings.TrimPrefix(rest, " ")
		name, after, _ := strings.Cut(rest, " ")
		switch name {
		case "ALL":
			set, tail, _ := strings.Cut(after, " ")
			nums, err := expandSet(set)
			if err != nil {
				return err
			}
			m.nums, rest = nums, tail
		case "COUNT":
			_, rest, _ = strings.Cut(after, " ")
		case "ADDTO", "REMOVEFROM":
			inner, tail, ok := strings.Cut(strings.TrimPrefix(after, "("), ")")
			if !ok {
				return fmt.Errorf("unterminated %s in %q", name, line)
			}
			rest = tail
			f := strings.Fields(inner)
			if len(f)%2 != 0 {
				return fmt.Errorf("odd %s pairs in %q", name, line)
			}
			for i := 0; i < len(f); i += 2 {
				pos, err := strconv.Atoi(f[i])
				if err != nil {
					return err
				}
				nums, err := expandSet(f[i+1])
				if err != nil {
					return err
				}
				if err := m.apply(name == "ADDTO", pos, nums); err != nil {
					return fmt.Errorf("%v in %q (model %v)", err, line, m.nums)
				}
			}
		default:
			return fmt.Errorf("unexpected %q in %q", name, line)
		}
	}
	return nil
}

// apply adds or removes nums, the set of one pair at position pos.
func (m *liveModel) apply(add bool, pos int, nums []uint32) error {
	if !m.sorted {
		if pos != 0 {
			return fmt.Errorf("position %d in an unordered result", pos)
		}
		for _, n := range nums {
			i, in := slices.BinarySearch(m.nums, n)
			switch {
			case add && in:
				return fmt.Errorf("ADDTO %d already in the result", n)
			case !add && !in:
				return fmt.Errorf("REMOVEFROM %d not in the result", n)
			case add:
				m.nums = slices.Insert(m.nums, i, n)
			default:
				m.nums = slices.Delete(m.nums, i, i+1)
			}
		}
		return nil
	}
	for k, n := range nums {
		if add {
			at := pos - 1 + k
			if at < 0 || at > len(m.nums) || slices.Contains(m.nums, n) {
				return fmt.Errorf("ADDTO %d at %d", n, pos+k)
			}
			m.nums = slices.Insert(m.nums, at, n)
			continue
		}
		at := pos - 1
		if at < 0 || at >= len(m.nums) || m.nums[at] != n {
			return fmt.Errorf("REMOVEFROM %d at %d", n, pos)
		}
		m.nums = slices.Delete(m.nums, at, at+1)
	}
	return nil
}

// expunged renumbers a result by sequence number after "* n EXPUNGE":
// the message must have left the result before (its REMOVEFROM comes
// first).
func (m *liveModel) expunged(n uint32) error {
	if m.uid {
		return nil
	}
	if slices.Contains(m.nums, n) {
		return fmt.Errorf("%s: message %d expunged while still in the result %v", m.tag, n, m.nums)
	}
	for i := range m.nums {
		if m.nums[i] > n {
			m.nums[i]--
		}
	}
	return nil
}

// process applies the untagged lines a session got to the models.
func process(models []*liveModel, lines []string) error {
	for _, l := range lines {
		if n, ok := strings.CutSuffix(strings.TrimPrefix(l, "* "), " EXPUNGE"); ok && strings.HasPrefix(l, "* ") {
			seq, err := strconv.ParseUint(n, 10, 32)
			if err != nil {
				return err
			}
			for _, m := range models {
				if err := m.expunged(uint32(seq)); err != nil {
					return err
				}
			}
			continue
		}
		if strings.HasPrefix(l, "* NO [NOUPDATE") {
			return fmt.Errorf("result dropped: %q", l)
		}
		for _, m := range models {
			if strings.HasPrefix(l, `* ESEARCH (TAG "`+m.tag+`")`) {
				if err := m.applyESearch(l); err != nil {
					return fmt.Errorf("%s: %v", m.tag, err)
				}
			}
		}
	}
	return nil
}

// freshResult runs m's fresh command and returns its numbers as "* SEARCH"
// or "* SORT" gives them.
func freshResult(c *conn, m *liveModel) []uint32 {
	c.t.Helper()
	lines := c.ok(m.fresh)
	var nums []uint32
	for _, l := range lines {
		for _, prefix := range []string{"* SEARCH", "* SORT"} {
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				for _, f := range strings.Fields(rest) {
					n, err := strconv.ParseUint(f, 10, 32)
					if err != nil {
						c.t.Fatalf("%s: %q", m.fresh, l)
					}
					nums = append(nums, uint32(n))
				}
			}
		}
		if strings.HasPrefix(l, "* ESEARCH") || strings.Contains(l, "EXPUNGE") || strings.Contains(l, "EXISTS") {
			c.t.Fatalf("%s: change reported while nothing changes: %q", m.fresh, l)
		}
	}
	return nums
}

// updateMsg is a message whose subject comes from a small set, so that
// SORT (SUBJECT) has ties, unique by Message-ID (no duplicate rule).
func updateMsg(r *rand.Rand, n int) string {
	subjects := []string{"alpha", "kilo report", "lima", "Re: alpha", "bravo", "kilo"}
	s := subjects[r.IntN(len(subjects))]
	return fmt.Sprintf("From: w%d@example.net\r\nTo: alice@example.org\r\nSubject: %s\r\nDate: Fri, 20 Nov 2026 10:%02d:00 +0000\r\nMessage-ID: <u%d.%d@example.net>\r\n\r\nbody %d\r\n",
		n%7, s, n%60, n, r.Uint32(), n)
}

// TestSearchUpdateMatchesFreshSearch is a randomized check of CONTEXT=SEARCH
// and CONTEXT=SORT: one session keeps six live results (UID and sequence
// numbers, SEARCH and SORT, a content key narrowed by the index, a
// sequence range that expunges move) while two other sessions change the
// mailbox at the same time (flags, appends, expunges) and the session
// itself stores flags and appends. After each step the client's copy of
// each result, built only from the notifications, must equal the same
// search or sort run afresh.
func TestSearchUpdateMatchesFreshSearch(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 5267))
	e := newEnv(t)
	next := 0
	for range 12 {
		next++
		e.deliver("INBOX", updateMsg(r, next), 0)
	}
	a := e.login()
	a.ok("SELECT INBOX")
	models := []*liveModel{
		{tag: "L1", fresh: "UID SEARCH UNSEEN", uid: true},
		{tag: "L2", fresh: "SEARCH FLAGGED"},
		{tag: "L3", fresh: "UID SORT (SUBJECT) UTF-8 UNDELETED", uid: true, sorted: true},
		{tag: "L4", fresh: "SORT (REVERSE ARRIVAL) UTF-8 OR SEEN FLAGGED", sorted: true},
		{tag: "L5", fresh: "SEARCH 2:4"},
		{tag: "L6", fresh: `UID SEARCH SUBJECT "kilo"`, uid: true},
	}
	live := map[string]string{
		"L1": "UID SEARCH RETURN (UPDATE) UNSEEN",
		"L2": "SEARCH RETURN (UPDATE CONTEXT) FLAGGED",
		"L3": "UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNDELETED",
		"L4": "SORT RETURN (UPDATE) (REVERSE ARRIVAL) UTF-8 OR SEEN FLAGGED",
		"L5": "SEARCH RETURN (UPDATE) 2:4",
		"L6": `UID SEARCH RETURN (ALL UPDATE) SUBJECT "kilo"`,
	}
	for _, m := range models {
		if err := process(models, a.run(m.tag, live[m.tag])); err != nil {
			t.Fatal(err)
		}
	}

	const writers = 2
	ws := make([]*rawConn, writers)
	for i := range ws {
		c, err := dialRaw(e, testUser)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		if _, st, err := c.cmd("SELECT INBOX"); err != nil || !strings.HasPrefix(st, "OK") {
			t.Fatalf("writer SELECT: %s %v", st, err)
		}
		ws[i] = c
	}
	flags := []string{`\Seen`, `\Flagged`, `\Deleted`}
	var mu sync.Mutex // guards next and r
	op := func(c *rawConn) error {
		mu.Lock()
		k := r.IntN(10)
		uid := 1 + r.IntN(next)
		flag := flags[r.IntN(len(flags))]
		sign := "+-"[r.IntN(2)]
		next++
		m := updateMsg(r, next)
		mu.Unlock()
		var cmds []string
		switch {
		case k < 5:
			cmds = []string{fmt.Sprintf("UID STORE %d %cFLAGS.SILENT (%s)", uid, sign, flag)}
		case k < 7:
			cmds = []string{fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(m), m)}
		default:
			cmds = []string{fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uid), fmt.Sprintf("UID EXPUNGE %d", uid)}
		}
		for _, cmd := range cmds {
			if _, st, err := c.cmd(cmd); err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("%.40q: %s %v", cmd, st, err)
			}
		}
		return nil
	}

	for step := range 40 {
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i, c := range ws {
			wg.Go(func() { errs[i] = op(c) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		// The observing session's own writes are reported to its own
		// results too (ownChange, ownAppend).
		var lines []string
		switch r.IntN(4) {
		case 0:
			lines = a.ok(fmt.Sprintf("UID STORE %d %cFLAGS (\\Seen)", 1+r.IntN(next), "+-"[r.IntN(2)]))
		case 1:
			next++
			m := updateMsg(r, next)
			a.send(fmt.Sprintf("ap%d APPEND INBOX {%d+}\r\n%s", step, len(m), m))
			var st string
			lines, st = a.until(fmt.Sprintf("ap%d", step))
			if !strings.HasPrefix(st, "OK") {
				t.Fatalf("APPEND: %s", st)
			}
		}
		lines = append(lines, a.ok("NOOP")...)
		if err := process(models, lines); err != nil {
			t.Fatalf("step %d: %v\n%s", step, err, strings.Join(lines, "\n"))
		}
		for _, m := range models {
			want := freshResult(a, m)
			if !m.sorted {
				slices.Sort(want)
			}
			if !slices.Equal(m.nums, want) {
				t.Fatalf("step %d: %s kept %v, afresh %v\n%s", step, m.tag, m.nums, want, strings.Join(lines, "\n"))
			}
		}
	}
}
