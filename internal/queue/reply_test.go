package queue

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store/storetest"
)

// startScript listens on 127.0.0.1:0 and runs script on each connection
// it accepts, with a reader of what the client sends: a remote server
// that says exactly what a test has it say, the greeting included.
func startScript(t *testing.T, script func(nc net.Conn, br *bufio.Reader)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(time.Minute))
				script(nc, bufio.NewReader(nc))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readUntil reads the client's lines until one starting with prefix;
// false when the client went away first.
func readUntil(br *bufio.Reader, prefix string) bool {
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
}

// ehlo reads the client's lines up to EHLO and answers it with ext.
func ehlo(nc net.Conn, br *bufio.Reader, ext ...string) bool {
	if !readUntil(br, "EHLO") {
		return false
	}
	fmt.Fprintf(nc, "250-raw.test\r\n")
	for _, e := range ext {
		fmt.Fprintf(nc, "250-%s\r\n", e)
	}
	fmt.Fprintf(nc, "250 8BITMIME\r\n")
	return true
}

// answerRCPT is a script (startScript) of a relay, with PIPELINING or
// without, that answers RCPT with what rcpt writes, DATA (which comes
// pipelined with no recipient taken) with 554, and the rest as usual;
// rcpt is given the RCPT line.
// It stops when rcpt writes nothing, leaving the client's next read to
// fail.
func answerRCPT(pipelining bool, rcpt func(w io.Writer, line string)) func(nc net.Conn, br *bufio.Reader) {
	return func(nc net.Conn, br *bufio.Reader) {
		var ext []string
		if pipelining {
			ext = []string{"PIPELINING"}
		}
		io.WriteString(nc, "220 raw.test ESMTP\r\n")
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(l)); {
			case strings.HasPrefix(cmd, "EHLO"):
				fmt.Fprintf(nc, "250-raw.test\r\n")
				for _, e := range ext {
					fmt.Fprintf(nc, "250-%s\r\n", e)
				}
				fmt.Fprintf(nc, "250 8BITMIME\r\n")
			case strings.HasPrefix(cmd, "MAIL"), cmd == "RSET":
				io.WriteString(nc, "250 2.1.0 ok\r\n")
			case strings.HasPrefix(cmd, "RCPT"):
				rcpt(nc, l)
			case cmd == "DATA":
				io.WriteString(nc, "554 5.5.1 no valid recipients\r\n")
			case cmd == "QUIT":
				io.WriteString(nc, "221 2.0.0 bye\r\n")
				return
			default:
				io.WriteString(nc, "500 5.5.2 what\r\n")
			}
		}
	}
}

// flood writes n octets of junk with no line end: a line that never
// ends, unless the client hangs up first.
func flood(w io.Writer, n int) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}

