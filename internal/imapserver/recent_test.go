package imapserver_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver"
)

// recentCount returns n of the last "* n RECENT" line, -1 when none.
func recentCount(lines []string) int {
	n := -1
	for _, l := range lines {
		if v, ok := strings.CutSuffix(l, " RECENT"); ok {
			n, _ = strconv.Atoi(strings.TrimPrefix(v, "* "))
		}
	}
	return n
}

// TestRecentEmptyMailboxAndExpunge: messages appended into a mailbox a
// session selected while it was empty are recent to that session (RFC
// 3501 section 2.3.2), also to a later SELECT when no session saw them,
// and expunged messages leave the recent set (RECENT never exceeds
// EXISTS).
func TestRecentEmptyMailboxAndExpunge(t *testing.T) {
	e := newEnv(t)
	a := e.login()
	a.ok("CREATE Box")
	has(t, a.ok("SELECT Box"), "* 0 EXISTS", "* 0 RECENT")
	b := e.login()
	for i := range 2 {
		m := msg(fmt.Sprintf("r%d", i), "x")
		b.send(fmt.Sprintf("ap%d APPEND Box {%d+}\r\n%s", i, len(m), m))
		if _, st := b.until(fmt.Sprintf("ap%d", i)); !strings.HasPrefix(st, "OK") {
			t.Fatal(st)
		}
	}
	lines := untilShown(t, a, "NOOP", "* 2 EXISTS")
	if recentCount(lines) != 2 {
		t.Fatalf("session that selected the empty mailbox: %q", lines)
	}
	has(t, a.ok("SEARCH NEW"), "* SEARCH 1 2")
	has(t, a.ok("FETCH 1:2 FLAGS"), `* 1 FETCH (FLAGS (\Recent))`, `* 2 FETCH (FLAGS (\Recent))`)
	// Recent to a only.
	has(t, b.ok("SELECT Box"), "* 2 EXISTS", "* 0 RECENT")
	b.ok("CLOSE")

	// Appended while no session has Box2 selected: the next SELECT gets
	// them.
	a.ok("CREATE Box2")
	for i := range 2 {
		e.deliverNew("Box2", msg(fmt.Sprintf("q%d", i), "x"), 0)
	}
	has(t, b.ok("SELECT Box2"), "* 2 EXISTS", "* 2 RECENT")
	has(t, b.ok("STATUS Box2 (RECENT)"), "* STATUS Box2 (RECENT 0)")
	e.deliverNew("Box2", msg("q3", "x"), 0)
	has(t, a.ok("STATUS Box2 (RECENT MESSAGES)"), "* STATUS Box2 (RECENT 1 MESSAGES 3)")

	// Expunged recent messages leave the set.
	a.ok(`STORE 1 +FLAGS.SILENT (\Deleted)`)
	has(t, a.ok("EXPUNGE"), "* 1 EXPUNGE")
	m := msg("r3", "x")
	a.send(fmt.Sprintf("ap APPEND Box {%d+}\r\n%s", len(m), m))
	lines, st := a.until("ap")
	if !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	has(t, lines, "* 2 EXISTS")
	if n := recentCount(lines); n != 2 {
		t.Errorf("RECENT after expunging a recent message and appending one: %d (%q)", n, lines)
	}
	has(t, a.ok("SEARCH RECENT"), "* SEARCH 1 2")

	// Claims survive a restart: the server forgets nothing about them.
	e.deliverNew("Box", msg("while down", "x"), 0)
	e.stop()
	e.start(imapserver.Config{})
	c := e.login()
	lines = c.ok("SELECT Box")
	has(t, lines, "* 3 EXISTS")
	if n := recentCount(lines); n != 1 {
		t.Errorf("after restart, RECENT %d, want 1 (only the message stored while down): %q", n, lines)
	}
}

// TestRecentOneSession: with sessions selecting, idling and polling one
// mailbox while messages arrive, every message is \Recent in exactly one
// session (RFC 3501 section 2.3.2).
func TestRecentOneSession(t *testing.T) {
	e := newEnv(t)
	const sessions, messages = 4, 24
	conns := make([]*conn, sessions)
	for i := range conns {
		conns[i] = e.login()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range messages {
			e.deliverNew("INBOX", msg(fmt.Sprintf("one%d", i), "x"), 0)
		}
	}()
	re := regexp.MustCompile(`UID (\d+) FLAGS \(([^)]*)\)`)
	seenBy := map[string]int{}
	record := func(i int) {
		for _, l := range conns[i].ok("UID FETCH 1:* (UID FLAGS)") {
			if m := re.FindStringSubmatch(l); m != nil && strings.Contains(m[2], `\Recent`) {
				if prev, dup := seenBy[m[1]]; dup && prev != i {
					t.Errorf("UID %s recent in sessions %d and %d", m[1], prev, i)
				}
				seenBy[m[1]] = i
			}
		}
	}
	for i := range conns {
		conns[i].ok("SELECT INBOX")
		record(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3 * messages {
		i := rng.IntN(sessions)
		if rng.IntN(3) == 0 {
			conns[i].ok("SELECT INBOX")
		} else {
			conns[i].ok("NOOP")
		}
		record(i)
	}
	wg.Wait()
	for i := range conns {
		conns[i].ok("SELECT INBOX")
		record(i)
	}
	if len(seenBy) != messages {
		t.Errorf("%d of %d messages were recent in some session: %v", len(seenBy), messages, seenBy)
	}
	mb, err := e.st.Mailbox(t.Context(), e.account.ID, "INBOX")
	if err != nil || mb.RecentUID != messages {
		t.Errorf("INBOX recent claims up to %d, want %d (%v)", mb.RecentUID, messages, err)
	}
}
