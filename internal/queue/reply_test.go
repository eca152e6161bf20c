package queue

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
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
	ehlo := func(nc net.Conn, br *bufio.Reader, ext ...string) bool {
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
	// rcpt answers up to RCPT with junk for its reply; with pipelining,
	// the client reads it with the wire's reader.
	rcpt := func(pipelining bool) func(nc net.Conn, br *bufio.Reader, n int) {
		return func(nc net.Conn, br *bufio.Reader, n int) {
			io.WriteString(nc, "220 raw.test ESMTP\r\n")
			var ext []string
			if pipelining {
				ext = []string{"PIPELINING"}
			}
			for range 2 { // the prelude's EHLO, then go-smtp's
				if !ehlo(nc, br, ext...) {
					return
				}
			}
			if !pipelining {
				if !readUntil(br, "MAIL") {
					return
				}
				io.WriteString(nc, "250 2.1.0 ok\r\n")
			}
			if readUntil(br, "RCPT") {
				if pipelining {
					io.WriteString(nc, "250 2.1.0 ok\r\n")
				}
				io.WriteString(nc, "250 ")
				flood(nc, n)
			}
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
