package capture

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/smtpserver"
)

// conn is one capture connection. It frees its slot in the listener's
// limits when closed, carries the connection id that every log line of
// the connection names, and counts what the connection did for the close
// log line (the cid is smtpserver's, ConnLog). Command lines are
// bounded by smtpserver.GuardLines above it.
type conn struct {
	net.Conn
	log     *slog.Logger
	opened  time.Time
	once    sync.Once
	release func()

	mu      sync.Mutex
	stored  int // messages stored
	refused int // recipients and messages refused
}

// newConn wraps c, whose log (with its cid) the shared listener made.
func newConn(c net.Conn, log *slog.Logger, release func()) *conn {
	if l := smtpserver.ConnLog(c); l != nil {
		log = l
	}
	return &conn{Conn: c, log: log, opened: time.Now(), release: release}
}

func (c *conn) count(stored, refused int) {
	c.mu.Lock()
	c.stored += stored
	c.refused += refused
	c.mu.Unlock()
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.release()
		c.mu.Lock()
		stored, refused := c.stored, c.refused
		c.mu.Unlock()
		c.log.Info("connection closed", "stored", stored, "refused", refused,
			"duration", time.Since(c.opened).Round(time.Millisecond))
	})
	return c.Conn.Close()
}

// captureConn finds the capture conn under a session's connection, which
// is a *tls.Conn after STARTTLS.
func captureConn(nc net.Conn) *conn {
	for {
		switch c := nc.(type) {
		case *conn:
			return c
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
}

// NetConn returns the connection under c (as tls.Conn does), so that
// smtpserver finds its own connection types below.
func (c *conn) NetConn() net.Conn { return c.Conn }
