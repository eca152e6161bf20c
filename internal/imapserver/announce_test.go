package imapserver_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// The stale-snapshot class (issue 11, Stop 19's note): a commit is seen
// by reads as soon as it is written, while sessions hear of it from the
// change feed only later. A session that answers from such a read tells
// its client of a state it was never told of, and a "nothing to do"
// taken from it can leave the client without an update for good.
//
// TestSessionsSeeEveryChangeAnnounced races many sessions on one mailbox
// with random STORE, EXPUNGE, UID EXPUNGE, APPEND, MOVE (out and into the
// mailbox itself), COPY, FETCH, SEARCH and NOOP, and keeps, per session,
// the client's picture built only from the responses. Checked at every
// response: no FETCH or EXPUNGE of a sequence number past what EXISTS
// said, no UID that contradicts the picture, no keyword before FLAGS
// announced it, and every answer about a session's own message showing
// the flags its acknowledged STOREs left (issue 11 part 2). At the end,
// once every session is quiet, one NOOP must bring every picture to the
// store's state: no flag change, EXPUNGE or new message missed.
func TestSessionsSeeEveryChangeAnnounced(t *testing.T) {
	seeds := 2
	if n, err := strconv.Atoi(os.Getenv("IMAP_RACE_SEEDS")); err == nil && n > 0 {
		seeds = n
	}
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			raceAnnouncements(t, uint64(seed))
		})
	}
}

