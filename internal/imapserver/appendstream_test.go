package imapserver_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/smtpserver"
)

// spoolEnv is a server whose large APPEND literals go to a spool
// directory of the test's, counted against a budget the test can read.
type spoolEnv struct {
	*env
	spool  string
	budget *smtpserver.Budget
}

func newSpoolEnv(t *testing.T, budget int64) *spoolEnv {
	t.Helper()
	e := newEnv(t)
	e.stop()
	se := &spoolEnv{env: e, spool: t.TempDir(), budget: smtpserver.NewBudget(budget)}
	e.start(imapserver.Config{SpoolDir: se.spool, Inflight: se.budget, MaxLiteral: 64 << 20})
	return se
}

// spoolFiles counts this process's open files in the spool directory
// (they are unlinked at once, so the directory itself is always empty).
func (se *spoolEnv) spoolFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, se.spool+"/") {
			n++
		}
	}
	return n
}

// settled waits until no spool file is open and the budget is spent by
// nothing, as after every command with a large literal.
func (se *spoolEnv) settled(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for se.spoolFiles(t) > 0 || se.budget.Used() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d spool files open, %d budget bytes held", se.spoolFiles(t), se.budget.Used())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bigMessage is a message of exactly n bytes (n >= 200) with CRLF lines
// of random printable text, ending in CRLF. Its words, the letter and digit
// runs between the punctuation, are drawn from the few hundred of bigWords, as
// in real text: with every word new, storing each message meant indexing
// hundreds of thousands of distinct words, the single writer's work that
// made these tests take minutes on a loaded machine while the spool, which
// they test, sees the same bytes either way.
func bigMessage(rng *rand.Rand, n int) []byte {
	head := fmt.Sprintf("From: Bob <bob@example.net>\r\nSubject: big %d\r\nMessage-ID: <big%d.%d@example.net>\r\n\r\n", n, n, rng.Uint64())
	words := bigWords()
	b := make([]byte, 0, n+256)
	b = append(b, head...)
	for len(b) < n {
		line := len(b) + 1 + rng.IntN(200)
		for len(b) < line {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, bigPunct[rng.IntN(len(bigPunct))])
		}
		b = append(b, '\r', '\n')
	}
	b = b[:n]
	b[n-2], b[n-1] = '\r', '\n'
	if b[n-3] == '\r' {
		b[n-3] = 'x' // no bare CR before the end
	}
	return b
}

