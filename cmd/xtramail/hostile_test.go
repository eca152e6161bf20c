//go:build stress

// The stress runs of the real serve process (go test -tags stress
// ./cmd/xtramail): hundreds of hostile messages, connection floods and
// large messages at once, with the process's memory read from /proc. They
// take minutes, so CI does not build them.

package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procMem reads a process's resident memory now, at its peak since the
// last resetPeak, and the anonymous part of it now (the rest is mapped
// files, such as spool files being parsed, which the kernel reclaims), in
// MiB (Linux /proc).
func procMem(t *testing.T, pid int) (rss, peak, anon int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Error(err)
		return 0, 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			rss = kb >> 10
		case "VmHWM:":
			peak = kb >> 10
		case "RssAnon:":
			anon = kb >> 10
		}
	}
	return rss, peak, anon
}

// resetPeak starts a new peak (clear_refs 5, Linux 4.0).
func resetPeak(pid int) {
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// hostileServer starts serve with submission on both ports (and more
// keys of the [capture] section), for a stress run, and returns
// their addresses and a TLS config trusting the server's certificate.
func hostileServer(t *testing.T, captureKeys string) (srv *server, sub, subs string, tlsCfg *tls.Config) {
	t.Helper()
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	cliProc(t, data, hostilePw+"\n", "user", "add", "alice@example.test", "--password-stdin")
	cliProc(t, data, hostilePw+"\n", "user", "add", "bob@example.test", "--password-stdin")
	sub, subs = freePort(t), freePort(t)
	srv = startServerConfig(t, data, captureKeys+fmt.Sprintf("[submission]\nlisten = %q\nlisten_tls = %q\n", sub, subs))
	tlsCfg = clientTLS(t, data)
	rss, _, _ := procMem(t, srv.cmd.Process.Pid)
	t.Logf("serve at rest: RSS %d MiB", rss)
	return srv, sub, subs, tlsCfg
}

const hostilePw = "Hostile-load-pass-2026"

// rawSMTP is a conversation by hand, for what no client library sends.
type rawSMTP struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (c *rawSMTP) reply() (string, error) {
	var all string
	for {
		c.conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
		line, err := c.r.ReadString('\n')
		all += line
		if err != nil {
			return all, err
		}
		if len(line) < 4 || line[3] != '-' {
			return all, nil
		}
	}
}

func (c *rawSMTP) cmd(line, want string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(c.conn, "%s\r\n", line)
	got, err := c.reply()
	if err != nil || !strings.HasPrefix(got, want) {
		c.t.Fatalf("%s: %q %v, want %s", line, got, err, want)
	}
}

// hostileSession opens a session ready for MAIL: on submission signed in
// as alice (STARTTLS on 587, TLS on 465), on capture plain.
func hostileSession(t *testing.T, port, addr string, tlsCfg *tls.Config) *rawSMTP {
	t.Helper()
	var conn net.Conn
	var err error
	if port == "465" {
		conn, err = tls.Dial("tcp", addr, tlsCfg)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &rawSMTP{t: t, conn: conn, r: bufio.NewReader(conn)}
	if _, err := c.reply(); err != nil {
		t.Fatal(err)
	}
	c.cmd("EHLO client.test", "250")
	if port == "587" {
		c.cmd("STARTTLS", "220")
		tc := tls.Client(conn, tlsCfg)
		c.conn, c.r = tc, bufio.NewReader(tc)
		c.cmd("EHLO client.test", "250")
	}
	if port != "capture" {
		c.cmd("AUTH PLAIN "+base64Plain("alice@example.test", hostilePw), "235")
	}
	return c
}

// startData begins a transaction to bob, from alice on submission and
// from outside on capture, up to DATA's 354.
func (c *rawSMTP) startData(port string) {
	c.t.Helper()
	from := "alice@example.test"
	if port == "capture" {
		from = "someone@far.test"
	}
	c.cmd("MAIL FROM:<"+from+">", "250")
	c.cmd("RCPT TO:<bob@example.test>", "250")
	c.cmd("DATA", "354")
}

func base64Plain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

// hostileMessages are messages built to cost memory or time, each
// written to the connection as it is made (the largest are 100 MB).
var hostileMessages = []struct {
	name  string
	write func(w io.Writer) // the DATA body, dot-stuffed, without the final dot
}{
	{"header of 10 MB with no line break", oneLine("Message-ID: <h10@x>\r\nSubject: ", 10, "\r\n\r\nbody\r\n")},
	{"100,000 header fields", func(w io.Writer) {
		bw := bufio.NewWriter(w)
		bw.WriteString("From: <alice@example.test>\r\nTo: <bob@example.test>\r\nMessage-ID: <f100k@x>\r\nSubject: fields\r\n")
		for i := range 100000 {
			fmt.Fprintf(bw, "X-Field-%d: value %d\r\n", i, i)
		}
		bw.WriteString("\r\nbody\r\n")
		bw.Flush()
	}},
	{"10,000 MIME parts", func(w io.Writer) {
		bw := bufio.NewWriter(w)
		bw.WriteString("From: <alice@example.test>\r\nTo: <bob@example.test>\r\nMessage-ID: <p10k@x>\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
		for i := range 10000 {
			fmt.Fprintf(bw, "--b\r\nContent-Type: text/plain; name=\"p%d.txt\"\r\nContent-Disposition: attachment; filename=\"p%d.txt\"\r\n\r\npart %d\r\n", i, i, i)
		}
		bw.WriteString("--b--\r\n")
		bw.Flush()
	}},
	{"body line of 45 MB (under the size limit)", oneLine("Message-ID: <l45@x>\r\nSubject: line\r\n\r\n", 45, "\r\n")},
	{"body line of 100 MB", oneLine("Message-ID: <l100@x>\r\nSubject: line\r\n\r\n", 100, "\r\n")},
}

// oneLine writes a message from alice to bob: its From and To fields,
// before, a line of mib MiB with no break, then after.
func oneLine(before string, mib int, after string) func(w io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, "From: <alice@example.test>\r\nTo: <bob@example.test>\r\n"+before)
		chunk := strings.Repeat("l", 1<<20)
		for range mib {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, after)
	}
}

// TestHostileMessagesBoundedRSS (it sends hundreds of
// megabytes): each hostile message, on 587, 465 and capture, gets a
// standard answer, the session or the server stays up, and the peak
// resident memory of the serve process stays bounded. The figures are
// logged.
func TestHostileMessagesBoundedRSS(t *testing.T) {
	srv, sub, subs, tlsCfg := hostileServer(t, "")
	pid := srv.cmd.Process.Pid
	for _, m := range hostileMessages {
		for _, port := range []struct{ name, addr string }{{"587", sub}, {"465", subs}, {"capture", srv.addr}} {
			c := hostileSession(t, port.name, port.addr, tlsCfg)
			resetPeak(pid)
			start := time.Now()
			c.startData(port.name)
			var werr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				// The server may answer before the end (552) and hang up.
				c.conn.SetWriteDeadline(time.Now().Add(5 * time.Minute))
				bw := &errWriter{w: c.conn}
				m.write(bw)
				io.WriteString(bw, ".\r\n")
				werr = bw.err
			}()
			got, rerr := c.reply()
			<-done
			_, peak, _ := procMem(t, pid)
			t.Logf("%-42s %-7s -> %q (read err %v, write err %v) in %s; peak RSS %d MiB",
				m.name, port.name, strings.TrimSpace(got), rerr, werr, time.Since(start).Round(time.Millisecond), peak)
			code := strings.SplitN(got, " ", 3)
			if len(code) < 2 || len(code[0]) != 3 || strings.Count(code[1], ".") != 2 {
				t.Errorf("%s on %s: %q, want a standard reply with an enhanced code", m.name, port.name, got)
			}
			if peak > 400 {
				t.Errorf("%s on %s: peak RSS %d MiB", m.name, port.name, peak)
			}
			c.conn.Close()
		}
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// TestConnectionFloodsBounded (stress): 1,000 idle connections
// on each of 587, 465 and capture, from one client address and from
// many: past the limits each is answered "421 4.7.0" at once, the
// listener keeps serving other clients, and the RSS is logged.
func TestConnectionFloodsBounded(t *testing.T) {
	srv, sub, subs, tlsCfg := hostileServer(t, "")
	pid := srv.cmd.Process.Pid
	ports := []struct{ name, addr string }{{"587", sub}, {"465", subs}, {"capture", srv.addr}}
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	// first reads what a connection is told first: a greeting (220) or
	// a refusal, inside TLS on 465; "" for nothing (closed or silent).
	first := func(port string, c net.Conn) (net.Conn, string) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if port == "465" {
			tc := tls.Client(c, tlsCfg)
			if err := tc.Handshake(); err != nil {
				return c, ""
			}
			c = tc
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.SetDeadline(time.Time{})
		return c, strings.TrimSpace(line)
	}
	for _, spread := range []int{1, 20} {
		resetPeak(pid)
		for _, p := range ports {
			counts := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			conns := make([]net.Conn, 1000)
			for i := range 1000 {
				wg.Go(func() {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(spread), byte(1+i%spread))}}
					c, err := d.Dial("tcp", p.addr)
					if err != nil {
						mu.Lock()
						counts["dial: "+err.Error()]++
						mu.Unlock()
						return
					}
					c, got := first(p.name, c)
					conns[i] = c
					if len(got) > 9 {
						got = got[:9]
					}
					mu.Lock()
					counts[got]++
					mu.Unlock()
				})
			}
			wg.Wait()
			for _, c := range conns {
				if c != nil {
					open = append(open, c)
				}
			}
			t.Logf("%d client address(es), %s: 1,000 connections answered %v", spread, p.name, counts)
			// Another client is still served when the flood came from one
			// address, and refused clearly when the total is reached.
			c := hostileSessionOrRefusal(t, p.name, p.addr, tlsCfg)
			t.Logf("  then a client from 127.0.9.9 on %s: %q", p.name, c)
			switch {
			case spread == 1 && (counts["421 4.7.0"] != 900 || !strings.HasPrefix(c, "220")):
				t.Errorf("%s: 1,000 connections from one address: %v, then another address got %q; want 900 × 421 4.7.0, then 220",
					p.name, counts, c)
			case spread > 1 && !strings.HasPrefix(c, "421 4.7.0 "):
				// 1,000 from 20 addresses fill the total.
				t.Errorf("%s: a client past the total: %q, want 421 4.7.0", p.name, c)
			}
		}
		rss, peak, _ := procMem(t, pid)
		t.Logf("%d client address(es): %d connections open; RSS %d MiB, peak %d MiB", spread, len(open), rss, peak)
		for _, c := range open {
			c.Close()
		}
		open = nil
		// The slots come back as the server sees the connections close.
		for _, p := range ports {
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := hostileSessionOrRefusal(t, p.name, p.addr, tlsCfg)
				if strings.HasPrefix(got, "220") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: still %q 30 s after the flood closed", p.name, got)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// hostileSessionOrRefusal dials from 127.0.9.9 and returns the greeting
// (after the handshake on 465).
func hostileSessionOrRefusal(t *testing.T, port, addr string, tlsCfg *tls.Config) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 9, 9)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if port == "465" {
		tc := tls.Client(c, tlsCfg)
		if err := tc.Handshake(); err != nil {
			// A refusal comes in plain text, before any handshake.
			line, _ := br.ReadString('\n')
			return "handshake: " + err.Error() + " " + line
		}
		br = bufio.NewReader(tc)
	}
	line, _ := br.ReadString('\n')
	return strings.TrimSpace(line)
}

