package imapserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver"
	"github.com/xtramail/xtramail/internal/store"
)

// The benchmarks share one big INBOX, built once per process into a
// directory by delivering through the store from many goroutines; each
// benchmark then runs its own server on it. IMAP_BENCH_N sets its size
// (default 100,000). They run only with -bench. IMAP_BENCH_DIR names a
// directory to build it in and keep, so that later runs reuse it (built
// again when its size differs).
var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchN    int
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" && os.Getenv("IMAP_BENCH_DIR") == "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchMailbox returns a server whose INBOX holds n messages; 1 in 1,000
// contains the word "zebracorn" in its body and another 1 in 1,000 the word
// "quarterly" in its subject, another 1 in 1,000 has X-Bench-Tag "needle";
// the senders are s0@example.net to s96@example.net in turn, and To, Cc and
// Bcc r0..r88@example.org, c0..c82@example.net and b0..b78@example.net.
func benchMailbox(b *testing.B) *env {
	benchOnce.Do(func() {
		n := 100_000
		if s := os.Getenv("IMAP_BENCH_N"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		dir := os.Getenv("IMAP_BENCH_DIR")
		// The marker names the generation of messages too: a directory
		// built with older messages is built again.
		marker := filepath.Join(dir, fmt.Sprintf("built-v2-%d", n))
		if dir != "" {
			if _, err := os.Stat(marker); err == nil {
				benchDir, benchN = dir, n
				return
			}
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				benchErr = err
				return
			}
		} else {
			var err error
			if dir, err = os.MkdirTemp("", "imapserver-bench"); err != nil {
				benchErr = err
				return
			}
		}
		benchDir = dir
		e := newEnvIn(b, dir)
		start := time.Now()
		words := make([]string, 3000)
		for i := range words {
			words[i] = fmt.Sprintf("w%xq%d", i*7919%4093, i%17)
		}
		var wg sync.WaitGroup
		next := make(chan int)
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(1, uint64(g)))
				for i := range next {
					var body strings.Builder
					for j := range 60 {
						body.WriteString(words[r.IntN(len(words))])
						if j%12 == 11 {
							body.WriteString("\r\n")
						} else {
							body.WriteByte(' ')
						}
					}
					if i%1000 == 0 {
						body.WriteString("zebracorn\r\n")
					}
					subject := fmt.Sprintf("message %d", i)
					if i%1000 == 500 {
						subject = fmt.Sprintf("Quarterly report %d", i)
					}
					tag := fmt.Sprintf("hay%d", i%50)
					if i%1000 == 250 {
						tag = "needle"
					}
					raw := fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: Rcpt %d <r%d@example.org>\r\n"+
						"Cc: c%d@example.net\r\nBcc: b%d@example.net\r\nX-Bench-Tag: %s\r\nSubject: %s\r\n"+
						"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@bench>\r\n\r\n%s",
						i%97, i%97, i%89, i%89, i%83, i%79, tag, subject, i, body.String())
					d := store.NewDelivery([]byte(raw), time.Now())
					var f store.Flags
					if i%3 == 0 {
						f = store.FlagSeen
					}
					d.Copies = []store.Copy{{AccountID: e.account.ID, Mailbox: "INBOX", Flags: f}}
					if _, err := e.st.Deliver(context.Background(), d); err != nil {
						benchErr = err
					}
				}
			}()
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		benchN = n
		b.Logf("built an INBOX of %d messages in %v", n, time.Since(start).Round(time.Millisecond))
		e.stop()
		e.st.Close()
		if os.Getenv("IMAP_BENCH_DIR") != "" && benchErr == nil {
			benchErr = os.WriteFile(marker, nil, 0o644)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	st := openStore(b, benchDir)
	b.Cleanup(func() { st.Close() })
	acct, err := st.Account(context.Background(), testUser)
	if err != nil {
		b.Fatal(err)
	}
	e := &env{t: b, dir: benchDir, st: st, account: acct}
	e.start(imapserver.Config{})
	return e
}

// benchConn is a lean client: it only looks for the tagged line.
type benchConn struct {
	c net.Conn
	r *bufio.Reader
	n int
}

func (e *env) benchLogin(b *testing.B) *benchConn {
	c, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.roots, ServerName: "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
	bc.r.ReadSlice('\n')
	bc.run(b, `LOGIN `+testUser+` "`+testPassword+`"`)
	return bc
}

// run sends a command and reads to its tagged OK, returning the number of
// untagged lines.
func (bc *benchConn) run(b *testing.B, cmd string) int {
	bc.n++
	tag := []byte(fmt.Sprintf("b%d ", bc.n))
	io.WriteString(bc.c, string(tag)+cmd+"\r\n")
	lines := 0
	for {
		l, err := bc.r.ReadSlice('\n')
		if err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if bytes.HasPrefix(l, tag) {
			if !bytes.HasPrefix(l[len(tag):], []byte("OK")) {
				b.Fatalf("%s: %s", cmd, l)
			}
			return lines
		}
		lines++
	}
}

