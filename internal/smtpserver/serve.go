package smtpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Serve accepts connections on ln until it is closed and serves each with
// a go-smtp server of its own, made by newServer: go-smtp's Debug writer
// belongs to a server, and it is the only place where the plaintext of a
// session can be seen after STARTTLS, so one server per connection is
// what gives each connection its own transcript (see transcript). A
// go-smtp server is a few hundred bytes; no goroutine is added.
//
// Put ln over Drain.Listener (and TLS, for implicit TLS, over that):
// the Drain tracks the connections, and its Close and Wait stop them, as
// go-smtp's Shutdown would for a shared server. Each connection's server
// gets:
//   - MaxLineLength 0 when the connection is under a LineGuard (the guard
//     bounds command lines; go-smtp's own bound would cut long lines inside
//     a message, issue 12 part 1);
//   - a transcript as Debug when the connection's log (ConnLog) is enabled
//     at debug level.
func Serve(ln net.Listener, newServer func() *smtp.Server) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				// As net/http and go-smtp do: back off on EMFILE and kin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		srv := newServer()
		if LineGuardOf(c) != nil {
			srv.MaxLineLength = 0
		}
		if log := ConnLog(c); log != nil && log.Enabled(context.Background(), slog.LevelDebug) {
			srv.Debug = newTranscript(log)
		}
		// The server's Serve starts the session in its own goroutine and
		// returns at the second Accept.
		srv.Serve(&oneConn{c: c})
	}
}

// errServed ends a oneConn's Serve; it is not a net.Error, so go-smtp
// returns it instead of retrying.
var errServed = errors.New("connection handed over")

// oneConn is a listener that yields one connection.
type oneConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (l *oneConn) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.c
	l.c = nil
	if c == nil {
		return nil, errServed
	}
	return c, nil
}

// Close does not close the connection: it belongs to its session.
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return oneAddr{} }

type oneAddr struct{}

func (oneAddr) Network() string { return "tcp" }
func (oneAddr) String() string  { return "one connection" }

// ConnLog returns the log of a connection accepted through LimitListener
// (with its cid and the client's address), looking through TLS and the
// other wrappers that expose NetConn, or nil.
func ConnLog(nc net.Conn) *slog.Logger {
	for {
		switch c := nc.(type) {
		case *limitConn:
			return c.log
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
		default:
			return nil
		}
	}
}