// TestConcurrentLargeMessagesRSS (stress): 40 sessions on
// 587, 465 and capture each send a 10 MB message at once, half of them a
// single line (which submission re-encodes before queueing), the others
// 76-character lines. All are answered 250, and the serve process's
// resident memory stays bounded: bodies stream through spool files.
func TestConcurrentLargeMessagesRSS(t *testing.T) {
	srv, sub, subs, tlsCfg := hostileServer(t, "")
	pid := srv.cmd.Process.Pid
	resetPeak(pid)
	var mu sync.Mutex
	stopSampling := make(chan struct{})
	maxAnon := 0
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_, _, anon := procMem(t, pid)
			mu.Lock()
			maxAnon = max(maxAnon, anon)
			mu.Unlock()
		}
	}()
	start := time.Now()
	replies := sendAtOnce(t, 40, 10<<20, srv.addr, sub, subs, tlsCfg)
	close(stopSampling)
	rss, peak, _ := procMem(t, pid)
	t.Logf("40 messages of 10 MB at once on 587, 465 and capture: %v in %s; RSS %d MiB after, peak %d MiB, anonymous at most %d MiB",
		replies, time.Since(start).Round(time.Millisecond), rss, peak, maxAnon)
	if replies["250"] != 40 {
		t.Errorf("replies %v, want 40 × 250", replies)
	}
	if maxAnon > 400 {
		t.Errorf("anonymous memory reached %d MiB", maxAnon)
	}
}

