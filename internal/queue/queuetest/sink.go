package queuetest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Sink is a go-smtp server playing the next hop (a relay or an MX) on
// loopback. It keeps every message it accepted with the parameters its
// MAIL and RCPT commands carried.
type Sink struct {
	Port int

	mu   sync.Mutex
	msgs []Sunk
}

// Sunk is one message a Sink accepted.
type Sunk struct {
	From  string
	Mail  smtp.MailOptions
	Rcpts []string
	Opts  []smtp.RcptOptions // each recipient's, in order
	Data  []byte
}

// StartSink listens on 127.0.0.1:0, in the clear; with dsn it announces
// DSN (RFC 3461) and takes its parameters.
func StartSink(t testing.TB, dsn bool) *Sink {
	t.Helper()
	s := &Sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 64 << 20
	srv.EnableDSN = dsn
	srv.EnableSMTPUTF8 = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Received returns the messages accepted so far.
func (s *Sink) Received() []Sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sunk(nil), s.msgs...)
}

// Wait waits up to d for n messages and returns what came.
func (s *Sink) Wait(n int, d time.Duration) []Sunk {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		got := s.Received()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
	}
}

type sinkSession struct {
	s   *Sink
	cur Sunk
}

func (ss *sinkSession) Reset()        { ss.cur = Sunk{} }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	ss.cur = Sunk{From: from}
	if opts != nil {
		ss.cur.Mail = *opts
	}
	return nil
}

func (ss *sinkSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.cur.Rcpts = append(ss.cur.Rcpts, to)
	var o smtp.RcptOptions
	if opts != nil {
		o = *opts
	}
	ss.cur.Opts = append(ss.cur.Opts, o)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = b
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.cur)
	ss.s.mu.Unlock()
	return nil
}
