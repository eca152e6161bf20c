package netpeek

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// until peeks until it sees want or a second has passed (the peer's
// octets or end cross loopback asynchronously).
func until(c net.Conn, want State) State {
	deadline := time.Now().Add(time.Second)
	for {
		st := Peek(c)
		if st == want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPeek: a socket is Empty until the peer sends, Data while what it
// sent is unread (peeking takes nothing), Empty once read, and Closed
// once the peer closed; through a wrapping connection (NetConn) too.
func TestPeek(t *testing.T) {
	a, b := pair(t)
	if st := Peek(a); st != Empty {
		t.Fatalf("before anything was sent: %v, want Empty", st)
	}
	b.Write([]byte("250 ok\r\n"))
	if st := until(a, Data); st != Data {
		t.Fatalf("with octets unread: %v, want Data", st)
	}
	if st := Peek(tls.Client(a, &tls.Config{})); st != Data {
		t.Fatalf("under a TLS connection: %v, want Data", st)
	}
	buf := make([]byte, 64)
	if n, _ := a.Read(buf); string(buf[:n]) != "250 ok\r\n" {
		t.Fatalf("read %q after the peeks: they took something", buf[:n])
	}
	if st := Peek(a); st != Empty {
		t.Fatalf("after the read: %v, want Empty", st)
	}
	b.Close()
	if st := until(a, Closed); st != Closed {
		t.Fatalf("after the peer closed: %v, want Closed", st)
	}
	p, _ := net.Pipe()
	defer p.Close()
	if st := Peek(p); st != Unknown {
		t.Fatalf("not a socket: %v, want Unknown", st)
	}
}