// sendAtOnce sends n messages of size bytes at once, spread over 587, 465
// and capture, half of them a single line, and returns the replies'
// codes counted ("250", "452 4.3.1"; a broken session by its error).
func sendAtOnce(t *testing.T, n, size int, capture, sub, subs string, tlsCfg *tls.Config) map[string]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	replies := map[string]int{}
	for i := range n {
		port, addr := "587", sub
		switch i % 3 {
		case 1:
			port, addr = "465", subs
		case 2:
			port, addr = "capture", capture
		}
		wg.Go(func() {
			c := hostileSession(t, port, addr, tlsCfg)
			defer c.conn.Close()
			c.startData(port)
			bw := bufio.NewWriterSize(c.conn, 64<<10)
			fmt.Fprintf(bw, "From: <alice@example.test>\r\nTo: <bob@example.test>\r\nMessage-ID: <big-%d-%d@x>\r\nSubject: big\r\n\r\n", i, time.Now().UnixNano())
			line := strings.Repeat("z", 76)
			if i%2 == 0 {
				line = strings.Repeat("z", 1<<20)
			}
			for k := 0; k < size; k += len(line) + 2 {
				bw.WriteString(line)
				if i%2 == 1 || k+len(line)+2 >= size {
					bw.WriteString("\r\n")
				}
			}
			bw.WriteString(".\r\n")
			bw.Flush()
			got, err := c.reply()
			key := strings.Join(strings.SplitN(got, " ", 3)[:min(2, len(strings.SplitN(got, " ", 3)))], " ")
			if strings.HasPrefix(got, "250 ") {
				key = "250"
			}
			if err != nil {
				key = fmt.Sprintf("%q: %v", got, err)
			}
			mu.Lock()
			replies[key]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return replies
}

// TestInflightBudgetUnderLoad (stress): with the budget of
// message bytes in flight (capture.max_inflight_bytes, shared by every
// listener) at 48 MiB, 24 messages of 8 MB at once on 587, 465 and
// capture: each is answered 250 or "452 4.3.1" (try later), nothing else,
// and once they are done every port takes an 8 MB message again.
func TestInflightBudgetUnderLoad(t *testing.T) {
	srv, sub, subs, tlsCfg := hostileServer(t, "max_inflight_bytes = 50331648\nmax_message_bytes = 16777216\n")
	start := time.Now()
	replies := sendAtOnce(t, 24, 8<<20, srv.addr, sub, subs, tlsCfg)
	t.Logf("24 messages of 8 MB at once, 48 MiB in flight at most: %v in %s", replies, time.Since(start).Round(time.Millisecond))
	if replies["250"]+replies["452 4.3.1"] != 24 || replies["452 4.3.1"] == 0 {
		t.Errorf("replies %v, want 250 or 452 4.3.1 each, and some 452 4.3.1", replies)
	}
	after := sendAtOnce(t, 3, 8<<20, srv.addr, sub, subs, tlsCfg)
	if after["250"] != 3 {
		t.Errorf("after the load: %v, want 3 × 250", after)
	}
}
