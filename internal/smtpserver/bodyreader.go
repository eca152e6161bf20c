package smtpserver

import (
	"io"
	"net"
	"sync"
	"time"
)

// MinBodyRate is the slowest a body may arrive, in bytes per second, once
// its first read timeout has passed (Postfix's smtpd_min_data_rate has the
// same default): 50 MiB may take a day.
const MinBodyRate = 500

// BodyReader reads a message body for a session's Data or BDAT. It pushes
// the connection's read deadline forward on each read (go-smtp sets it
// once per command, which would cut off a large message on a slow link,
// while a stalled one must still be), and counts what it read.
//
// It also closes the connection when the body falls behind MinBodyRate:
// the timeout plus a second per MinBodyRate bytes received. Each BDAT
// chunk, each read, pushed the deadline on, so a client that sent a byte
// every few minutes held its connection, one of the listener's few, for
// ever (slowloris). A deadline cannot do it: go-smtp sets its own before
// every BDAT command. The check ends at the end of the body; call Stop
// when the body is left unread.
type BodyReader struct {
	r       io.Reader
	nc      net.Conn
	timeout time.Duration
	start   time.Time
	err     error

	mu    sync.Mutex
	n     int64
	timer *time.Timer // nil once stopped
	slow  bool        // cut off by the rate
}

// NewBodyReader reads body, the DATA or BDAT stream of a session on nc,
// allowing timeout for each read.
func NewBodyReader(body io.Reader, nc net.Conn, timeout time.Duration) *BodyReader {
	b := &BodyReader{r: body, nc: nc, timeout: timeout, start: time.Now()}
	b.mu.Lock() // check may run before AfterFunc returns
	b.timer = time.AfterFunc(timeout, b.check)
	b.mu.Unlock()
	return b
}

// check closes the connection if the body is behind the rate, or looks
// again when it would be.
func (b *BodyReader) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer == nil {
		return
	}
	due := b.start.Add(b.timeout + time.Duration(b.n)*time.Second/MinBodyRate)
	if wait := time.Until(due); wait > 0 {
		b.timer.Reset(wait)
		return
	}
	b.slow = true
	b.nc.Close()
}

// Stop ends the rate check. It may be called more than once.
func (b *BodyReader) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

func (b *BodyReader) Read(p []byte) (int, error) {
	b.nc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.r.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	b.mu.Unlock()
	if err == io.EOF {
		b.Stop() // all in: storing it takes what it takes
	} else if err != nil {
		b.err = err
	}
	return n, err
}

// Size is the number of bytes read so far.
func (b *BodyReader) Size() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// TooSlow reports whether the connection was closed because the body
// fell behind MinBodyRate.
func (b *BodyReader) TooSlow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.slow
}

// ReadErr is the read error that ended the body (a timeout, a closed
// connection, a size limit), nil if none did.
func (b *BodyReader) ReadErr() error { return b.err }
