package smtpserver

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

// TestClientKeyGroupsIPv6By64: connection limits count an IPv6 client by
// its /64 (one host commonly holds a whole /64), an IPv4 one by its
// address, and an IPv4-mapped IPv6 address as the IPv4 one.
func TestClientKeyGroupsIPv6By64(t *testing.T) {
	key := func(s string) string {
		return ClientKey(&net.TCPAddr{IP: net.ParseIP(s), Port: 25}).String()
	}
	for _, c := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8::ffff:1"},
		{"2001:db8:0:7::1", "2001:db8:0:7:abcd::9"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if key(c.a) != key(c.b) {
			t.Errorf("%s and %s counted apart (%s, %s)", c.a, c.b, key(c.a), key(c.b))
		}
	}
	for _, c := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8:0:1::1"},
		{"192.0.2.7", "192.0.2.8"},
	} {
		if key(c.a) == key(c.b) {
			t.Errorf("%s and %s counted together (%s)", c.a, c.b, key(c.a))
		}
	}
	if got := RemoteIP(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7")}); got != "192.0.2.7" {
		t.Errorf("RemoteIP of a mapped address: %s", got)
	}
}

// TestLimitListenerPerIPAndTotal: over real TCP, a client over its
// per-IP limit is answered 421 4.7.0 and closed; a slot freed by a
// closed connection is given to the next one; the total bound holds too.
func TestLimitListenerPerIPAndTotal(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  Limits
	}{
		{"per IP", Limits{MaxConnsPerIP: 2}},
		{"total", Limits{MaxConns: 2, MaxConnsPerIP: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := LimitListener(raw, tc.lim, slog.New(slog.DiscardHandler))
			defer ln.Close()
			// The server side greets each admitted connection.
			accepted := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("220 ok\r\n"))
					accepted <- c
				}
			}()
			dial := func() string {
				t.Helper()
				c, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				c.SetReadDeadline(time.Now().Add(time.Minute))
				line, _ := bufio.NewReader(c).ReadString('\n')
				return strings.TrimSpace(line)
			}
			for i := range 2 {
				if got := dial(); got != "220 ok" {
					t.Fatalf("connection %d: %q", i+1, got)
				}
			}
			if got := dial(); !strings.HasPrefix(got, "421 4.7.0") {
				t.Fatalf("third connection: %q, want 421 4.7.0", got)
			}
			(<-accepted).Close() // frees a slot
			deadline := time.Now().Add(time.Minute)
			for {
				got := dial()
				if got == "220 ok" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after a close: %q, want the slot given back", got)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestRefusalsDoNotPileUp: on an implicit-TLS listener a refusal waits
// for the client's handshake (up to refuseTimeout), so clients past the
// limits that never send a byte would each hold a goroutine that long.
// At most maxRefusing are answered at once; the rest are closed at
// once, and a client that does its handshake reads "421 4.7.0".
func TestRefusalsDoNotPileUp(t *testing.T) {
	serverTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	raw := holdingListener(t, Limits{MaxConns: 1, TLS: serverTLS, Refused: func(net.Addr, string) { refused.Add(1) }},
		slog.New(slog.DiscardHandler))
	first, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	base := runtime.NumGoroutine()
	const silent = maxRefusing + 500
	var conns []net.Conn
	for range silent {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Every silent connection is accepted and refused; those past the
	// bound are closed at once.
	deadline := time.Now().Add(time.Minute)
	for refused.Load() < silent {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections refused", refused.Load(), silent)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine() - base; n > maxRefusing+10 {
		t.Errorf("%d silent connections past the limit hold %d goroutines, want at most %d", silent, n, maxRefusing)
	}
	// The refusal a real client reads, once the silent ones are gone.
	for _, c := range conns {
		c.Close()
	}
	deadline = time.Now().Add(time.Minute)
	for {
		c, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err == nil {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "421 4.7.0 ") {
				break
			}
			t.Fatalf("over the limit after the handshake: %q", line)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refusal read inside TLS: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRefusalsLoggedSparingly: a flood past the limits is logged a line
// a second, each saying how many connections were refused unlogged since
// the one before, not a line a connection (a flood of connections became
// a flood of log lines, on the disk the mail is kept on).
func TestRefusalsLoggedSparingly(t *testing.T) {
	var logBuf lockedBuf
	raw := holdingListener(t, Limits{MaxConns: 1}, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	dial := func() string {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	first, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	const flood = 300
	start := time.Now()
	for range flood {
		if got := dial(); !strings.HasPrefix(got, "421 4.7.0 ") {
			t.Fatalf("over the limit: %q", got)
		}
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	dial() // logged, with the count of those before it left unlogged
	var lines, counted int
	for _, l := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var rec struct {
			Msg      string
			Unlogged int `json:"refused_unlogged"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Msg != "connection refused" {
			continue
		}
		lines++
		counted += 1 + rec.Unlogged
	}
	if max := 2 + int(took/time.Second); lines > max || counted != flood+1 {
		t.Errorf("%d refusals over %s logged in %d lines accounting for %d; want at most %d lines accounting for all",
			flood+1, took.Round(time.Millisecond), lines, counted, max)
	}
}

// lockedBuf is a log destination for handlers written from several
// goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// holdingListener serves a LimitListener with lim on a loopback port and
// holds every connection it accepts open until the test ends; it returns
// the port's listener, whose address clients dial.
func holdingListener(t *testing.T, lim Limits, log *slog.Logger) net.Listener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(raw, lim, log)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return raw
}
