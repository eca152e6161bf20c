package queue

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func openStore(t testing.TB, dir string) *sqlite.Store {
	t.Helper()
	return sqlitetest.Open(t, dir, sqlite.Options{})
}

// newStore opens a store with example.org and alice@example.org.
func newStore(t *testing.T) (*sqlite.Store, store.Account) {
	t.Helper()
	return newStoreIn(t, t.TempDir())
}

// newStoreIn is newStore in dir, for tests that reopen it.
func newStoreIn(t *testing.T, dir string) (*sqlite.Store, store.Account) {
	t.Helper()
	st := openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	acc, err := st.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	return st, acc
}

func rawMessage(id, subject string, to ...string) []byte {
	return []byte("From: Alice <alice@example.org>\r\nTo: " + strings.Join(to, ", ") + "\r\nSubject: " + subject +
		"\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\nMessage-ID: <" + id + "@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nthis is " + id + ".\r\n")
}

// enqueue stores a message from alice as Submit will: the Sent copy, one
// entry per recipient and the queued events, in one Deliver.
func enqueue(t testing.TB, st store.Store, acc store.Account, at time.Time, id string, rcpts ...string) {
	t.Helper()
	d := store.NewDelivery(rawMessage(id, "subject "+id, rcpts...), at)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, rcpts, d.Info, d.Size, at)
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// enqueueDSN is enqueue with what the sender asked of notifications, per
// recipient.
func enqueueDSN(t testing.TB, st store.Store, acc store.Account, at time.Time, id string, dsn map[string]store.DSN, rcpts ...string) {
	t.Helper()
	d := store.NewDelivery(rawMessage(id, "subject "+id, rcpts...), at)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, rcpts, d.Info, d.Size, at)
	for i := range d.Outbound {
		d.Outbound[i].DSN = dsn[rcpts[i]]
	}
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// sunk is a message a sink acknowledged.
type sunk struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	// mail and rcptOpts are the parameters of MAIL and of each RCPT.
	mail     smtp.MailOptions
	rcptOpts []smtp.RcptOptions
}

// sink is a go-smtp server playing a remote MX or relay. Its hooks
// decide answers; it records what it acknowledged with a 250.
type sink struct {
	addr string
	port int

	mu       sync.Mutex
	msgs     []sunk
	conns    map[*smtp.Conn]bool // connections, not sessions (each EHLO is one)
	rcptHook func(rcpt string) error
	dataHook func(data []byte) error
	user     string // AUTH PLAIN required when set
	pass     string
}

func (s *sink) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *sink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

// startSink listens on 127.0.0.1:0; with cfg, it offers STARTTLS, or
// speaks TLS from the start when implicit.
func startSink(t testing.TB, cfg *tls.Config, implicit bool) *sink {
	t.Helper()
	return startSinkWith(t, cfg, implicit, nil)
}

// startSinkWith is startSink with server settings changed by configure.
func startSinkWith(t testing.TB, cfg *tls.Config, implicit bool, configure func(*smtp.Server)) *sink {
	t.Helper()
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	return serveSink(t, ln, cfg, implicit, configure)
}

// serveSink is a sink on ln, which speaks TLS from the start when
// implicit, else offers STARTTLS with cfg (when set).
func serveSink(t testing.TB, ln net.Listener, cfg *tls.Config, implicit bool, configure func(*smtp.Server)) *sink {
	t.Helper()
	s := &sink{conns: map[*smtp.Conn]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.set(func() { s.conns[c] = true })
		return &sinkSession{s: s, c: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.AllowInsecureAuth = false
	if configure != nil {
		configure(srv)
	}
	if !implicit {
		srv.TLSConfig = cfg
	}
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

type sinkSession struct {
	s        *sink
	c        *smtp.Conn
	authed   bool
	from     string
	rcpts    []string
	mail     smtp.MailOptions
	rcptOpts []smtp.RcptOptions
}

func (ss *sinkSession) Reset() {
	ss.from, ss.rcpts, ss.mail, ss.rcptOpts = "", nil, smtp.MailOptions{}, nil
}
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		defer ss.s.mu.Unlock()
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	if opts != nil {
		ss.mail = *opts
	}
	ss.s.mu.Lock()
	need := ss.s.user != ""
	ss.s.mu.Unlock()
	if need && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	hook := ss.s.rcptHook
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(to); err != nil {
			return err
		}
	}
	ss.rcpts = append(ss.rcpts, to)
	var o smtp.RcptOptions
	if opts != nil {
		o = *opts
	}
	ss.rcptOpts = append(ss.rcptOpts, o)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	hook := ss.s.dataHook
	ss.s.mu.Unlock()
	if hook != nil {
		if err := hook(b); err != nil {
			return err
		}
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.set(func() { ss.s.msgs = append(ss.s.msgs, sunk{ss.from, ss.rcpts, b, isTLS, ss.mail, ss.rcptOpts}) })
	return nil
}

// startDNS serves records (zone-file lines) on a loopback UDP port and
// returns a resolver that asks only it: the public DNS, mocked.
func startDNS(t testing.TB, records ...string) *net.Resolver {
	t.Helper()
	return queuetest.StartDNS(t, records...).Resolver()
}

// events returns the message log's events of a status, oldest first.
func events(t testing.TB, st store.Store, status store.LogStatus) []store.LogEvent {
	t.Helper()
	ev, err := st.SearchLog(context.Background(), store.LogQuery{Status: status, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(ev)-1; i < j; i, j = i+1, j-1 {
		ev[i], ev[j] = ev[j], ev[i]
	}
	return ev
}

func queued(t testing.TB, st store.Store) []store.QueueEntry {
	t.Helper()
	q, err := st.QueueEntries(context.Background(), store.QueueQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func runOnce(t testing.TB, w *Worker) int {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

func contains(b []byte, subs ...string) error {
	var missing []string
	for _, s := range subs {
		if !bytes.Contains(b, []byte(s)) {
			missing = append(missing, fmt.Sprintf("%q", s))
		}
	}
	if len(missing) > 0 {
		return errors.New("lacks " + strings.Join(missing, ", "))
	}
	return nil
}
