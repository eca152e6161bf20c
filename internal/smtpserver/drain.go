// Package smtpserver holds what every xtramail SMTP listener shares on top
// of go-smtp (capture now; submission later). Drain ends a server's
// sessions on shutdown the way RFC 5321 asks: idle sessions are told
// "421 4.3.2" and closed at once, while a mail transaction in flight is
// allowed to finish.
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// ShutdownReply is what a session hears when the server stops: RFC 5321
// 3.8 lets a server close with 421 at any time, and RFC 3463 X.3.2 is
// "system not accepting network messages".
const ShutdownReply = "421 4.3.2 Service shutting down, try again later"

// IdleReply is what a session hears when it has gone MaxIdle without a
// mail transaction (RFC 5321 4.5.3.2.7 lets a server close an idle
// session; RFC 3463 X.4.2 is "bad connection").
const IdleReply = "421 4.4.2 Too long without sending mail, closing connection"

// ErrShuttingDown is the answer to a MAIL command after shutdown began.
var ErrShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}

// Drain tracks the connections of one go-smtp server. Wrap the listener
// with Listener, call Track from the backend's NewSession, Begin at the
// start of MAIL and End from Reset (go-smtp calls Reset after every DATA,
// BDAT LAST and RSET), and Close before the server's Shutdown.
//
// A session is idle when it has no transaction open. After Close, an idle
// session is answered ShutdownReply and closed the moment it waits for its
// next command (at once for those already waiting); a busy one keeps
// reading until its transaction ends, then gets the same reply.
type Drain struct {
	// MaxIdle, when set (before the listener serves), bounds the time a
	// session spends outside a mail transaction, from its start or the
	// end of its last transaction: go-smtp's read timeout is per
	// command, so a client that sends a NOOP or RSET before each one ran
	// out held its connection, one of the listener's few, for ever
	// (slowloris). Past it the session is answered IdleReply and closed
	// when it next waits for a command.
	MaxIdle time.Duration

	closing atomic.Bool

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners []*listener
	changed   chan struct{} // closed and replaced when a connection closes
}

// NewDrain returns a Drain with no connections.
func NewDrain() *Drain { return &Drain{conns: map[*conn]struct{}{}, changed: make(chan struct{})} }

// Wait waits until every tracked connection has closed, or until ctx
// ends, when it closes those left and returns ctx.Err(). After Close, it
// is the Shutdown of servers run by Serve.
func (d *Drain) Wait(ctx context.Context) error {
	for {
		d.mu.Lock()
		n, changed := len(d.conns), d.changed
		d.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			d.mu.Lock()
			left := make([]*conn, 0, len(d.conns))
			for c := range d.conns {
				left = append(left, c)
			}
			d.mu.Unlock()
			for _, c := range left {
				c.Close()
			}
			return ctx.Err()
		}
	}
}

// Listener wraps ln so that its connections are tracked.
func (d *Drain) Listener(ln net.Listener) net.Listener {
	l := &listener{Listener: ln, d: d}
	d.mu.Lock()
	d.listeners = append(d.listeners, l)
	d.mu.Unlock()
	return l
}

// Closing reports whether Close was called.
func (d *Drain) Closing() bool { return d.closing.Load() }

// Close stops the listeners, then tells every idle session ShutdownReply
// and hangs up; sessions in a transaction follow when it ends. It does not
// wait: the server's Shutdown waits for the sessions.
func (d *Drain) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ln := range d.listeners {
		ln.Close()
	}
	d.closing.Store(true)
	for c := range d.conns {
		c.wake()
	}
}

// Track binds a go-smtp connection to its tracked raw connection, so that
// the shutdown reply goes through TLS after STARTTLS.
func (d *Drain) Track(c *smtp.Conn) {
	if tc := d.find(c); tc != nil {
		tc.smtp.Store(c)
	}
}

// Begin marks the session busy with a transaction. It returns false once
// Close was called: the caller answers ErrShuttingDown.
func (d *Drain) Begin(c *smtp.Conn) bool {
	tc := d.find(c)
	if tc == nil {
		return !d.closing.Load()
	}
	tc.busy.Store(true)
	if d.closing.Load() {
		tc.busy.Store(false)
		// go-smtp writes ErrShuttingDown: the hang-up needs no reply of
		// its own.
		tc.mu.Lock()
		tc.gone = true
		tc.mu.Unlock()
		return false
	}
	return true
}

// End marks the session idle again (the transaction ended or was reset).
// go-smtp calls Reset on RSET and EHLO outside a transaction too: those
// do not count as a transaction for MaxIdle.
func (d *Drain) End(c *smtp.Conn) {
	if tc := d.find(c); tc != nil && tc.busy.Swap(false) {
		tc.mu.Lock()
		tc.idleSince = time.Now()
		tc.mu.Unlock()
	}
}