// raceAnnouncements is one run of TestSessionsSeeEveryChangeAnnounced.
func raceAnnouncements(t *testing.T, seed uint64) {
	// More messages than minCached, so that whole-mailbox FETCH and
	// SEARCH read the shared flag snapshot.
	const sessions, initial, ops = 8, 600, 40
	// A slow disk: each commit stays visible to reads and unannounced
	// for 3 ms, the window this class of defects lives in.
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := newEnvStore(t, openStoreWith(t, dir, sqlite.Options{SyncDelay: 3 * time.Millisecond}), dir)
	ctx := context.Background()
	if _, err := e.st.CreateMailbox(ctx, e.account.ID, "Other", ""); err != nil {
		t.Fatal(err)
	}
	// Delivered from several goroutines, so that group commits share
	// the slow fsyncs, then claimed \Recent at once: old mail.
	var fill sync.WaitGroup
	for w := range 8 {
		fill.Add(1)
		go func() {
			defer fill.Done()
			for i := w; i < initial; i += 8 {
				d := store.NewDelivery([]byte(msg(fmt.Sprintf("m%d", i), "x")), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
				d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: store.Inbox}}
				if _, err := e.st.Deliver(ctx, d); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	fill.Wait()
	if t.Failed() {
		t.FailNow()
	}
	inbox, err := e.st.Mailbox(ctx, e.account.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimRecent(ctx, e.account.ID, inbox.ID, inbox.UIDNext-1); err != nil {
		t.Fatal(err)
	}
	clients := make([]*pictureClient, sessions)
	for i := range clients {
		c, err := dialRaw(e, testUser)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		pc := &pictureClient{c: c, id: i, own: map[uint32]*ownFlags{}, announced: map[string]bool{}}
		if i%2 == 1 {
			// CONDSTORE sessions get MODSEQ in every FETCH.
			if _, err := pc.run("ENABLE CONDSTORE"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pc.run("SELECT INBOX"); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.run("FETCH 1:* (UID FLAGS)"); err != nil {
			t.Fatal(err)
		}
		for j, en := range pc.seqs {
			if j%sessions == i {
				pc.own[en.uid] = &ownFlags{flags: en.flags, known: true}
			}
		}
		clients[i] = pc
	}
	var wg sync.WaitGroup
	errs := make([]error, sessions)
	for i, pc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for range ops {
				if err := pc.randomCommand(r); err != nil {
					errs[i] = fmt.Errorf("session %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			clients[i].dump(t)
			t.Fatal(err)
		}
	}
	// Quiet now: one NOOP brings each picture to the store's state.
	mb, err := e.st.Mailbox(ctx, e.account.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.st.FlagsByUID(ctx, e.account.ID, mb.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range clients {
		if _, err := pc.run("NOOP"); err != nil {
			t.Fatalf("session %d: %v", pc.id, err)
		}
		// Messages announced by EXISTS alone are asked for once (their
		// flags were never announced: nothing could be missed there).
		if err := pc.learnNew(); err != nil {
			t.Fatalf("session %d: %v", pc.id, err)
		}
		if len(pc.seqs) != len(rows) {
			t.Errorf("session %d: %d messages after NOOP, the store has %d", pc.id, len(pc.seqs), len(rows))
		}
		for i := range min(len(pc.seqs), len(rows)) {
			en, row := pc.seqs[i], rows[i]
			want := rowFlags(row)
			if en.uid != row.UID {
				t.Errorf("session %d: message %d is UID %d, the store's is %d", pc.id, i+1, en.uid, row.UID)
				break
			}
			if en.flags != want {
				pc.dump(t)
				t.Errorf("session %d: UID %d shows %s, the store has %s: a change was never announced", pc.id, en.uid, en.flags, want)
			}
		}
	}
}

// rowFlags is a store row's flags as flagsOf writes them.
func rowFlags(r store.MessageFlags) string {
	var fs []string
	for _, f := range []struct {
		bit  store.Flags
		name string
	}{{store.FlagAnswered, `\Answered`}, {store.FlagFlagged, `\Flagged`}, {store.FlagDeleted, `\Deleted`}, {store.FlagSeen, `\Seen`}, {store.FlagDraft, `\Draft`}} {
		if r.Flags&f.bit != 0 {
			fs = append(fs, f.name)
		}
	}
	return "(" + strings.Join(sortedStrings(append(fs, r.Keywords...)), " ") + ")"
}

// pictureClient is one racing session and the client's picture of the
// mailbox, built from responses only.
type pictureClient struct {
	c         *rawConn
	id        int
	seqs      []pictureEntry // by sequence number - 1
	announced map[string]bool
	// own are the messages only this session stores flags on; any
	// session's EXPUNGE may remove them while they carry \Deleted.
	own map[uint32]*ownFlags
	// target is the message of the STORE running, whose last FETCH in
	// the response must show the new flags; targetSeen is what it showed.
	target     uint32
	targetSeen string
	// lastCopyUIDs are the new UIDs of the last COPYUID seen.
	lastCopyUIDs []uint32
	history      []string // commands and responses, for a failure's report
}

type pictureEntry struct {
	uid   uint32 // 0: announced by EXISTS, not yet by UID
	flags string // "" until a FETCH showed them
}

type ownFlags struct {
	flags     string
	known     bool // false: learned from the next FETCH (a MOVE's copy)
	mayBeGone bool // \Deleted was set: another session may expunge it
	gone      bool
}

var (
	fetchSeq         = regexp.MustCompile(`^\* (\d+) FETCH \(`)
	fetchUID         = regexp.MustCompile(`[( ]UID (\d+)`)
	numbered         = regexp.MustCompile(`^\* (\d+) (EXISTS|EXPUNGE|RECENT)$`)
	pictureAppendUID = regexp.MustCompile(`\[APPENDUID \d+ (\d+)\]`)
	pictureCopyUID   = regexp.MustCompile(`\[COPYUID \d+ ([\d:,]+) ([\d:,]+)\]`)
	flagsReply       = regexp.MustCompile(`^\* FLAGS \(([^)]*)\)`)
)

// run sends a command, checks every response line against the picture
// and applies it, and returns the tagged status (an error unless OK).
func (pc *pictureClient) run(command string) (string, error) {
	lines, st, err := pc.c.cmd(command)
	pc.history = append(append(append(pc.history, "C: "+command), lines...), "S: "+st)
	if err != nil {
		return st, fmt.Errorf("%s: %w", command, err)
	}
	if !strings.HasPrefix(st, "OK") {
		return st, fmt.Errorf("%s: %s", command, st)
	}
	pc.lastCopyUIDs = nil
	lastOwn := map[uint32]string{}
	for _, l := range append(lines, st) {
		if m := pictureCopyUID.FindStringSubmatch(l); m != nil {
			pc.lastCopyUIDs = uidSet(m[2])
		}
		if err := pc.apply(l, lastOwn); err != nil {
			return st, fmt.Errorf("%s: %q: %w (lines %q)", command, l, err, lines)
		}
	}
	for u, f := range lastOwn {
		m := pc.own[u]
		if m == nil || m.gone {
			continue
		}
		if !m.known {
			m.flags, m.known = f, true
			m.mayBeGone = strings.Contains(f, `\Deleted`)
			continue
		}
		if u == pc.target {
			continue // checked by the caller with the new flags
		}
		if f != m.flags {
			return st, fmt.Errorf("%s: own UID %d shows %s; its acknowledged STOREs left %s (lines %q)", command, u, f, m.flags, lines)
		}
	}
	if pc.target != 0 {
		if f, ok := lastOwn[pc.target]; ok {
			pc.targetSeen = f
		}
	}
	return st, nil
}

// apply checks one untagged line against the picture and applies it.
func (pc *pictureClient) apply(l string, lastOwn map[uint32]string) error {
	if m := flagsReply.FindStringSubmatch(l); m != nil {
		for _, f := range strings.Fields(m[1]) {
			pc.announced[f] = true
		}
		return nil
	}
	if m := numbered.FindStringSubmatch(l); m != nil {
		n, _ := strconv.Atoi(m[1])
		switch m[2] {
		case "EXISTS":
			if n < len(pc.seqs) {
				return fmt.Errorf("EXISTS %d below the %d messages known without EXPUNGE", n, len(pc.seqs))
			}
			for len(pc.seqs) < n {
				pc.seqs = append(pc.seqs, pictureEntry{})
			}
		case "EXPUNGE":
			if n < 1 || n > len(pc.seqs) {
				return fmt.Errorf("EXPUNGE of message %d, but EXISTS announced %d", n, len(pc.seqs))
			}
			if u := pc.seqs[n-1].uid; pc.own[u] != nil {
				m := pc.own[u]
				if !m.mayBeGone && !m.gone {
					return fmt.Errorf("own UID %d expunged without \\Deleted (%s)", u, m.flags)
				}
				m.gone = true
			}
			pc.seqs = slices.Delete(pc.seqs, n-1, n)
		}
		return nil
	}
	m := fetchSeq.FindStringSubmatch(l)
	if m == nil {
		return nil
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > len(pc.seqs) {
		return fmt.Errorf("FETCH of message %d, but EXISTS announced %d", n, len(pc.seqs))
	}
	en := &pc.seqs[n-1]
	if um := fetchUID.FindStringSubmatch(l); um != nil {
		u64, _ := strconv.ParseUint(um[1], 10, 32)
		u := uint32(u64)
		if en.uid != 0 && en.uid != u {
			return fmt.Errorf("message %d is UID %d, the client was told UID %d", n, u, en.uid)
		}
		if n > 1 && pc.seqs[n-2].uid >= u || n < len(pc.seqs) && pc.seqs[n].uid != 0 && pc.seqs[n].uid <= u {
			return fmt.Errorf("UID %d at message %d is out of order with its neighbours", u, n)
		}
		en.uid = u
	}
	if f, ok := flagsOf(l); ok {
		for _, k := range strings.Fields(strings.Trim(f, "()")) {
			if !strings.HasPrefix(k, `\`) && !pc.announced[k] {
				return fmt.Errorf("keyword %s shown before FLAGS announced it", k)
			}
		}
		en.flags = f
		if pc.own[en.uid] != nil {
			lastOwn[en.uid] = f
		}
	}
	return nil
}

// learnNew asks for the UID and flags of messages that EXISTS announced,
// as clients do.
func (pc *pictureClient) learnNew() error {
	first := slices.IndexFunc(pc.seqs, func(en pictureEntry) bool { return en.uid == 0 || en.flags == "" })
	if first < 0 {
		return nil
	}
	_, err := pc.run(fmt.Sprintf("FETCH %d:* (UID FLAGS)", first+1))
	return err
}

// liveOwn lists the session's own messages the picture still holds, by
// UID.
func (pc *pictureClient) liveOwn() []uint32 {
	var out []uint32
	for _, en := range pc.seqs {
		if m := pc.own[en.uid]; m != nil && !m.gone && m.known {
			out = append(out, en.uid)
		}
	}
	return out
}

// seqOf returns the sequence number of a UID in the picture.
func (pc *pictureClient) seqOf(u uint32) int {
	return slices.IndexFunc(pc.seqs, func(en pictureEntry) bool { return en.uid == u }) + 1
}

// randomCommand runs one random command and checks what it can.
func (pc *pictureClient) randomCommand(r *rand.Rand) error {
	defer func() { pc.target, pc.targetSeen = 0, "" }()
	own := pc.liveOwn()
	kw := fmt.Sprintf("$k%d", pc.id)
	pool := []string{`\Deleted`, `\Seen`, `\Flagged`, kw, "$shared"}
	op := r.IntN(100)
	if len(own) == 0 && op < 60 {
		op = 60 // nothing of its own left: append
	}
	switch {
	case op < 30: // STORE or UID STORE ±FLAGS[.SILENT] on an own message
		u := own[r.IntN(len(own))]
		m := pc.own[u]
		var set []string
		for _, f := range pool {
			if r.IntN(3) == 0 {
				set = append(set, f)
			}
		}
		if len(set) == 0 {
			set = []string{`\Seen`}
		}
		add := r.IntN(2) == 0
		item := "-FLAGS"
		if add {
			item = "+FLAGS"
		}
		silent := r.IntN(3) == 0
		if silent {
			item += ".SILENT"
		}
		cmd := fmt.Sprintf("UID STORE %d %s (%s)", u, item, strings.Join(set, " "))
		if r.IntN(2) == 0 {
			cmd = fmt.Sprintf("STORE %d %s (%s)", pc.seqOf(u), item, strings.Join(set, " "))
		}
		if add && slices.Contains(set, `\Deleted`) {
			m.mayBeGone = true
		}
		// The model takes the new flags once the STORE is sent: any
		// answer after it shows them.
		old := m.flags
		cur := map[string]bool{}
		for _, f := range strings.Fields(strings.Trim(old, "()")) {
			cur[f] = true
		}
		for _, f := range set {
			cur[f] = add
		}
		var fs []string
		for f, on := range cur {
			if on {
				fs = append(fs, f)
			}
		}
		pc.target = u
		if _, err := pc.run(cmd); err != nil {
			return err
		}
		m.flags = "(" + strings.Join(sortedStrings(fs), " ") + ")"
		if n := pc.seqOf(u); n > 0 {
			// After .SILENT the client knows what it set.
			pc.seqs[n-1].flags = m.flags
		}
		if !m.gone && !silent && pc.targetSeen != "" && pc.targetSeen != m.flags {
			return fmt.Errorf("%s answered %s; the flags are %s", cmd, pc.targetSeen, m.flags)
		}
	case op < 38: // UID EXPUNGE of an own message
		u := own[r.IntN(len(own))]
		deleted := strings.Contains(pc.own[u].flags, `\Deleted`)
		if _, err := pc.run(fmt.Sprintf("UID EXPUNGE %d", u)); err != nil {
			return err
		}
		if deleted != pc.own[u].gone {
			return fmt.Errorf("UID EXPUNGE %d with flags %s: expunged %v", u, pc.own[u].flags, pc.own[u].gone)
		}
	case op < 44: // EXPUNGE: every \Deleted message, of any session
		var mine []uint32
		for _, u := range own {
			if strings.Contains(pc.own[u].flags, `\Deleted`) {
				mine = append(mine, u)
			}
		}
		if _, err := pc.run("EXPUNGE"); err != nil {
			return err
		}
		for _, u := range mine {
			if !pc.own[u].gone {
				return fmt.Errorf("EXPUNGE left own UID %d with %s", u, pc.own[u].flags)
			}
		}
	case op < 52: // UID MOVE out, or into the mailbox itself
		u := own[r.IntN(len(own))]
		dest := "Other"
		if r.IntN(2) == 0 {
			dest = "INBOX"
		}
		pc.own[u].mayBeGone = true // it leaves
		if _, err := pc.run(fmt.Sprintf("UID MOVE %d %s", u, dest)); err != nil {
			return err
		}
		// The message may have been expunged meanwhile by another
		// session (it carried \Deleted); otherwise it left.
		if !pc.own[u].gone {
			return fmt.Errorf("UID MOVE %d: no EXPUNGE of it", u)
		}
		if dest == "INBOX" {
			for _, nu := range pc.lastCopyUIDs {
				pc.own[nu] = &ownFlags{mayBeGone: true}
			}
		}
	case op < 60: // UID COPY into the mailbox itself
		u := own[r.IntN(len(own))]
		if _, err := pc.run(fmt.Sprintf("UID COPY %d INBOX", u)); err != nil {
			return err
		}
		for _, nu := range pc.lastCopyUIDs {
			pc.own[nu] = &ownFlags{mayBeGone: true}
		}
	case op < 72: // APPEND with flags
		var set []string
		for _, f := range []string{`\Seen`, `\Flagged`, kw, "$shared"} {
			if r.IntN(3) == 0 {
				set = append(set, f)
			}
		}
		raw := msg(fmt.Sprintf("s%d-%d", pc.id, r.Uint32()), "appended")
		st, err := pc.run(fmt.Sprintf("APPEND INBOX (%s) {%d+}\r\n%s", strings.Join(set, " "), len(raw), raw))
		if err != nil {
			return err
		}
		m := pictureAppendUID.FindStringSubmatch(st)
		if m == nil {
			return fmt.Errorf("APPEND answered %q without APPENDUID", st)
		}
		u, _ := strconv.ParseUint(m[1], 10, 32)
		pc.own[uint32(u)] = &ownFlags{flags: "(" + strings.Join(sortedStrings(set), " ") + ")", known: true}
		if pc.seqOf(uint32(u)) == 0 && len(pc.seqs) > 0 && pc.seqs[len(pc.seqs)-1].uid != 0 {
			// RFC 9051 section 6.3.12: the selected mailbox's new
			// message is announced at once.
			return fmt.Errorf("APPEND of UID %d to the selected mailbox: no EXISTS for it", u)
		}
	case op < 80: // NOOP
		if _, err := pc.run("NOOP"); err != nil {
			return err
		}
	case op < 82: // SELECT again: a new view, whose flags come by FETCH
		pc.seqs, pc.announced = nil, map[string]bool{}
		if _, err := pc.run("SELECT INBOX"); err != nil {
			return err
		}
	case op < 88: // FETCH of one message, by number or UID
		if len(pc.seqs) == 0 {
			return nil
		}
		n := r.IntN(len(pc.seqs)) + 1
		u := pc.seqs[n-1].uid
		before := len(pc.history)
		if _, err := pc.run(fmt.Sprintf("FETCH %d (FLAGS)", n)); err != nil {
			return err
		}
		answered := slices.ContainsFunc(pc.history[before:], func(l string) bool { return strings.HasPrefix(l, fmt.Sprintf("* %d FETCH ", n)) })
		if !answered && u != 0 {
			// The message is gone from the store: the read saw its
			// expunge, so the next command must report it.
			if _, err := pc.run("NOOP"); err != nil {
				return err
			}
			if pc.seqOf(u) != 0 {
				return fmt.Errorf("FETCH %d found UID %d expunged, and the NOOP after it reported no EXPUNGE", n, u)
			}
		}
		if len(own) > 0 {
			if _, err := pc.run(fmt.Sprintf("UID FETCH %d (FLAGS)", own[r.IntN(len(own))])); err != nil {
				return err
			}
		}
	case op < 92: // FETCH 1:* FLAGS, from the shared snapshot
		if _, err := pc.run("FETCH 1:* (FLAGS)"); err != nil {
			return err
		}
	default: // SEARCH: only numbers the client was told of
		lines, st, err := pc.c.cmd("SEARCH " + []string{"ALL", "DELETED", "KEYWORD $shared", "UNSEEN"}[r.IntN(4)])
		pc.history = append(append(append(pc.history, "C: SEARCH"), lines...), "S: "+st)
		if err != nil || !strings.HasPrefix(st, "OK") {
			return fmt.Errorf("SEARCH: %s %v", st, err)
		}
		lastOwn := map[uint32]string{}
		for _, l := range lines {
			if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
				for _, f := range strings.Fields(rest) {
					if n, _ := strconv.Atoi(f); n < 1 || n > len(pc.seqs) {
						return fmt.Errorf("SEARCH found message %d, but EXISTS announced %d (%q)", n, len(pc.seqs), lines)
					}
				}
				continue
			}
			if err := pc.apply(l, lastOwn); err != nil {
				return fmt.Errorf("SEARCH: %q: %w", l, err)
			}
		}
	}
	if err := pc.learnNew(); err != nil {
		return err
	}
	if os.Getenv("IMAP_RACE_CHECKUIDS") != "" {
		_, err := pc.run("FETCH 1:* (UID)")
		return err
	}
	return nil
}

// uidSet expands a UID set of a response code ("4:6,9").
func uidSet(s string) []uint32 {
	var out []uint32
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(part, ":")
		if !ok {
			b = a
		}
		x, _ := strconv.ParseUint(a, 10, 32)
		y, _ := strconv.ParseUint(b, 10, 32)
		if x > y {
			x, y = y, x
		}
		for u := x; u <= y; u++ {
			out = append(out, uint32(u))
		}
	}
	return out
}

// dump writes the session's transcript to a file named in the log, when
// IMAP_RACE_DUMP names a directory.
func (pc *pictureClient) dump(t *testing.T) {
	dir := os.Getenv("IMAP_RACE_DUMP")
	if dir == "" {
		return
	}
	name := fmt.Sprintf("%s/%s-session%d.txt", dir, strings.ReplaceAll(t.Name(), "/", "_"), pc.id)
	os.WriteFile(name, []byte(strings.Join(pc.history, "\n")), 0o644)
	t.Logf("transcript of session %d in %s", pc.id, name)
}

// TestExpungeSeenByReadIsReportedNext guards the barrier itself: on a
// slow disk another session's EXPUNGE is visible to reads well before it
// is announced. A FETCH that finds the message gone has shown the client
// a state it was not told of, so the next command (NOOP) must report the
// EXPUNGE, not a later one.
func TestExpungeSeenByReadIsReportedNext(t *testing.T) {
	dir, err := os.MkdirTemp("", "imapserver-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e := newEnvStore(t, openStoreWith(t, dir, sqlite.Options{SyncDelay: 400 * time.Millisecond}), dir)
	for i := range 3 {
		e.deliver(store.Inbox, msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, e.account.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.login(), e.login()
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	a.ok("NOOP")
	// B's EXPUNGE is sent, not waited for: its answer comes after the
	// slow fsync, and so does the feed's announcement.
	b.send("x1 EXPUNGE")
	deadline := time.Now().Add(30 * time.Second)
	for {
		uids, err := e.st.UIDs(ctx, e.account.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(uids, 2) {
			break // committed: visible, not yet announced
		}
		if time.Now().After(deadline) {
			t.Fatal("B's EXPUNGE never became visible")
		}
		time.Sleep(time.Millisecond)
	}
	// A body FETCH reads the store, which no longer has the message:
	// the client is shown a state that it has not been told of...
	lines := a.ok("FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	hasNot(t, lines, "UID 2 ")
	// ...so the next command tells it.
	lines = a.ok("NOOP")
	has(t, lines, "* 2 EXPUNGE")
	if _, st := b.until("x1"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("B's EXPUNGE: %s", st)
	}
}
