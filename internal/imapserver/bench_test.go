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
// "quarterly" in its subject; the senders are s0@example.net to
// s96@example.net in turn.
func benchMailbox(b *testing.B) *env {
	benchOnce.Do(func() {
		n := 100_000
		if s := os.Getenv("IMAP_BENCH_N"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		dir := os.Getenv("IMAP_BENCH_DIR")
		marker := filepath.Join(dir, fmt.Sprintf("built-%d", n))
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
					raw := fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: alice@example.org\r\nSubject: %s\r\n"+
						"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@bench>\r\n\r\n%s", i%97, i%97, subject, i, body.String())
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
	// Once before timing: the first search of a store loads its word
	// list (a one-time cost, logged apart), and caches warm up.
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