// TestReplyLineBoundedEverywhere (class: every read of a remote reply is
// bounded): a remote that answers with a line that does not end, at
// each point of a session where a reply is read (the greeting and EHLO
// reply read before go-smtp takes the session, the reply to STARTTLS,
// a reply go-smtp's client reads, one the pipelined reader reads), has
// the session given up as a protocol error once the line passes
// maxReplyLine, rather than read on: the greeting took the server from
// 100 MB to 1.4 GB when a remote sent 300 MB of it. The junk is some
// megabytes, then the connection is closed: a reader without the bound
// takes it all and fails on the end of the connection instead.
func TestReplyLineBoundedEverywhere(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	rcpt := func(pipelining bool) func(nc net.Conn, br *bufio.Reader, n int) {
		return func(nc net.Conn, br *bufio.Reader, n int) {
			answerRCPT(pipelining, func(io.Writer, string) { io.WriteString(nc, "250 "); flood(nc, n) })(nc, br)
		}
	}
	for _, tc := range []struct {
		name     string
		tls      string
		junkFrom func(nc net.Conn, br *bufio.Reader, n int)
	}{
		{"greeting", "none", func(nc net.Conn, br *bufio.Reader, n int) {
			io.WriteString(nc, "220 ")
			flood(nc, n)
		}},
		{"EHLO reply", "none", func(nc net.Conn, br *bufio.Reader, n int) {
			io.WriteString(nc, "220 raw.test ESMTP\r\n")
			if readUntil(br, "EHLO") {
				io.WriteString(nc, "250-raw.test\r\n250-")
				flood(nc, n)
			}
		}},
		{"STARTTLS reply", "starttls", func(nc net.Conn, br *bufio.Reader, n int) {
			io.WriteString(nc, "220 raw.test ESMTP\r\n")
			if ehlo(nc, br, "STARTTLS") && readUntil(br, "STARTTLS") {
				io.WriteString(nc, "220 ")
				flood(nc, n)
			}
		}},
		{"RCPT reply, go-smtp", "none", rcpt(false)},
		{"RCPT reply, pipelined", "none", rcpt(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 4<<20 + rnd.IntN(4<<20)
			port := startScript(t, func(nc net.Conn, br *bufio.Reader) { tc.junkFrom(nc, br, n) })
			st, acc := newStore(t)
			w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: port, TLS: tc.tls},
				Now: func() time.Time { return t0 }, Rand: func() float64 { return 0.5 }}, st, nil, nil)
			enqueue(t, st, acc, t0, "m1", "bob@example.net")
			runOnce(t, w)
			q := queued(t, st)
			if len(q) != 1 {
				t.Fatalf("queue %+v", q)
			}
			want := fmt.Sprintf("a reply line over %d octets", maxReplyLine)
			if !strings.Contains(q[0].LastError, want) {
				t.Errorf("junk of %d octets: last error %q, want %q", n, q[0].LastError, want)
			}
			if d := events(t, st, msglog.Deferred); len(d) != 1 || !strings.Contains(d[0].Detail, want) {
				t.Errorf("deferred events %+v", d)
			}
		})
	}
}

// multiline writes a reply of code with n continuation lines, each with
// the enhanced code and lo to hi octets of text (random), then a last
// line "end"; it returns the octets written.
func multiline(w io.Writer, rnd *rand.Rand, code, enhanced string, n, lo, hi int) int {
	bw := bufio.NewWriter(w)
	total := 0
	for range n {
		k, _ := fmt.Fprintf(bw, "%s-%s %s\r\n", code, enhanced, strings.Repeat("M", lo+rnd.IntN(hi-lo+1)))
		total += k
	}
	k, _ := fmt.Fprintf(bw, "%s %s end\r\n", code, enhanced)
	bw.Flush()
	return total + k
}