func benchCommand(b *testing.B, cmd string, minLines int) {
	e := benchMailbox(b)
	c := e.benchLogin(b)
	if !strings.HasPrefix(cmd, "SELECT") {
		c.run(b, "SELECT INBOX")
	}
	// A search first waits for the store's word list, which it loads
	// in the background after opening (a second or more of CPU that
	// would otherwise be counted in the command's cpu-ms/op).
	c.run(b, `UID SEARCH TEXT "zebracorn"`)
	// Once before timing: caches warm up.
	t0 := time.Now()
	c.run(b, cmd)
	b.Logf("first run: %v", time.Since(t0).Round(10*time.Microsecond))
	b.ResetTimer()
	start := time.Now()
	cpu := cpuTime()
	for b.Loop() {
		if n := c.run(b, cmd); n < minLines {
			b.Fatalf("%s: %d lines", cmd, n)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

func BenchmarkSelect(b *testing.B)     { benchCommand(b, "SELECT INBOX", 3) }
func BenchmarkFetchFlags(b *testing.B) { benchCommand(b, "UID FETCH 1:* (FLAGS)", 1000) }
func BenchmarkSearchText(b *testing.B) { benchCommand(b, `UID SEARCH TEXT "zebracorn"`, 1) }

// The header keys, each narrowed by the index (issue 11 part 6): about
// 1 in 1,000 messages has "quarterly" in its subject, 1 in 97 is from
// s42@example.net.
func BenchmarkSearchSubject(b *testing.B) { benchCommand(b, `UID SEARCH SUBJECT "quarterly"`, 1) }
func BenchmarkSearchFrom(b *testing.B)    { benchCommand(b, `UID SEARCH FROM "s42@example.net"`, 1) }
func BenchmarkSearchHeader(b *testing.B) {
	benchCommand(b, `UID SEARCH HEADER Message-ID "<4242@bench>"`, 1)
}

// BenchmarkFetchNewestEnvelopes is what a client does on opening a
// mailbox: the newest 50 messages' envelopes and flags.
func BenchmarkFetchNewestEnvelopes(b *testing.B) {
	benchMailbox(b)
	benchCommand(b, fmt.Sprintf("UID FETCH %d:* (ENVELOPE FLAGS)", benchN-49), 50)
}

// The other FETCH items of the newest 50 messages that read a message's
// body row or bytes (issue 11 part 6): each reads the bodies of the set
// with its rows in one query.
func benchNewest(b *testing.B, items string) {
	benchMailbox(b)
	benchCommand(b, fmt.Sprintf("UID FETCH %d:* %s", benchN-49, items), 50)
}

func BenchmarkFetchNewestBodyStructure(b *testing.B) { benchNewest(b, "(BODYSTRUCTURE)") }
func BenchmarkFetchNewestHeader(b *testing.B)        { benchNewest(b, "(BODY.PEEK[HEADER])") }
func BenchmarkFetchNewestHeaderFields(b *testing.B) {
	benchNewest(b, "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE)])")
}
func BenchmarkFetchNewestSizeDate(b *testing.B) { benchNewest(b, "(RFC822.SIZE INTERNALDATE FLAGS)") }
func BenchmarkFetchNewestBody(b *testing.B)     { benchNewest(b, "(BODY.PEEK[])") }

// SEARCH on the other address keys and HEADER, which take FROM's path
// (issue 11 part 6): 1 in 89 messages is to r42@example.org, 1 in 83 cc
// to c42@example.net, 1 in 79 bcc to b42@example.net, 1 in 1,000 has
// X-Bench-Tag "needle".
func BenchmarkSearchTo(b *testing.B)  { benchCommand(b, `UID SEARCH TO "r42@example.org"`, 1) }
func BenchmarkSearchCc(b *testing.B)  { benchCommand(b, `UID SEARCH CC "c42@example.net"`, 1) }
func BenchmarkSearchBcc(b *testing.B) { benchCommand(b, `UID SEARCH BCC "b42@example.net"`, 1) }
func BenchmarkSearchHeaderRare(b *testing.B) {
	benchCommand(b, `UID SEARCH HEADER X-Bench-Tag "needle"`, 1)
}

// BenchmarkListManyMailboxes: LIST "" "*" and LIST "" "%" of an account
// with 10,000 mailboxes, each with a child (20,000 in all), half of them
// subscribed, and the LSUB and LIST (SUBSCRIBED RECURSIVEMATCH) forms
// that look for subscribed children. Each name's children were found by
// asking every other name, so a LIST of 40,000 mailboxes ran for nearly
// three minutes.
func BenchmarkListManyMailboxes(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const n = 10000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("box%05d/sub", i)
				if _, err := e.st.CreateMailbox(ctx, e.account.ID, name, ""); err != nil {
					b.Error(err)
					return
				}
				if i%2 == 0 {
					if err := e.st.SetSubscription(ctx, e.account.ID, name, true); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	c := e.login()
	c.timeout = 10 * time.Minute
	for _, cmd := range []string{`LIST "" "*"`, `LIST "" "%"`, `LSUB "" "%"`, `LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`} {
		b.Run(cmd, func(b *testing.B) {
			for b.Loop() {
				c.ok(cmd)
			}
		})
	}
}

// BenchmarkKeywordsFull: a mailbox with store.MaxKeywords keywords, all
// set on each of 200 messages: STORE of them again, FETCH of every
// message's flags, and SELECT. Keywords were compared with every other
// in the session and the store, so the cost grew with their square.
func BenchmarkKeywordsFull(b *testing.B) {
	e := newEnv(b)
	for i := range 200 {
		e.deliver("INBOX", fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i), 0)
	}
	var kw []string
	for i := range store.MaxKeywords {
		kw = append(kw, fmt.Sprintf("keyword%d", i))
	}
	c := e.login()
	c.timeout = 10 * time.Minute
	c.ok("SELECT INBOX")
	set := "STORE 1:* +FLAGS.SILENT (" + strings.Join(kw, " ") + ")"
	c.ok(set)
	for _, cmd := range []string{set, "FETCH 1:* FLAGS", "SELECT INBOX"} {
		b.Run(strings.Fields(cmd)[0], func(b *testing.B) {
			for b.Loop() {
				c.ok(cmd)
			}
		})
	}
}
