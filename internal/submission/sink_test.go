package submission_test

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/config"
)

// sink is a relay written by hand on raw lines, so that a test chooses
// the extensions it announces (go-smtp's server always announces
// 8BITMIME). It keeps every transaction it accepted.
type sink struct {
	ln   net.Listener
	exts []string // EHLO keywords after the greeting line
	// keepIDs keeps a transaction's Message-ID instead of its data (a
	// load test's relay would hold gigabytes).
	keepIDs bool

	mu  sync.Mutex
	got []sunk
}

// sunk is one accepted transaction.
type sunk struct {
	mail  string // the MAIL FROM line's argument, parameters included
	rcpts []string
	// rcptArgs are the RCPT TO lines' arguments, parameters included.
	rcptArgs []string
	data     []byte // dot-stuffing undone, final CRLF.CRLF removed
	mid      string // the Message-ID, with keepIDs
}

func startSink(t *testing.T, exts ...string) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln, exts: exts}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// relayTo points the service's queue at the sink (relay mode, no TLS).
func (s *sink) relayTo(c *config.Config) {
	c.Queue.Mode, c.Queue.RelayHost, c.Queue.RelayTLS = "relay", "127.0.0.1", "none"
	c.Queue.RelayPort = s.ln.Addr().(*net.TCPAddr).Port
}

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	say("220 sink.test ESMTP")
	var cur sunk
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			out := []string{"250-sink.test"}
			for _, e := range s.exts {
				out = append(out, "250-"+e)
			}
			out = append(out, "250 HELP")
			say(out...)
		case "MAIL":
			cur = sunk{mail: strings.TrimSpace(line[len("MAIL FROM:"):])}
			say("250 2.1.0 ok")
		case "RCPT":
			to := strings.TrimSpace(line[len("RCPT TO:"):])
			cur.rcpts = append(cur.rcpts, strings.Trim(strings.Fields(to)[0], "<>"))
			cur.rcptArgs = append(cur.rcptArgs, to)
			say("250 2.1.5 ok")
		case "DATA":
			say("354 go ahead")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.data = data.Bytes()
			if s.keepIDs {
				cur.mid = messageID(cur.data)
				cur.data = nil
			}
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.mu.Unlock()
			cur = sunk{}
			say("250 2.0.0 taken")
		case "RSET", "NOOP":
			cur = sunk{}
			say("250 2.0.0 ok")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 not here")
		}
	}
}

// transactions returns what the sink accepted so far.
func (s *sink) transactions() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.got...)
}

// deliveries counts what the sink took by "Message-ID recipient" (with
// keepIDs).
func (s *sink) deliveries() map[string]int {
	n := map[string]int{}
	for _, tr := range s.transactions() {
		for _, r := range tr.rcpts {
			n[tr.mid+" "+strings.ToLower(r)]++
		}
	}
	return n
}

// messageID is the Message-ID of a message, without angle brackets.
func messageID(data []byte) string {
	hdr, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(hdr), "\r\n") {
		if v, ok := strings.CutPrefix(l, "Message-ID:"); ok {
			return strings.Trim(strings.TrimSpace(v), "<>")
		}
	}
	return ""
}

// count returns how many times the sink took a message for rcpt.
func (s *sink) count(rcpt string) int {
	n := 0
	for _, tr := range s.transactions() {
		for _, r := range tr.rcpts {
			if strings.EqualFold(r, rcpt) {
				n++
			}
		}
	}
	return n
}

// waitFor waits until cond holds, failing the test after a minute (a
// generous bound for a loaded machine; the queue delivers at once).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
