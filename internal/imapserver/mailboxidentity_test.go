package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
	"github.com/xtramail/xtramail/internal/blob/fs"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
)

// Issue 11 part 1: mailbox ids were reused after a DELETE, and the
// server's per-mailbox state (flag snapshot, \Recent claims, selected
// mailbox) outlived its mailbox, so that one account's session read and
// expunged another's messages.

// addUser creates another signed-in-able account of example.org.
func (e *env) addUser(address string) store.Account {
	e.t.Helper()
	hash, err := auth.HashParams(testPassword, cheapParams)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.st.CreateAccount(context.Background(), address, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	if !a.Enabled {
		if err := e.st.SetEnabled(context.Background(), address, true); err != nil {
			e.t.Fatal(err)
		}
	}
	return a
}

// loginAs dials and signs in as address.
func (e *env) loginAs(address string) *conn {
	c := e.dial()
	c.ok("LOGIN " + address + ` "` + testPassword + `"`)
	return c
}

// appendMsg appends raw to mailbox with a LITERAL+ literal.
func (c *conn) appendMsg(mailbox, raw string) {
	c.t.Helper()
	c.ok(fmt.Sprintf("APPEND %s {%d+}\r\n%s", mailbox, len(raw), raw))
}

// cmdOrBye runs a command and returns its lines and status, or "BYE" as
// the status when the server ended the session instead of answering.
func (c *conn) cmdOrBye(command string) ([]string, string) {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("a%d", c.n)
	c.send(tag + " " + command)
	var lines []string
	for {
		l := c.line()
		if strings.HasPrefix(l, "* BYE") {
			return append(lines, l), "BYE"
		}
		if strings.HasPrefix(l, tag+" ") {
			return lines, strings.TrimPrefix(l, tag+" ")
		}
		lines = append(lines, l)
	}
}

func (e *env) mailboxUIDs(t *testing.T, account store.Account, name string) []uint32 {
	t.Helper()
	mb, err := e.st.Mailbox(context.Background(), account.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	uids, err := e.st.UIDs(context.Background(), account.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return uids
}

// TestRecreatedMailboxGetsNoStaleFlags is the first sequence:
// one account deletes a folder whose messages carry \Deleted and $kw and
// creates one of the same name: its STORE answer showed the old flags and
// EXPUNGE removed a message never marked.
func TestRecreatedMailboxGetsNoStaleFlags(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	c.ok("CREATE box1")
	for i := range 4 {
		c.appendMsg("box1", msg(fmt.Sprintf("old %d", i), "old"))
	}
	old := c.ok("SELECT box1")
	c.ok(`STORE 2,3 +FLAGS (\Deleted $kw)`)
	// Deleting its own selected mailbox closes it: nothing more is
	// answered about it.
	has(t, c.ok("DELETE box1"), "[CLOSED]")
	c.want("FETCH 1:* (FLAGS)", "BAD")

	c.ok("CREATE box1")
	for i := range 4 {
		c.appendMsg("box1", msg(fmt.Sprintf("new %d", i), "new"))
	}
	lines := c.ok("SELECT box1")
	if uidValidity := regexp.MustCompile(`UIDVALIDITY \d+`); uidValidity.FindString(strings.Join(old, "\n")) == uidValidity.FindString(strings.Join(lines, "\n")) {
		t.Errorf("recreated mailbox has the old UIDVALIDITY: %q", lines)
	}
	lines = c.ok(`STORE 3 +FLAGS (\Deleted)`)
	has(t, lines, `* 3 FETCH (FLAGS (\Deleted`)
	hasNot(t, lines, "$kw")
	hasNot(t, c.ok("FETCH 1:* (FLAGS)"), "$kw")
	lines = c.ok("EXPUNGE")
	if len(lines) != 1 || lines[0] != "* 3 EXPUNGE" {
		t.Errorf("EXPUNGE answered %q, want only * 3 EXPUNGE", lines)
	}
	if got := e.mailboxUIDs(t, e.account, "box1"); fmt.Sprint(got) != "[1 2 4]" {
		t.Errorf("box1 holds UIDs %v after EXPUNGE, want [1 2 4]", got)
	}
}

// TestNewMailboxOfAnotherAccountGetsNoStaleFlags is the second sequence:
// b@ creates a folder after a@ deleted one whose messages carry a label;
// b@ saw the label and EXPUNGE removed all of b@'s messages.
func TestNewMailboxOfAnotherAccountGetsNoStaleFlags(t *testing.T) {
	e := newEnv(t)
	bob := e.addUser("bob@example.org")
	a := e.login()
	a.ok("CREATE secret")
	for i := range 3 {
		a.appendMsg("secret", msg(fmt.Sprintf("a %d", i), "a"))
	}
	a.ok("SELECT secret")
	a.ok(`STORE 1:3 +FLAGS (\Deleted $SecretLabel)`)
	a.ok("UNSELECT")
	a.ok("DELETE secret")

	b := e.loginAs(bob.Address)
	b.ok("CREATE folder")
	for i := range 3 {
		b.appendMsg("folder", msg(fmt.Sprintf("b %d", i), "b"))
	}
	hasNot(t, b.ok("SELECT folder"), "$SecretLabel")
	lines := b.ok(`STORE 2 +FLAGS (\Seen)`)
	has(t, lines, `* 2 FETCH (FLAGS (\Seen`)
	hasNot(t, lines, "$SecretLabel")
	hasNot(t, b.ok("FETCH 1:* (FLAGS)"), "$SecretLabel")
	hasNot(t, b.ok("EXPUNGE"), "EXPUNGE")
	if got := e.mailboxUIDs(t, bob, "folder"); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("bob's folder holds UIDs %v, want [1 2 3]", got)
	}
}

// TestDeletedSelectedMailboxNeverServesAnother is the third sequence: a@'s
// session A1 has privbox selected, A2 deletes it, b@ creates a folder and
// appends: A1's FETCH returned b@'s message. Now A1 gets BYE (or NO
// [NONEXISTENT], then BYE), never data. The deletion is done by another
// session of the server, and by another process (a second store on the
// same database, whose change feed the server never hears).
func TestDeletedSelectedMailboxNeverServesAnother(t *testing.T) {
	for _, by := range []string{"session", "process"} {
		t.Run(by, func(t *testing.T) {
			e := newEnv(t)
			bob := e.addUser("bob@example.org")
			a1 := e.login()
			a1.ok("CREATE privbox")
			a1.appendMsg("privbox", msg("mine", "alice-private-text"))
			a1.ok("SELECT privbox")
			has(t, a1.ok("UID FETCH 1:* BODY.PEEK[TEXT]"), "alice-private-text")

			switch by {
			case "session":
				a2 := e.login()
				a2.ok("DELETE privbox")
			case "process":
				blobs, err := fs.Open(filepath.Join(e.dir, "blobs"))
				if err != nil {
					t.Fatal(err)
				}
				other, err := sqlite.Open(filepath.Join(e.dir, "db", "x.db"), blobs, sqlite.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := other.DeleteMailbox(context.Background(), e.account.ID, "privbox"); err != nil {
					t.Fatal(err)
				}
				other.Close()
			}
			b := e.loginAs(bob.Address)
			b.ok("CREATE bobbox")
			b.appendMsg("bobbox", msg("theirs", "bob-secret-text"))

			// Until the session ends, every answer is a refusal.
			ended := false
			for i := 0; i < 3 && !ended; i++ {
				lines, st := a1.cmdOrBye("UID FETCH 1:* BODY.PEEK[TEXT]")
				hasNot(t, lines, "bob-secret-text")
				hasNot(t, lines, "alice-private-text")
				switch {
				case st == "BYE":
					ended = true
				case strings.HasPrefix(st, "NO [NONEXISTENT]"):
				default:
					t.Fatalf("FETCH in a deleted mailbox answered %q %q", lines, st)
				}
			}
			if !ended {
				t.Fatal("session whose selected mailbox was deleted never got BYE")
			}
		})
	}
}

// TestMailboxChurnNeverCrossesAccounts is the randomized form: sessions of
// three accounts create, fill, select, flag, expunge and delete folders
// of the same names at random, each account marking its messages and
// keywords with its own tag; no answer ever shows another account's tag,
// and every answer in a folder that was deleted is a refusal or BYE.
func TestMailboxChurnNeverCrossesAccounts(t *testing.T) {
	e := newEnv(t)
	users := []string{testUser, "bob@example.org", "carol@example.org"}
	for _, u := range users[1:] {
		e.addUser(u)
	}
	tags := []string{"tagalice", "tagbob", "tagcarol"}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, u := range users {
		for s := range 2 {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				if err := churn(e, u, tags[i], tags, rand.New(rand.NewPCG(seed, 11))); err != nil {
					errs <- err
				}
			}(uint64(i*10 + s))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// churn is one session of TestMailboxChurnNeverCrossesAccounts; it
// reconnects after a BYE.
func churn(e *env, user, tag string, tags []string, r *rand.Rand) error {
	names := []string{"f1", "f2", "f3"}
	c, err := dialRaw(e, user)
	if err != nil {
		return err
	}
	defer func() { c.close() }()
	for range 60 {
		name := names[r.IntN(len(names))]
		var cmd string
		switch r.IntN(8) {
		case 0:
			cmd = "CREATE " + name
		case 1:
			cmd = "DELETE " + name
		case 2:
			raw := msg(tag+" message", "body of "+tag)
			cmd = fmt.Sprintf("APPEND %s {%d+}\r\n%s", name, len(raw), raw)
		case 3:
			cmd = "SELECT " + name
		case 4:
			cmd = fmt.Sprintf(`UID STORE 1:* +FLAGS ($%s \Deleted)`, tag)
		case 5:
			cmd = "EXPUNGE"
		case 6:
			cmd = "UID FETCH 1:* (FLAGS BODY.PEEK[TEXT])"
		default:
			cmd = "NOOP"
		}
		lines, st, err := c.cmd(cmd)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", user, cmd, err)
		}
		for _, l := range lines {
			for _, other := range tags {
				if other != tag && strings.Contains(l, other) {
					return fmt.Errorf("%s got another account's data after %q: %q", user, cmd, l)
				}
			}
		}
		if st == "BYE" {
			c.close()
			if c, err = dialRaw(e, user); err != nil {
				return err
			}
		}
	}
	return nil
}

// Issue 11 part 2: with several sessions on one mailbox, a session's own
// STORE was not seen by its next command when another session wrote in
// between: UID EXPUNGE removed a message whose \Deleted it had just taken
// off, and left one it had just marked.

// flagModel is what the owner of a message knows of it: only the owner
// changes its flags; any session's EXPUNGE may remove it while it has
// \Deleted.
type flagModel struct {
	flags map[string]bool
	// mayBeGone: \Deleted was set since the message was last seen live
	// without it, so another session's EXPUNGE may have removed it.
	mayBeGone bool
	gone      bool // certainly expunged (by its owner)
}

func (m *flagModel) String() string {
	var fs []string
	for f, on := range m.flags {
		if on {
			fs = append(fs, f)
		}
	}
	return "(" + strings.Join(sortedStrings(fs), " ") + ")"
}

var flagList = regexp.MustCompile(`FLAGS \(([^)]*)\)`)

// flagsOf parses the FLAGS of a FETCH line, without \Recent.
func flagsOf(line string) (string, bool) {
	m := flagList.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	var fs []string
	for _, f := range strings.Fields(m[1]) {
		if f != `\Recent` {
			fs = append(fs, f)
		}
	}
	return "(" + strings.Join(sortedStrings(fs), " ") + ")", true
}

// TestConcurrentSessionsNeverLoseFlagUpdates races sessions on one
// mailbox, each on its own messages, with STORE and UID STORE ±FLAGS and
// .SILENT, UID EXPUNGE and EXPUNGE. Every answer about a session's own
// message must show exactly the flags its acknowledged STOREs left, a
// message must never vanish unless it had \Deleted, an acknowledged
// expunge of a \Deleted message must remove it, and the store must agree
// at the end.
func TestConcurrentSessionsNeverLoseFlagUpdates(t *testing.T) {
	const sessions, perSession, ops = 8, 8, 60
	e := newEnv(t)
	for i := range sessions * perSession {
		e.deliver(store.Inbox, msg(fmt.Sprintf("m%d", i), "x"), 0)
	}
	models := make([]map[uint32]*flagModel, sessions)
	var wg sync.WaitGroup
	errs := make(chan error, sessions*4)
	for i := range sessions {
		models[i] = map[uint32]*flagModel{}
		for u := uint32(i + 1); u <= sessions*perSession; u += sessions {
			models[i][u] = &flagModel{flags: map[string]bool{}}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := raceFlags(e, i, models[i], ops, rand.New(rand.NewPCG(uint64(i), 7))); err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The store agrees with every model.
	mb, err := e.st.Mailbox(context.Background(), e.account.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.st.FlagsByUID(context.Background(), e.account.ID, mb.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := map[uint32]string{}
	for _, r := range rows {
		var fs []string
		for _, f := range []struct {
			bit  store.Flags
			name string
		}{{store.FlagSeen, `\Seen`}, {store.FlagFlagged, `\Flagged`}, {store.FlagDeleted, `\Deleted`}} {
			if r.Flags&f.bit != 0 {
				fs = append(fs, f.name)
			}
		}
		live[r.UID] = "(" + strings.Join(sortedStrings(append(fs, r.Keywords...)), " ") + ")"
	}
	for i := range models {
		for u, m := range models[i] {
			got, ok := live[u]
			switch {
			case ok && m.gone:
				t.Errorf("UID %d: an acknowledged expunge left it in the store with %s", u, got)
			case ok && got != m.String():
				t.Errorf("UID %d: store has %s, acknowledged STOREs left %s", u, got, m)
			case !ok && !m.mayBeGone && !m.gone:
				t.Errorf("UID %d: expunged without \\Deleted (flags %s)", u, m)
			}
		}
	}
}

// raceFlags is one racing session of TestConcurrentSessionsNeverLoseFlagUpdates:
// STORE and UID STORE (±, silent or not), UID EXPUNGE, EXPUNGE, CLOSE
// and flag SEARCH, each answer checked against the session's own
// acknowledged writes (issue 11 part 2 names FETCH FLAGS, STORE answers,
// flag SEARCH and CLOSE as readers of the stale snapshot).
func raceFlags(e *env, id int, model map[uint32]*flagModel, ops int, r *rand.Rand) error {
	c, err := dialRaw(e, testUser)
	if err != nil {
		return err
	}
	defer c.close()
	if _, st, err := c.cmd("SELECT INBOX"); err != nil || !strings.HasPrefix(st, "OK") {
		return fmt.Errorf("SELECT: %s %v", st, err)
	}
	kw := fmt.Sprintf("$k%d", id)
	pool := []string{`\Deleted`, `\Seen`, `\Flagged`, kw}
	uids := make([]uint32, 0, len(model))
	for u := range model {
		uids = append(uids, u)
	}
	sortUIDs(uids)

	// observe checks what an answer showed about u (line empty: not
	// shown, so expunged).
	observe := func(u uint32, line, after string) error {
		m := model[u]
		if line == "" {
			if !m.mayBeGone && !m.gone {
				return fmt.Errorf("UID %d vanished without \\Deleted (flags %s) after %s", u, m, after)
			}
			m.gone = true
			return nil
		}
		if m.gone {
			return fmt.Errorf("UID %d still there after its acknowledged expunge (%s)", u, after)
		}
		got, ok := flagsOf(line)
		if ok && got != m.String() {
			return fmt.Errorf("UID %d shows %s after %s; its acknowledged STOREs left %s", u, got, after, m)
		}
		if ok && !m.flags[`\Deleted`] {
			m.mayBeGone = false // live without \Deleted: safe from now on
		}
		return nil
	}
	// fetchLine returns the last FETCH line about u: unsolicited ones
	// may come first.
	fetchLine := func(lines []string, u uint32) string {
		uidItem := regexp.MustCompile(fmt.Sprintf(`UID %d\b`, u))
		found := ""
		for _, l := range lines {
			if strings.Contains(l, " FETCH (") && uidItem.MatchString(l) {
				found = l
			}
		}
		return found
	}
	for range ops {
		var live []uint32
		for _, u := range uids {
			if !model[u].gone {
				live = append(live, u)
			}
		}
		if len(live) == 0 {
			return nil
		}
		u := live[r.IntN(len(live))]
		m := model[u]
		switch op := r.IntN(12); {
		case op < 6: // STORE or UID STORE ±FLAGS[.SILENT]
			var set []string
			for _, f := range pool {
				if r.IntN(3) == 0 {
					set = append(set, f)
				}
			}
			if len(set) == 0 {
				set = []string{`\Deleted`}
			}
			add := r.IntN(2) == 0
			silent := r.IntN(3) == 0
			item := "-FLAGS"
			if add {
				item = "+FLAGS"
			}
			if silent {
				item += ".SILENT"
			}
			byUID := r.IntN(2) == 0
			target := fmt.Sprint(u)
			if !byUID {
				// The sequence number from a UID FETCH, which may report
				// expunges; STORE by number then reports none.
				lines, st, err := c.cmd(fmt.Sprintf("UID FETCH %d (UID)", u))
				if err != nil || !strings.HasPrefix(st, "OK") {
					return fmt.Errorf("UID FETCH: %s %v", st, err)
				}
				l := fetchLine(lines, u)
				if err := observe(u, l, "UID FETCH"); err != nil {
					return err
				}
				if l == "" {
					continue
				}
				target = strings.Fields(l)[1]
			}
			cmd := fmt.Sprintf("STORE %s %s (%s)", target, item, strings.Join(set, " "))
			if byUID {
				cmd = "UID " + cmd
			}
			if add && slices.Contains(set, `\Deleted`) {
				m.mayBeGone = true // from the moment it is sent
			}
			lines, st, err := c.cmd(cmd)
			if err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("%s: %s %v", cmd, st, err)
			}
			for _, f := range set {
				m.flags[f] = add
			}
			if !silent {
				var l string
				if byUID {
					l = fetchLine(lines, u)
				} else {
					for _, x := range lines {
						if strings.HasPrefix(x, "* "+target+" FETCH (") {
							l = x
						}
					}
				}
				if err := observe(u, l, cmd); err != nil {
					return err
				}
			}
		case op < 8: // UID EXPUNGE of one message
			deleted := m.flags[`\Deleted`]
			cmd := fmt.Sprintf("UID EXPUNGE %d", u)
			if _, st, err := c.cmd(cmd); err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("%s: %s %v", cmd, st, err)
			}
			if deleted {
				m.gone = true
			}
			lines, st, err := c.cmd(fmt.Sprintf("UID FETCH %d (FLAGS)", u))
			if err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("UID FETCH: %s %v", st, err)
			}
			if err := observe(u, fetchLine(lines, u), cmd); err != nil {
				return err
			}
		case op < 10: // EXPUNGE or CLOSE: every \Deleted message of every session
			var mine []uint32
			for _, x := range live {
				if model[x].flags[`\Deleted`] {
					mine = append(mine, x)
				}
			}
			cmd := "EXPUNGE"
			if op == 9 {
				cmd = "CLOSE"
			}
			if _, st, err := c.cmd(cmd); err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("%s: %s %v", cmd, st, err)
			}
			for _, x := range mine {
				model[x].gone = true
			}
			if cmd == "CLOSE" {
				if _, st, err := c.cmd("SELECT INBOX"); err != nil || !strings.HasPrefix(st, "OK") {
					return fmt.Errorf("SELECT after CLOSE: %s %v", st, err)
				}
			}
		default: // a flag SEARCH reads the session's own last STORE
			f := pool[r.IntN(len(pool))]
			key := map[string]string{`\Deleted`: "DELETED", `\Seen`: "SEEN", `\Flagged`: "FLAGGED"}[f]
			if key == "" {
				key = "KEYWORD " + f
			}
			cmd := fmt.Sprintf("UID SEARCH UID %d %s", u, key)
			lines, st, err := c.cmd(cmd)
			if err != nil || !strings.HasPrefix(st, "OK") {
				return fmt.Errorf("%s: %s %v", cmd, st, err)
			}
			found := false
			for _, l := range lines {
				if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok && slices.Contains(strings.Fields(rest), fmt.Sprint(u)) {
					found = true
				}
			}
			if !found && m.flags[`\Deleted`] && m.mayBeGone {
				continue // perhaps expunged by another session meanwhile
			}
			if found != m.flags[f] {
				return fmt.Errorf("%s found it %v; its acknowledged STOREs left %s", cmd, found, m)
			}
		}
	}
	// A last look at every message of the session.
	lines, st, err := c.cmd("UID FETCH 1:* (FLAGS)")
	if err != nil || !strings.HasPrefix(st, "OK") {
		return fmt.Errorf("final FETCH: %s %v", st, err)
	}
	for _, u := range uids {
		if err := observe(u, fetchLine(lines, u), "the final FETCH"); err != nil {
			return err
		}
	}
	return nil
}

// rawConn is a client for tests that run sessions in goroutines: it
// returns errors where conn fails the test.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
	n int
}

func dialRaw(e *env, user string) (*rawConn, error) {
	nc, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	if err != nil {
		return nil, err
	}
	c := &rawConn{c: nc, r: bufio.NewReader(nc)}
	if g, err := c.line(); err != nil || !strings.HasPrefix(g, "* OK") {
		nc.Close()
		return nil, fmt.Errorf("greeting %q: %v", g, err)
	}
	if _, st, err := c.cmd("LOGIN " + user + ` "` + testPassword + `"`); err != nil || !strings.HasPrefix(st, "OK") {
		nc.Close()
		return nil, fmt.Errorf("LOGIN %s: %s %v", user, st, err)
	}
	return c, nil
}

func (c *rawConn) close() { c.c.Close() }

// line reads one response line with its literals, CRLF stripped.
func (c *rawConn) line() (string, error) {
	c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return b.String() + l, err
		}
		b.WriteString(l)
		trimmed := strings.TrimRight(l, "\r\n")
		if i := strings.LastIndexByte(trimmed, '{'); i >= 0 && strings.HasSuffix(trimmed, "}") {
			var n int
			if _, err := fmt.Sscanf(trimmed[i:], "{%d}", &n); err == nil {
				buf := make([]byte, n)
				if _, err := io.ReadFull(c.r, buf); err != nil {
					return b.String(), err
				}
				b.Write(buf)
				continue
			}
		}
		return strings.TrimRight(b.String(), "\r\n"), nil
	}
}

// cmd runs a command: its untagged lines and status, "BYE" when the
// server ended the session instead.
func (c *rawConn) cmd(command string) ([]string, string, error) {
	c.n++
	tag := fmt.Sprintf("r%d", c.n)
	c.c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c.c, tag+" "+command+"\r\n"); err != nil {
		return nil, "", err
	}
	var lines []string
	for {
		l, err := c.line()
		if err != nil {
			return lines, "", err
		}
		if strings.HasPrefix(l, "* BYE") {
			return append(lines, l), "BYE", nil
		}
		if strings.HasPrefix(l, tag+" ") {
			return lines, strings.TrimPrefix(l, tag+" "), nil
		}
		lines = append(lines, l)
	}
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}

func sortUIDs(u []uint32) { slices.Sort(u) }
