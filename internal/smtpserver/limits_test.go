package smtpserver

import (
	"bufio"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
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
