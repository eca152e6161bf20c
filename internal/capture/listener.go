package capture

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// limitListener refuses connections from outside the allow-list and over
// the connection limits with an SMTP greeting that says why (RFC 5321
// 3.1: 554 for "no service here", 421 for "try again later").
type limitListener struct {
	net.Listener
	cfg     Config
	metrics *Metrics
	log     *slog.Logger

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

func newLimitListener(ln net.Listener, cfg Config, m *Metrics, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, cfg: cfg, metrics: m, log: log, perIP: make(map[netip.Addr]int)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(c.RemoteAddr())
		if !l.allowed(ip) {
			l.log.Info("connection refused", "remote", ip, "reason", "not in the allow-list")
			refuse(c, "554 5.7.1 Your address may not send copies here")
			continue
		}
		l.mu.Lock()
		full := l.total >= l.cfg.MaxConns || l.perIP[ip] >= l.cfg.MaxConnsPerIP
		if !full {
			l.total++
			l.perIP[ip]++
		}
		total, fromIP := l.total, l.perIP[ip]
		l.mu.Unlock()
		if full {
			l.metrics.connsRefused.Inc()
			l.log.Info("connection refused", "remote", ip, "reason", "connection limit", "conns", total, "conns_from_ip", fromIP)
			refuse(c, "421 4.7.0 Too many connections, try again later")
			continue
		}
		l.metrics.conns.Inc()
		cc := newConn(c, l.log, func() { l.release(ip) })
		cc.log.Info("connection opened", "conns", total, "conns_from_ip", fromIP)
		return cc, nil
	}
}

func (l *limitListener) allowed(ip netip.Addr) bool {
	if len(l.cfg.AllowNets) == 0 {
		return true
	}
	for _, p := range l.cfg.AllowNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (l *limitListener) release(ip netip.Addr) {
	l.mu.Lock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
	l.metrics.conns.Dec()
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}

// refuse answers in the background so that a slow peer cannot stall Accept.
func refuse(c net.Conn, line string) {
	go func() {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(line + "\r\n"))
		c.Close()
	}()
}
