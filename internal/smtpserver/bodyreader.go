package smtpserver

import (
	"io"
	"net"
	"time"
)

// BodyReader reads a message body for a session's Data or BDAT. It pushes
// the connection's read deadline forward on each read (go-smtp sets it
// once per command, which would cut off a large message on a slow link,
// while a stalled one must still be), and counts what it read.
type BodyReader struct {
	r       io.Reader
	nc      net.Conn
	timeout time.Duration
	n       int64
	err     error
}

// NewBodyReader reads body, the DATA or BDAT stream of a session on nc,
// allowing timeout for each read.
func NewBodyReader(body io.Reader, nc net.Conn, timeout time.Duration) *BodyReader {
	return &BodyReader{r: body, nc: nc, timeout: timeout}
}

func (b *BodyReader) Read(p []byte) (int, error) {
	b.nc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Size is the number of bytes read so far.
func (b *BodyReader) Size() int64 { return b.n }

// ReadErr is the read error that ended the body (a timeout, a closed
// connection, a size limit), nil if none did.
func (b *BodyReader) ReadErr() error { return b.err }
