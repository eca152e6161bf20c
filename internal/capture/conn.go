package capture

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// maxCommandBytes bounds what a client may send outside a message body
// without getting an answer: in effect the longest command line, since
// go-smtp answers every command line and reads the next one only then.
// RFC 5321 4.5.3.1.4 sets 512 octets; extensions make lines longer. The
// margin covers what is read ahead at the start of a BDAT chunk before the
// session sees it (a 4 KiB buffer and two 32 KiB copy steps).
const maxCommandBytes = 128 << 10

// conn is one capture connection. It frees its slot in the listener's
// limits when closed, carries the connection id that every log line of
// the connection names, counts what the connection did for the close log
// line, and keeps command lines bounded while message bodies are not.
//
// go-smtp applies one MaxLineLength to command lines, to DATA and (through
// its read-ahead buffer) to BDAT chunks, so a message with a line longer
// than 2000 bytes was lost (issue 12). Its limit is off here, and this
// conn bounds instead the bytes a client sends outside a body between two
// answers of the server. It sits below TLS, so it counts bytes and never
// parses them: what is body is told by the session (Data running, and for
// BDAT, the body reader receiving bytes after the server's last answer).
type conn struct {
	net.Conn
	cid     string
	log     *slog.Logger
	opened  time.Time
	once    sync.Once
	release func()

	mu       sync.Mutex
	inData   bool   // the session's Data is running
	counting bool   // bytes read now are outside a body
	since    int64  // bytes read while counting since the last answer
	gen      uint64 // answers written
	stored   int    // messages stored
	refused  int    // recipients and messages refused
}

func newConn(c net.Conn, log *slog.Logger, release func()) *conn {
	var b [6]byte
	rand.Read(b[:])
	cid := hex.EncodeToString(b[:])
	return &conn{Conn: c, cid: cid, log: log.With("cid", cid, "remote", remoteIP(c.RemoteAddr())),
		opened: time.Now(), release: release, counting: true}
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counting {
		c.since += int64(n)
		if c.since > maxCommandBytes {
			// go-smtp answers this error with "500 5.4.0 Too long
			// line" and hangs up.
			return 0, smtp.ErrTooLongLine
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.gen++
	c.since = 0
	// An answer during Data is the end of a BDAT chunk: the next BDAT
	// command line is counted until the body reader sees the chunk. An
	// answer after Data is the end of the message.
	c.counting = true
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// enterData and leaveData bracket the session's Data. Bytes read after
// leaveData stay uncounted until the next answer: go-smtp drains the rest
// of a refused DATA body then.
func (c *conn) enterData() {
	c.mu.Lock()
	c.inData, c.counting = true, false
	c.mu.Unlock()
}

func (c *conn) leaveData() {
	c.mu.Lock()
	c.inData = false
	c.mu.Unlock()
}

// answers returns the number of answers written so far.
func (c *conn) answers() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// gotBody reports that the body reader received bytes in a read that began
// when answers() was gen. If no answer was written since, those bytes are
// a chunk's, and what is read next is body too. A read that began before
// an answer may have returned the previous chunk's last bytes late, and
// proves nothing.
func (c *conn) gotBody(gen uint64) {
	c.mu.Lock()
	if c.inData && c.gen == gen {
		c.counting, c.since = false, 0
	}
	c.mu.Unlock()
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
