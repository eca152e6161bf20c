package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

// backend is the smallest go-smtp backend that follows Drain's contract.
type backend struct {
	d      *Drain
	stored atomic.Int64
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.d.Track(c)
	return &session{b: b, c: c}, nil
}

type session struct {
	b *backend
	c *smtp.Conn
}

func (s *session) Mail(string, *smtp.MailOptions) error {
	if !s.b.d.Begin(s.c) {
		return ErrShuttingDown
	}
	return nil
}
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	// As every listener's session does: bytes of a body are not command
	// bytes to LineGuard.
	body, done := LineGuardOf(s.c.Conn()).Body(r)
	defer done()
	if _, err := io.ReadAll(body); err != nil {
		return err
	}
	s.b.stored.Add(1)
	return nil
}
func (s *session) Reset()        { s.b.d.End(s.c) }
func (s *session) Logout() error { return nil }

type testServer struct {
	addr    string
	srv     *smtp.Server
	d       *Drain
	b       *backend
	roots   *tls.Config
	served  chan error
	stopped chan error
}

func start(t *testing.T) *testServer {
	t.Helper()
	serverTLS, roots, err := tlsutil.NewTestPair()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDrain()
	b := &backend{d: d}
	srv := smtp.NewServer(b)
	srv.Domain = "localhost"
	srv.TLSConfig = serverTLS
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), srv: srv, d: d, b: b, served: make(chan error, 1),
		roots: &tls.Config{RootCAs: roots, ServerName: "localhost"}}
	go func() { ts.served <- srv.Serve(d.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	return ts
}

// shutdown starts the drain as a server's Shutdown would, in the
// background.
func (ts *testServer) shutdown() {
	ts.stopped = make(chan error, 1)
	ts.d.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ts.stopped <- ts.srv.Shutdown(ctx)
	}()
}

// client is a raw SMTP client that reads replies line by line.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.expect("220 ")
	return cl
}

func (cl *client) send(s string) {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatalf("send %q: %v", s, err)
	}
}