// Hangup ends the session when it next waits for a command outside a
// transaction: reply is written first, or nothing when reply is "" (the
// answer go-smtp is about to write already says why, such as a MAIL
// refused because the sign-in was revoked). Call it from the session's
// own commands: it does not wake a session blocked on the client.
func (d *Drain) Hangup(c *smtp.Conn, reply string) {
	if tc := d.find(c); tc != nil {
		tc.hangup.Store(&reply)
	}
}

// find returns the tracked connection under c, through TLS if need be.
func (d *Drain) find(c *smtp.Conn) *conn {
	nc := c.Conn()
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	tc, _ := nc.(*conn)
	return tc
}

type listener struct {
	net.Listener
	d *Drain

	once     sync.Once
	closeErr error
}

// Close closes the listener once: Drain.Close and the server's Shutdown
// both close it, and only the first is a real close.
func (l *listener) Close() error {
	l.once.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &conn{Conn: c, d: l.d, idleSince: time.Now()}
	l.d.mu.Lock()
	l.d.conns[tc] = struct{}{}
	closing := l.d.closing.Load()
	l.d.mu.Unlock()
	if closing {
		tc.wake()
	}
	return tc, nil
}

// conn is a tracked connection. Only the session's goroutine reads it, so
// the decision to hang up and the reply are made there, never racing with
// a response go-smtp is writing.
type conn struct {
	net.Conn
	d    *Drain
	busy atomic.Bool
	smtp atomic.Pointer[smtp.Conn]
	// hangup, when set, is the reply of a Hangup (see there).
	hangup atomic.Pointer[string]

	mu        sync.Mutex
	deadline  time.Time // the read deadline go-smtp asked for
	gone      bool
	idleSince time.Time // the start, or the end of the last transaction
}

// idleTooLong reports whether the session has spent more than MaxIdle
// outside a transaction.
func (c *conn) idleTooLong() bool {
	if c.d.MaxIdle <= 0 || c.busy.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.idleSince) > c.d.MaxIdle
}

// NetConn returns the connection this one wraps (as tls.Conn does), for
// a listener's own connection type underneath.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Read(p []byte) (int, error) {
	for {
		if c.d.closing.Load() && !c.busy.Load() {
			c.goAway(ShutdownReply)
			return 0, io.EOF
		}
		if r := c.hangup.Load(); r != nil && !c.busy.Load() {
			c.goAway(*r)
			return 0, io.EOF
		}
		if c.idleTooLong() {
			if log := ConnLog(c.Conn); log != nil {
				log.Info("session closed: too long without a mail transaction", "max_idle", c.d.MaxIdle)
			}
			c.goAway(IdleReply)
			return 0, io.EOF
		}
		n, err := c.Conn.Read(p)
		var ne net.Error
		if n > 0 || !errors.As(err, &ne) || !ne.Timeout() || !c.d.closing.Load() {
			return n, err
		}
		// A timeout while closing: ours (the wake-up of Close) unless
		// go-smtp's own deadline has passed too.
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			// go-smtp's own deadline: a real timeout.
			return n, err
		}
		if c.busy.Load() {
			// In a transaction: keep reading it under go-smtp's deadline.
			c.SetReadDeadline(d)
		}
	}
}

// past is a read deadline that has passed: it wakes a blocked Read.
var past = time.Unix(1, 0)

// wake makes a Read blocked on the client return, so that conn.Read
// notices the shutdown.
func (c *conn) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Conn.SetReadDeadline(past)
}

// SetReadDeadline records go-smtp's deadline and applies it, except that
// an idle session of a closing server keeps a passed one, so that it never
// blocks for a command that will not be served. The lock orders it with
// wake: a wake-up is never overwritten by an older deadline.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if c.d.closing.Load() && !c.busy.Load() {
		t = past
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// goAway writes reply (the shutdown, the idle one or a Hangup's) once, through TLS
// when the session uses it; go-smtp closes the connection at the EOF that
// follows. It runs in the session's goroutine (from Read), when go-smtp
// is waiting for a command and writes nothing.
func (c *conn) goAway(reply string) {
	c.mu.Lock()
	gone := c.gone
	c.gone = true
	c.mu.Unlock()
	if gone || reply == "" {
		return
	}
	var w net.Conn = c.Conn
	if sc := c.smtp.Load(); sc != nil {
		if t, ok := sc.Conn().(*tls.Conn); ok {
			w = t
		}
	}
	w.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(w, reply+"\r\n")
	if log := ConnLog(c.Conn); log != nil {
		// Written past go-smtp: the transcript does not see it.
		log.Debug("server", "line", reply)
	}
}

func (c *conn) Close() error {
	c.d.mu.Lock()
	if _, ok := c.d.conns[c]; ok {
		delete(c.d.conns, c)
		close(c.d.changed)
		c.d.changed = make(chan struct{})
	}
	c.d.mu.Unlock()
	return c.Conn.Close()
}

// Unwrap returns the connection under c.
func (c *conn) Unwrap() net.Conn { return c.Conn }
