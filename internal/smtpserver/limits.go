package smtpserver

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits bounds the connections of one SMTP listener.
type Limits struct {
	MaxConns      int // in total
	MaxConnsPerIP int // from one client address; IPv6 clients by /64
}

// LimitListener wraps ln so that connections over the limits are answered
// "421 4.7.0" (RFC 5321 3.1: a server may close with 421 at the greeting)
// and closed without reaching the SMTP server. IPv6 clients are counted
// by their /64, as the login throttles do: one host commonly holds a
// whole /64 to rotate through.
func LimitListener(ln net.Listener, lim Limits, log *slog.Logger) net.Listener {
	return &limitListener{Listener: ln, lim: lim, log: log, perIP: map[netip.Prefix]int{}}
}

type limitListener struct {
	net.Listener
	lim Limits
	log *slog.Logger

	mu    sync.Mutex
	total int
	perIP map[netip.Prefix]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := ClientKey(c.RemoteAddr())
		l.mu.Lock()
		full := (l.lim.MaxConns > 0 && l.total >= l.lim.MaxConns) ||
			(l.lim.MaxConnsPerIP > 0 && l.perIP[key] >= l.lim.MaxConnsPerIP)
		if !full {
			l.total++
			l.perIP[key]++
		}
		l.mu.Unlock()
		if full {
			l.log.Info("connection refused", "remote", RemoteIP(c.RemoteAddr()), "reason", "connection limit")
			go func() {
				// In the background: a slow peer must not stall Accept.
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				c.Write([]byte("421 4.7.0 Too many connections, try again later\r\n"))
				c.Close()
			}()
			continue
		}
		return &limitConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *limitListener) release(key netip.Prefix) {
	l.mu.Lock()
	l.total--
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
	l.mu.Unlock()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// NetConn returns the connection under c (as tls.Conn does).
func (c *limitConn) NetConn() net.Conn { return c.Conn }

// ClientKey is the unit connection limits count by: the address of an
// IPv4 client, the /64 of an IPv6 one.
func ClientKey(a net.Addr) netip.Prefix {
	ip := addrOf(a)
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// RemoteIP returns the client's IP address as text, for logs and the
// message log.
func RemoteIP(a net.Addr) string {
	if ip := addrOf(a); ip.IsValid() {
		return ip.String()
	}
	return a.String()
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}