// TestReplySizeBounded (class: a reply's total size was unbounded, and
// what was kept of it too): RCPT answered with 50 MB of "452-4.2.2 MMM…"
// lines was kept whole as the entry's last error on every retry (the
// database grew to 407 MB) and put whole into the notification. A reply
// past maxReplyLines or maxReplyOctets (a random one, seed logged) fails
// the session as a protocol error, wherever it is read: the greeting,
// the EHLO reply, a RCPT reply read by go-smtp's client or by the
// pipelined reader; one within them has what is kept of it (last error,
// log, the notification's text) clipped to maxReplyText.
func TestReplySizeBounded(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 1))
	var mu sync.Mutex // rnd, for the scripts' goroutines
	// tooLong writes a reply past the bound of lines (and maybe of
	// octets), or of octets alone.
	tooLong := func(w io.Writer, code, enhanced string) {
		mu.Lock()
		defer mu.Unlock()
		if rnd.IntN(2) == 0 {
			multiline(w, rnd, code, enhanced, maxReplyLines+rnd.IntN(5000), 1, 1000)
		} else {
			multiline(w, rnd, code, enhanced, maxReplyOctets/600+rnd.IntN(400), 600, 1000)
		}
	}
	over := fmt.Sprintf("a reply over %d lines or %d octets", maxReplyLines, maxReplyOctets)
	for _, tc := range []struct {
		name   string
		script func(nc net.Conn, br *bufio.Reader)
	}{
		{"greeting", func(nc net.Conn, br *bufio.Reader) { tooLong(nc, "220", "2.0.0") }},
		{"EHLO reply", func(nc net.Conn, br *bufio.Reader) {
			io.WriteString(nc, "220 raw.test ESMTP\r\n")
			if readUntil(br, "EHLO") {
				tooLong(nc, "250", "2.0.0")
			}
		}},
		{"RCPT reply, go-smtp", answerRCPT(false, func(w io.Writer, _ string) { tooLong(w, "452", "4.2.2") })},
		{"RCPT reply, pipelined", answerRCPT(true, func(w io.Writer, _ string) { tooLong(w, "452", "4.2.2") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, acc := newStore(t)
			w := relayWorker(t, st, startScript(t, tc.script), func() time.Time { return t0 })
			enqueue(t, st, acc, t0, "m1", "bob@example.net")
			runOnce(t, w)
			q := queued(t, st)
			if len(q) != 1 {
				t.Fatalf("%d entries queued, want the one deferred", len(q))
			}
			if e := q[0].LastError; !strings.Contains(e, over) {
				t.Fatalf("last error of %d octets %.300q…, want %q", len(e), e, over)
			}
		})
	}

	// Within the bounds: kept clipped. A 452 is a delay, with a notice
	// once DelayNotice has passed; a 550 a failure.
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprint("kept clipped, pipelining ", pipelining), func(t *testing.T) {
			// Lines of 200 to 1000 octets: past maxReplyText, within
			// maxReplyOctets.
			mu.Lock()
			n := maxReplyText/200 + 1 + rnd.IntN(maxReplyOctets/1024-maxReplyText/200)
			mu.Unlock()
			port := startScript(t, answerRCPT(pipelining, func(w io.Writer, _ string) {
				mu.Lock()
				defer mu.Unlock()
				multiline(w, rnd, "452", "4.2.2", n, 200, 1000)
			}))
			st, acc := newStore(t)
			now := t0.Add(5 * time.Hour) // past DelayNotice: a delay notice too
			w := relayWorker(t, st, port, func() time.Time { return now })
			enqueue(t, st, acc, t0, "m1", "bob@example.net")
			runOnce(t, w)
			q := queued(t, st)
			if len(q) != 1 {
				t.Fatalf("queue %+v", q)
			}
			e := q[0].LastError
			if len(e) > maxReplyText || !strings.Contains(e, "452 4.2.2 MMM") || !strings.HasSuffix(e, "…") || !utf8.ValidString(e) {
				t.Errorf("%d continuation lines: last error of %d octets, want at most %d, clipped: %.200q…", n, len(e), maxReplyText, e)
			}
			if d := events(t, st, msglog.Deferred); len(d) != 1 || len(d[0].Detail) > maxReplyText {
				t.Errorf("deferred events %+v", d)
			}
			in := storetest.Inbox(t, st, acc)
			if len(in) != 1 {
				t.Fatalf("%d notices, want the delay notice", len(in))
			}
			if len(in[0]) > 4*maxReplyText+4<<10 {
				t.Errorf("the delay notice has %d octets:\n%.3000s", len(in[0]), in[0])
			}
		})
	}
}

// TestReplyLinesOfOneCode (RFC 5321 4.2.1: every line of a reply has its
// code): a RCPT answered "250-… then 550 …" is a protocol error at once,
// with pipelining and without. textproto took the 550 line for text of
// the 250 reply and read on, taking the reply to DATA too, and the
// session waited for a reply that never came until its command timeout
// (5 minutes), holding the entries batched with it.
func TestReplyLinesOfOneCode(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			port := startScript(t, answerRCPT(pipelining, func(w io.Writer, _ string) {
				io.WriteString(w, "250-2.1.5 a\r\n550 5.1.1 b\r\n")
			}))
			st, acc := newStore(t)
			// A command timeout the test could wait out, to tell a
			// protocol error from a wait.
			w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: port, TLS: "none"},
				CommandTimeout: 20 * time.Second, Now: func() time.Time { return t0 }, Rand: func() float64 { return 0.5 }}, st, nil, nil)
			enqueue(t, st, acc, t0, "m1", "bob@example.net")
			runOnce(t, w)
			q := queued(t, st)
			if len(q) != 1 || !strings.Contains(q[0].LastError, "a reply whose lines have different codes") {
				t.Fatalf("queue %+v, want the entry deferred for a reply of two codes", q)
			}
		})
	}
}