// reply reads one whole reply (continuation lines included) and returns
// its last line.
func (cl *client) reply() string {
	cl.t.Helper()
	for {
		line, err := cl.br.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("read reply: %v (got %q)", err, line)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (cl *client) expect(prefix string) {
	cl.t.Helper()
	if got := cl.reply(); !strings.HasPrefix(got, prefix) {
		cl.t.Fatalf("reply %q, want %q", got, prefix)
	}
}

// expectGoAway checks the shutdown reply and then the end of the stream.
func (cl *client) expectGoAway() {
	cl.t.Helper()
	cl.expect(ShutdownReply)
	if b, err := cl.br.ReadByte(); err != io.EOF {
		cl.t.Fatalf("after the shutdown reply: %q, %v; want the connection closed", b, err)
	}
}

func (cl *client) ehlo() {
	cl.send("EHLO upstream.test\r\n")
	cl.expect("250 ")
}

func (cl *client) startTLS(cfg *tls.Config) {
	cl.t.Helper()
	cl.send("STARTTLS\r\n")
	cl.expect("220 ")
	tc := tls.Client(cl.c, cfg)
	if err := tc.Handshake(); err != nil {
		cl.t.Fatal(err)
	}
	cl.c, cl.br = tc, bufio.NewReader(tc)
}

func (cl *client) beginData() {
	cl.send("MAIL FROM:<a@outside.test>\r\n")
	cl.expect("250 ")
	cl.send("RCPT TO:<b@example.test>\r\n")
	cl.expect("250 ")
	cl.send("DATA\r\n")
	cl.expect("354 ")
	cl.send("Subject: in flight\r\n\r\nfirst half\r\n")
}

// waitConns waits until the drain tracks n connections.
func waitConns(t *testing.T, d *Drain, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d.mu.Lock()
		got := len(d.conns)
		d.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections tracked, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShutdownIdleSessionsGet421 guards issue 12 part 4: idle sessions,
// before and after EHLO and over STARTTLS, are told 421 4.3.2 and closed
// at once, so the server's Shutdown does not wait for them.
func TestShutdownIdleSessionsGet421(t *testing.T) {
	ts := start(t)
	greeted := dial(t, ts.addr)
	helloed := dial(t, ts.addr)
	helloed.ehlo()
	afterMail := dial(t, ts.addr)
	afterMail.ehlo()
	afterMail.send("MAIL FROM:<a@outside.test>\r\nRSET\r\n")
	afterMail.expect("250 ")
	afterMail.expect("250 ")
	secure := dial(t, ts.addr)
	secure.ehlo()
	secure.startTLS(ts.roots)
	secure.ehlo()
	waitConns(t, ts.d, 4)

	ts.shutdown()
	for _, cl := range []*client{greeted, helloed, afterMail, secure} {
		cl.expectGoAway()
	}
	if err := <-ts.stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("still accepting after shutdown")
	}
}

// TestShutdownLetsTransactionFinish: a message whose DATA (or BDAT) is in
// flight when shutdown begins is received and answered 250, then the
// session gets 421 4.3.2; a MAIL pipelined after it is refused with one
// 421 only.
func TestShutdownLetsTransactionFinish(t *testing.T) {
	ts := start(t)
	plain := dial(t, ts.addr)
	plain.ehlo()
	plain.beginData()
	pipelined := dial(t, ts.addr)
	pipelined.ehlo()
	pipelined.beginData()
	secure := dial(t, ts.addr)
	secure.ehlo()
	secure.startTLS(ts.roots)
	secure.ehlo()
	secure.beginData()
	// CHUNKING (RFC 3030), as Exchange sends: one chunk in, LAST to come.
	chunked := dial(t, ts.addr)
	chunked.ehlo()
	chunked.send("MAIL FROM:<a@outside.test>\r\nRCPT TO:<b@example.test>\r\n")
	chunked.expect("250 ")
	chunked.expect("250 ")
	chunk := "Subject: chunked\r\n\r\nab"
	chunked.send(fmt.Sprintf("BDAT %d\r\n%s", len(chunk), chunk))
	chunked.expect("250 ")
	idle := dial(t, ts.addr)
	waitConns(t, ts.d, 5)

	ts.shutdown()
	idle.expectGoAway() // proves the drain began while the others are mid-DATA
	select {
	case err := <-ts.stopped:
		t.Fatalf("Shutdown returned (%v) with transactions in flight", err)
	default:
	}

	plain.send("second half\r\n.\r\n")
	plain.expect("250 ")
	plain.expectGoAway()

	secure.send("second half\r\n.\r\n")
	secure.expect("250 ")
	secure.expectGoAway()

	chunked.send("BDAT 4 LAST\r\ncd\r\n")
	chunked.expect("250 ")
	chunked.expectGoAway()

	pipelined.send("second half\r\n.\r\nMAIL FROM:<again@outside.test>\r\n")
	pipelined.expect("250 ")
	pipelined.expect("421 4.3.2 ")
	if b, err := pipelined.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the refused MAIL: %q, %v; want the connection closed", b, err)
	}

	if err := <-ts.stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := ts.b.stored.Load(); n != 4 {
		t.Fatalf("%d messages received, want the 4 in flight", n)
	}
}

// TestShutdownRandomStates puts many sessions in random states, some of
// them mid-transaction, shuts down, and checks that every transaction in
// flight completes with 250 and every session ends with exactly one
// shutdown reply.
func TestShutdownRandomStates(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("seed %d", seed)
	ts := start(t)
	const n = 24
	type conn struct {
		cl    *client
		state int // 0 greeted, 1 EHLO, 2 after a message, 3 mid-DATA, 4 after MAIL+RCPT
	}
	conns := make([]conn, n)
	for i := range conns {
		st := rng.IntN(5)
		cl := dial(t, ts.addr)
		if st > 0 {
			cl.ehlo()
		}
		switch st {
		case 2:
			cl.beginData()
			cl.send(".\r\n")
			cl.expect("250 ")
		case 3:
			cl.beginData()
		case 4:
			cl.send("MAIL FROM:<a@outside.test>\r\n")
			cl.expect("250 ")
			cl.send("RCPT TO:<b@example.test>\r\n")
			cl.expect("250 ")
		}
		conns[i] = conn{cl, st}
	}
	waitConns(t, ts.d, n)
	ts.shutdown()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, c := range conns {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Sprint(r)
				}
			}()
			switch c.state {
			case 3:
				c.cl.send("rest\r\n.\r\n")
				if got := readReply(c.cl.br); !strings.HasPrefix(got, "250 ") {
					errs <- fmt.Sprintf("conn %d mid-DATA: %q, want 250", i, got)
					return
				}
			case 4:
				c.cl.send("DATA\r\n")
				if got := readReply(c.cl.br); !strings.HasPrefix(got, "354 ") {
					errs <- fmt.Sprintf("conn %d after RCPT: DATA got %q", i, got)
					return
				}
				c.cl.send("Subject: late\r\n\r\nbody\r\n.\r\n")
				if got := readReply(c.cl.br); !strings.HasPrefix(got, "250 ") {
					errs <- fmt.Sprintf("conn %d after RCPT: %q, want 250", i, got)
					return
				}
			}
			if got := readReply(c.cl.br); got != ShutdownReply {
				errs <- fmt.Sprintf("conn %d (state %d): %q, want the shutdown reply", i, c.state, got)
				return
			}
			if got := readReply(c.cl.br); got != "EOF" {
				errs <- fmt.Sprintf("conn %d (state %d): %q after the shutdown reply, want EOF", i, c.state, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if err := <-ts.stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// readReply returns the last line of the next reply, or "EOF".
func readReply(br *bufio.Reader) string {
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return "EOF"
		}
		if err != nil {
			return fmt.Sprintf("error %v after %q", err, line)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}
