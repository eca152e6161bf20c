package capture

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/smtpserver"
)

// conn is one capture connection. It frees its slot in the listener's
// limits when closed, carries the connection id that every log line of
// the connection names, and counts what the connection did for the close
// log line. Command lines are bounded by smtpserver.GuardLines above it.
type conn struct {
	net.Conn
	cid     string
	log     *slog.Logger
	opened  time.Time
	once    sync.Once
	release func()

	mu      sync.Mutex
	stored  int // messages stored
	refused int // recipients and messages refused
}

func newConn(c net.Conn, log *slog.Logger, release func()) *conn {
	var b [6]byte
	rand.Read(b[:])
	cid := hex.EncodeToString(b[:])
	return &conn{Conn: c, cid: cid, log: log.With("cid", cid, "remote", smtpserver.RemoteIP(c.RemoteAddr())),
		opened: time.Now(), release: release}
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