// bigPunct are the printable characters between '!' and 'z' that are not
// letters or digits: what separates bigMessage's words.
const bigPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`"

// bigWords is bigMessage's vocabulary: 400 words of 1 to 12 letters and
// digits, the same in every run.
func bigWords() []string {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	rng := rand.New(rand.NewPCG(400, 12))
	words := make([]string, 400)
	for i := range words {
		w := make([]byte, 1+rng.IntN(12))
		for j := range w {
			w[j] = alnum[rng.IntN(len(alnum))]
		}
		words[i] = string(w)
	}
	return words
}

// appendRaw APPENDs data as a synchronising literal (prefix "" or "~")
// and returns the tagged status.
func appendRaw(t *testing.T, c *conn, mailbox, prefix string, data []byte) string {
	t.Helper()
	c.n++
	tag := fmt.Sprintf("a%d", c.n)
	c.send(fmt.Sprintf("%s APPEND %s %s{%d}", tag, mailbox, prefix, len(data)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		return strings.TrimPrefix(l, tag+" ")
	}
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Minute))
	if _, err := c.c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.send("")
	_, st := c.until(tag)
	return st
}

// fetchBody returns BODY[] (or another section) of the message with uid.
func fetchBody(t *testing.T, c *conn, uid uint32, section string) []byte {
	t.Helper()
	lines := c.ok(fmt.Sprintf("UID FETCH %d (BODY.PEEK[%s])", uid, section))
	for _, l := range lines {
		if i := strings.Index(l, "}\r\n"); i >= 0 && strings.Contains(l, "BODY["+section+"]") {
			return []byte(strings.TrimSuffix(l[i+3:], ")"))
		}
	}
	t.Fatalf("no BODY[%s] in %d lines", section, len(lines))
	return nil
}

// TestAppendLiteralsRoundTrip guards issue 12 part 2: messages of 0, 1,
// 64 KiB-1, 64 KiB (the first spooled size), 10 MiB and 45 MB come back
// byte for byte; the large ones went through the spool (their size was
// taken from the in-flight budget while they arrived), which holds nothing
// once each APPEND is answered.
func TestAppendLiteralsRoundTrip(t *testing.T) {
	se := newSpoolEnv(t, 1<<30)
	c := se.login()
	c.timeout = 5 * time.Minute
	c.ok("SELECT INBOX")
	rng := rand.New(rand.NewPCG(12, 7))
	for i, n := range []int{0, 1, 64<<10 - 1, 64 << 10, 10 << 20, 45_000_000} {
		var data []byte
		switch {
		case n == 1:
			data = []byte("x")
		case n > 0:
			data = bigMessage(rng, n)
		}
		st := appendRaw(t, c, "INBOX", "", data)
		if !strings.HasPrefix(st, "OK [APPENDUID") {
			t.Fatalf("APPEND of %d bytes: %s", n, st)
		}
		got := fetchBody(t, c, uint32(i+1), "")
		if !bytes.Equal(got, data) {
			t.Fatalf("%d bytes appended, %d fetched, equal %v", len(data), len(got), bytes.Equal(got, data))
		}
		se.settled(t)
	}
}

// TestAppendSpooledLineEndings: a spooled literal with bare LFs and bare
// CRs (one last) is stored as SMTP stores it (smtpserver.NormalizeCRLF);
// a spooled literal8 keeps its part bodies as given (RFC 3516 4.4): BINARY
// returns them, NUL included, and BODY[] holds no NUL.
func TestAppendSpooledLineEndings(t *testing.T) {
	se := newSpoolEnv(t, 1<<30)
	c := se.login()
	c.timeout = 2 * time.Minute
	c.ok("SELECT INBOX")
	var lf bytes.Buffer
	lf.WriteString("Subject: bare\n\n")
	for lf.Len() < 300<<10 {
		lf.WriteString("a line ended by LF\nand one by CR\r")
	}
	if st := appendRaw(t, c, "INBOX", "", lf.Bytes()); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	if got, want := fetchBody(t, c, 1, ""), smtpserver.NormalizeCRLF(lf.Bytes()); !bytes.Equal(got, want) {
		t.Fatalf("stored %d bytes, want the %d of NormalizeCRLF", len(got), len(want))
	}

	rng := rand.New(rand.NewPCG(3, 16))
	bin := make([]byte, 200<<10)
	for i := range bin {
		bin[i] = byte(rng.IntN(256))
	}
	bin[0], bin[len(bin)-1] = 0, 'z'
	lfBody := bytes.Repeat([]byte("kept\nas given\n"), 10000)
	lfBody = append(lfBody, 'z')
	upload := []byte("Subject: binary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + string(bin) +
		"\r\n--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + string(lfBody) + "\r\n--B--\r\n")
	if st := appendRaw(t, c, "INBOX", "~", upload); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	for part, want := range map[string][]byte{"1": bin, "2": lfBody} {
		lines := c.ok("UID FETCH 2 (BINARY.PEEK[" + part + "])")
		// literal8 where the data holds NUL; a literal may do otherwise
		// (RFC 3516 4.2).
		prefix := fmt.Sprintf("BINARY[%s] {%d}\r\n", part, len(want))
		if bytes.IndexByte(want, 0) >= 0 {
			prefix = fmt.Sprintf("BINARY[%s] ~{%d}\r\n", part, len(want))
		}
		if len(lines) != 1 || !strings.Contains(lines[0], prefix) || !bytes.Contains([]byte(lines[0]), want) {
			got := ""
			if len(lines) > 0 {
				got = lines[0][:min(len(lines[0]), 80)]
			}
			t.Fatalf("BINARY[%s] of the literal8 upload differs: %q..., want %q...", part, got, prefix)
		}
	}
	if body := fetchBody(t, c, 2, ""); bytes.IndexByte(body, 0) >= 0 {
		t.Fatal("BODY[] of a literal8 upload holds NUL")
	}
	se.settled(t)
}

// TestMultiAppendSpooledAllOrNothing: MULTIAPPEND with a spooled literal
// stores all its messages or none (RFC 3502 3), and frees the spools
// either way.
func TestMultiAppendSpooledAllOrNothing(t *testing.T) {
	se := newSpoolEnv(t, 1<<30)
	c := se.login()
	c.timeout = 2 * time.Minute
	rng := rand.New(rand.NewPCG(5, 5))
	big, small := bigMessage(rng, 500<<10), []byte(msg("small", "x"))
	// The second message has an unknown system flag: BAD, nothing stored.
	c.send(fmt.Sprintf("m1 APPEND INBOX {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s", len(big), big, len(small), small))
	if _, st := c.until("m1"); !strings.HasPrefix(st, "BAD") {
		t.Fatalf("MULTIAPPEND with a bad flag: %s", st)
	}
	lines := c.ok("STATUS INBOX (MESSAGES)")
	has(t, lines, "(MESSAGES 0)")
	se.settled(t)
	// Into a mailbox that does not exist: TRYCREATE, nothing stored.
	c.send(fmt.Sprintf("m2 APPEND Nope {%d+}\r\n%s {%d+}\r\n%s", len(small), small, len(big), big))
	if _, st := c.until("m2"); !strings.HasPrefix(st, "NO [TRYCREATE]") {
		t.Fatalf("MULTIAPPEND to a missing mailbox: %s", st)
	}
	se.settled(t)
	big2 := bigMessage(rng, 2<<20)
	c.send(fmt.Sprintf("m3 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s {%d+}\r\n%s", len(big), big, len(small), small, len(big2), big2))
	if _, st := c.until("m3"); !strings.HasPrefix(st, "OK [APPENDUID") || !strings.Contains(st, " 1:3]") {
		t.Fatalf("MULTIAPPEND: %s", st)
	}
	c.ok("SELECT INBOX")
	for uid, want := range [][]byte{big, small, big2} {
		if got := fetchBody(t, c, uint32(uid+1), ""); !bytes.Equal(got, want) {
			t.Fatalf("message %d: %d bytes, want %d", uid+1, len(got), len(want))
		}
	}
	se.settled(t)
}

// TestAppendOverBudget: a literal the in-flight budget cannot take is
// answered NO [UNAVAILABLE] in place of the "+" (nothing is read), or,
// sent with LITERAL+, read and thrown away; nothing is stored and the
// session goes on.
func TestAppendOverBudget(t *testing.T) {
	se := newSpoolEnv(t, 1<<20)
	c := se.login()
	c.send("b1 APPEND INBOX {2000000}")
	if l := c.line(); !strings.HasPrefix(l, "b1 NO [UNAVAILABLE]") {
		t.Fatalf("APPEND over the budget: %q, want NO [UNAVAILABLE] before any +", l)
	}
	data := bytes.Repeat([]byte("y"), 2000000)
	c.send(fmt.Sprintf("b2 APPEND INBOX {%d+}\r\n%s", len(data), data))
	if _, st := c.until("b2"); !strings.HasPrefix(st, "NO [UNAVAILABLE]") {
		t.Fatalf("LITERAL+ over the budget: %s", st)
	}
	has(t, c.ok("STATUS INBOX (MESSAGES)"), "(MESSAGES 0)")
	// Within the budget it works.
	if st := appendRaw(t, c, "INBOX", "", bigMessage(rand.New(rand.NewPCG(1, 1)), 900<<10)); !strings.HasPrefix(st, "OK") {
		t.Fatal(st)
	}
	se.settled(t)
}

// TestAppendCutMidLiteral: a connection cut in the middle of a large
// literal stores nothing, and its spool (file and budget) is freed.
func TestAppendCutMidLiteral(t *testing.T) {
	se := newSpoolEnv(t, 1<<30)
	c := se.login()
	const n = 8 << 20
	c.send(fmt.Sprintf("c1 APPEND INBOX {%d}", n))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatal(l)
	}
	half := bigMessage(rand.New(rand.NewPCG(2, 2)), n)[:n/2]
	if _, err := c.c.Write(half); err != nil {
		t.Fatal(err)
	}
	// The spool took the whole size and has a file open.
	deadline := time.Now().Add(time.Minute)
	for se.budget.Used() != n || se.spoolFiles(t) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("while the literal arrives: budget %d, %d spool files; want %d and 1", se.budget.Used(), se.spoolFiles(t), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.c.Close()
	se.settled(t)
	c2 := se.login()
	has(t, c2.ok("STATUS INBOX (MESSAGES)"), "(MESSAGES 0)")
}

// TestAppendConcurrentSpooled: sessions appending large messages at once
// store each exactly, and leave the budget and spool empty.
func TestAppendConcurrentSpooled(t *testing.T) {
	se := newSpoolEnv(t, 1<<30)
	const sessions, each = 6, 2
	want := make([][][]byte, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		c := se.login()
		c.timeout = 3 * time.Minute
		c.ok(fmt.Sprintf("CREATE box%d", i))
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		for range each {
			want[i] = append(want[i], bigMessage(rng, 64<<10+rng.IntN(1<<20)))
		}
		wg.Go(func() {
			for _, m := range want[i] {
				if st := appendRaw(t, c, fmt.Sprintf("box%d", i), "", m); !strings.HasPrefix(st, "OK") {
					t.Errorf("session %d: %s", i, st)
				}
			}
		})
	}
	wg.Wait()
	c := se.login()
	c.timeout = 3 * time.Minute
	for i := range sessions {
		c.ok(fmt.Sprintf("SELECT box%d", i))
		for j, m := range want[i] {
			if got := fetchBody(t, c, uint32(j+1), ""); !bytes.Equal(got, m) {
				t.Fatalf("box%d message %d: %d bytes, want %d", i, j+1, len(got), len(m))
			}
		}
	}
	se.settled(t)
	mb, err := se.st.Mailbox(context.Background(), se.account.ID, "box0")
	if err != nil || mb.Messages != each {
		t.Fatalf("box0: %+v %v", mb, err)
	}
}
