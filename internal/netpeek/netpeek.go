// Package netpeek tells what a connection's socket holds without reading
// it: whether the peer sent what nothing has read yet, or closed its side.
// Protocol code uses it where a read would block or consume: an SMTP
// server telling a client that hung up from one that paused, a client
// telling a server that sent a reply no command asked for.
package netpeek

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// State is what a socket holds at the moment it is looked at.
type State int

const (
	// Unknown: not a socket, or the look failed.
	Unknown State = iota
	// Empty: nothing to read yet; the peer may still send.
	Empty
	// Data: octets nothing has read yet.
	Data
	// Closed: the peer's end of the stream, and nothing before it.
	Closed
)

// Socket returns the connection under c: c itself, or the one it wraps
// (a tls.Conn's NetConn), down to the last.
func Socket(c net.Conn) net.Conn {
	for {
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = w.NetConn()
	}
}

// Peek returns what the socket under c (Socket) holds, without waiting
// and without taking anything from it. Above a TLS connection what it
// sees is records, not what TLS has decrypted or buffered already.
func Peek(c net.Conn) State {
	sc, ok := Socket(c).(syscall.Conn)
	if !ok {
		return Unknown
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return Unknown
	}
	st := Unknown
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case n > 0:
			st = Data
		case n == 0 && err == nil:
			st = Closed
		case err == unix.EAGAIN:
			st = Empty
		}
		return true // never wait
	})
	return st
}
