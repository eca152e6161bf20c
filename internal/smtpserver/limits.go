package smtpserver

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bounds the connections of one SMTP listener.
type Limits struct {
	MaxConns      int // in total; 0 for no bound
	MaxConnsPerIP int // from one client address; IPv6 clients by /64; 0 for no bound
	// Allow, when not empty, admits only clients in these networks;
	// the others are answered Deny at once (RFC 5321 3.1: 554 "no SMTP
	// service here"), default "554 5.7.1 Access denied".
	Allow []netip.Prefix
	Deny  string
	// Opened, when set, is given each admitted connection (its log, with
	// a new cid, is ConnLog(c)) with the counts that include it, and returns the connection to serve
	// (which may wrap c: closing it must close c, which frees the slot).
	Opened func(c net.Conn, total, fromIP int) net.Conn
	// Refused, when set, is told of each connection turned away, after
	// the listener has logged it.
	Refused func(remote net.Addr, reason string)
	// TLS is set on a listener of implicit TLS (port 465, RFC 8314):
	// a refusal is then answered inside TLS, after the handshake, where
	// the client reads it. Written in plain text it would reach the
	// client as a broken handshake ("first record does not look like a
	// TLS handshake"), not as a 421 it can act on.
	TLS *tls.Config
}

func (l Limits) allowed(ip netip.Addr) bool {
	if len(l.Allow) == 0 {
		return true
	}
	for _, p := range l.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// LimitListener wraps ln so that connections from outside lim.Allow are
// answered lim.Deny, those over the limits "421 4.7.0" (RFC 5321 3.1: a
// server may close with 421 at the greeting), and closed without reaching
// the SMTP server. Every SMTP listener (capture, submission) uses it. IPv6 clients are counted
// by their /64, as the login throttles do: one host commonly holds a
// whole /64 to rotate through.
func LimitListener(ln net.Listener, lim Limits, log *slog.Logger) net.Listener {
	return &limitListener{Listener: ln, lim: lim, log: log, perIP: map[netip.Prefix]int{}, refuser: NewRefuser(log)}
}

type limitListener struct {
	net.Listener
	lim     Limits
	log     *slog.Logger
	refuser *Refuser

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
		if !l.lim.allowed(addrOf(c.RemoteAddr())) {
			deny := l.lim.Deny
			if deny == "" {
				deny = "554 5.7.1 Access denied"
			}
			l.refuse(c, deny, "not in the allow-list", 0, 0)
			continue
		}
		key := ClientKey(c.RemoteAddr())
		l.mu.Lock()
		full := (l.lim.MaxConns > 0 && l.total >= l.lim.MaxConns) ||
			(l.lim.MaxConnsPerIP > 0 && l.perIP[key] >= l.lim.MaxConnsPerIP)
		if !full {
			l.total++
			l.perIP[key]++
		}
		total, fromIP := l.total, l.perIP[key]
		l.mu.Unlock()
		if full {
			l.refuse(c, "421 4.7.0 Too many connections, try again later", "connection limit", total, fromIP)
			continue
		}
		cid := newCID()
		var out net.Conn = &limitConn{Conn: c, release: func() { l.release(key) },
			log: l.log.With("cid", cid, "remote", RemoteIP(c.RemoteAddr()))}
		if l.lim.Opened != nil {
			out = l.lim.Opened(out, total, fromIP)
		}
		return out, nil
	}
}

// refuse logs a connection turned away and answers it (Refuser).
func (l *limitListener) refuse(c net.Conn, reply, reason string, total, fromIP int) {
	l.refuser.Refuse(c, l.lim.TLS, reply, reason, "conns", total, "conns_from_ip", fromIP)
	if l.lim.Refused != nil {
		l.lim.Refused(c.RemoteAddr(), reason)
	}
}

// Refuser answers the connections that a listener turns away (over its
// connection limits, outside its allow-list) and closes them. Every
// listener that refuses connections uses one, so that all do alike: the
// SMTP listeners through LimitListener, the IMAP server directly.
//
// The answer is written in the background, so that a slow peer cannot
// stall Accept. On a listener of implicit TLS (SMTP 465, IMAP 993) it is
// written inside TLS, after the handshake, where the client reads it:
// written in plain text it would reach the client as a broken handshake
// ("first record does not look like a TLS handshake"), and a close
// without a word as a TLS EOF, neither a reply it can act on. Each
// refusal is bounded by refuseTimeout and at most maxRefusing are
// answered at once (past it a connection is closed without a word), so
// that refusals do not become a sink of their own. A line is logged at
// most once a second, with the count of those refused since the last
// line: a flood past the limits must not become a flood of log lines.
//
// A Refuser is safe for concurrent use.
type Refuser struct {
	log *slog.Logger

	mu         sync.Mutex
	lastLogged time.Time
	unlogged   int

	refusing atomic.Int32 // refusals being answered (maxRefusing)
}

// NewRefuser returns a Refuser that logs to log.
func NewRefuser(log *slog.Logger) *Refuser { return &Refuser{log: log} }

// maxRefusing bounds the refusals being answered at once. A plain-text
// refusal is over in an instant, but on implicit TLS each waits up to
// refuseTimeout for the client's handshake, and clients that never send
// a byte must not pile up goroutines. Past it, a connection is closed
// without a word: the limits already turn away a thousand clients at
// that moment, and each can try again later.
const maxRefusing = 1024

// refuseTimeout bounds the answer to one refused connection, its TLS
// handshake included.
const refuseTimeout = 10 * time.Second

// Refuse logs c's refusal for reason (with attrs, slog's key-value
// pairs), then answers it reply (a line without its CRLF), inside TLS
// with tlsConfig when not nil, and closes it.
func (r *Refuser) Refuse(c net.Conn, tlsConfig *tls.Config, reply, reason string, attrs ...any) {
	if unlogged, ok := r.logRefusal(); ok {
		r.log.Info("connection refused", append([]any{"remote", RemoteIP(c.RemoteAddr()), "reason", reason},
			append(attrs, "refused_unlogged", unlogged)...)...)
	}
	if r.refusing.Add(1) > maxRefusing {
		r.refusing.Add(-1)
		c.Close()
		return
	}
	go func() {
		defer r.refusing.Add(-1)
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseTimeout))
		w := c
		if tlsConfig != nil {
			tc := tls.Server(c, tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			w = tc
		}
		w.Write([]byte(reply + "\r\n"))
	}()
}

// logRefusal reports whether a refusal gets its log line now, and how
// many were refused, unlogged, since the last line.
func (r *Refuser) logRefusal() (unlogged int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.lastLogged) >= time.Second {
		r.lastLogged = now
		unlogged, r.unlogged = r.unlogged, 0
		return unlogged, true
	}
	r.unlogged++
	return 0, false
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
	log     *slog.Logger // with the connection's cid (ConnLog)
}

// newCID returns a connection id: every log line of a connection names it
// (issue 12 part 7), so that one session can be followed among many.
func newCID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
