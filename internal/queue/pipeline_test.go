package queue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// rawSMTP is a relay written with raw lines, for what a go-smtp sink
// cannot show: the order in which the client's commands arrive before
// any reply, and a server's misbehaviour. Each connection is greeted,
// its EHLOs answered with ext, and then handed to session.
type rawSMTP struct {
	port int
	ext  []string
	mu   sync.Mutex
	log  []string // every line read, in order, "C<conn>: line"
	errs []string
}

func startRawSMTP(t *testing.T, ext []string, session func(s *rawSession) error) *rawSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &rawSMTP{port: ln.Addr().(*net.TCPAddr).Port, ext: ext}
	go func() {
		for n := 1; ; n++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				s := &rawSession{srv: r, n: n, nc: nc, r: bufio.NewReader(nc)}
				fmt.Fprintf(nc, "220 raw.test ESMTP\r\n")
				l, err := s.line()
				if err != nil {
					return
				}
				s.pending = l
				if err := session(s); err != nil {
					r.mu.Lock()
					r.errs = append(r.errs, fmt.Sprintf("connection %d: %v", n, err))
					r.mu.Unlock()
				}
			}()
		}
	}()
	return r
}

func (r *rawSMTP) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Error(e)
	}
}

func (r *rawSMTP) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

type rawSession struct {
	srv     *rawSMTP
	n       int
	nc      net.Conn
	r       *bufio.Reader
	pending string // a line read ahead
}

// line reads the next command line, within 10 s.
// line returns the client's next command line. EHLO is answered here,
// wherever it comes (RFC 5321 4.1.4 allows it at any time, and go-smtp's
// client says it again after RSET: a pooled session's second message),
// and logged like the rest.
func (s *rawSession) line() (string, error) {
	if l := s.pending; l != "" {
		s.pending = ""
		return l, nil
	}
	for {
		s.nc.SetReadDeadline(time.Now().Add(time.Minute))
		l, err := s.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimSuffix(l, "\r\n")
		s.srv.mu.Lock()
		s.srv.log = append(s.srv.log, fmt.Sprintf("C%d: %s", s.n, l))
		s.srv.mu.Unlock()
		if !strings.HasPrefix(l, "EHLO ") {
			return l, nil
		}
		fmt.Fprintf(s.nc, "250-raw.test\r\n")
		for _, e := range s.srv.ext {
			fmt.Fprintf(s.nc, "250-%s\r\n", e)
		}
		fmt.Fprintf(s.nc, "250 8BITMIME\r\n")
	}
}

// expect reads the next line, which must start with prefix.
func (s *rawSession) expect(prefix string) (string, error) {
	l, err := s.line()
	if err != nil {
		return "", fmt.Errorf("waiting for %s: %w", prefix, err)
	}
	if !strings.HasPrefix(l, prefix) {
		return l, fmt.Errorf("got %q, want %s", l, prefix)
	}
	return l, nil
}

// data reads a message up to its ".", undoing the dot-stuffing, and
// returns it with its line endings as sent.
func (s *rawSession) data() ([]byte, error) {
	var b bytes.Buffer
	for {
		s.nc.SetReadDeadline(time.Now().Add(time.Minute))
		l, err := s.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if l == ".\r\n" {
			return b.Bytes(), nil
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
}

// relay answers the session's commands as a plain relay does: 250 to
// MAIL, RCPT and RSET, 354 to DATA and 250 once the message is read, 221
// to QUIT; mail, when set, gives the reply to a MAIL line instead and
// whether to hang up after it, and data, when set, is given each message
// read and may have the relay hang up before its reply.
func (s *rawSession) relay(mail func(line string) (reply string, hangUp bool), data func(msg []byte) (hangUp bool)) error {
	for {
		l, err := s.line()
		if err != nil {
			return nil // the client went away
		}
		switch {
		case strings.HasPrefix(l, "MAIL FROM:"):
			reply, hangUp := "250 2.1.0 ok", false
			if mail != nil {
				reply, hangUp = mail(l)
			}
			s.say(reply)
			if hangUp {
				return nil
			}
		case strings.HasPrefix(l, "RCPT TO:"), l == "RSET":
			s.say("250 2.1.5 ok")
		case l == "DATA":
			s.say("354 go ahead")
			msg, err := s.data()
			if err != nil {
				return err
			}
			if data != nil && data(msg) {
				return nil
			}
			s.say("250 2.0.0 queued")
		case l == "QUIT":
			s.say("221 bye")
			return nil
		default:
			return fmt.Errorf("unexpected %q", l)
		}
	}
}

func (s *rawSession) say(lines ...string) error {
	_, err := io.WriteString(s.nc, strings.Join(lines, "\r\n")+"\r\n")
	return err
}

func relayWorker(t *testing.T, st store.Store, port int, now func() time.Time) *Worker {
	return New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: port, TLS: "none"},
		IdleConn: time.Minute, Now: now, Rand: func() float64 { return 0.5 }}, st, nil, nil)
}

// TestPipelinedCommandsInOneWrite guards command pipelining (RFC 2920):
// with a relay that announces PIPELINING and answers nothing until it has
// read MAIL, both RCPTs and DATA, a message is delivered (a client that
// waited for each reply would wait forever); one recipient refused with
// 550 5.1.1 fails alone, the other is delivered; the body arrives with
// its leading periods stuffed and unstuffed to the byte.
func TestPipelinedCommandsInOneWrite(t *testing.T) {
	st, acc := newStore(t)
	var got []byte
	raw := startRawSMTP(t, []string{"PIPELINING", "SIZE 100000"}, func(s *rawSession) error {
		mail, err := s.expect("MAIL FROM:<alice@example.org>")
		if err != nil {
			return err
		}
		if !strings.Contains(mail, " BODY=8BITMIME") || !strings.Contains(mail, " SIZE=") {
			return fmt.Errorf("MAIL without BODY and SIZE: %q", mail)
		}
		if _, err := s.expect("RCPT TO:<bob@remote.test>"); err != nil {
			return err
		}
		if _, err := s.expect("RCPT TO:<nobody@remote.test>"); err != nil {
			return err
		}
		if _, err := s.expect("DATA"); err != nil {
			return err
		}
		if err := s.say("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 no such user here", "354 go ahead"); err != nil {
			return err
		}
		if got, err = s.data(); err != nil {
			return err
		}
		if err := s.say("250 2.0.0 queued as 17"); err != nil {
			return err
		}
		_, err = s.expect("QUIT")
		s.say("221 bye")
		return err
	})
	body := ".starts with a period\r\n..two\r\nmiddle . period\r\n.\r\nno final line break"
	msg := append(rawMessage("p1", "pipelined", "bob@remote.test"), []byte(body)...)
	d := store.NewDelivery(msg, t0)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@remote.test", "nobody@remote.test"}, d.Info, d.Size, t0)
	if _, err := st.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	w := relayWorker(t, st, raw.port, func() time.Time { return t0 })
	if n := runOnce(t, w); n != 2 {
		t.Fatalf("took %d entries", n)
	}
	raw.check(t)
	// Two recipients: the trace field names none (smtp.go, received).
	trace := "Received: from queue.example.org (local)\r\n\tby queue.example.org (xtramail) id 1; " + t0.Format(time.RFC1123Z) + "\r\n"
	if want := trace + string(msg) + "\r\n"; string(got) != want {
		t.Errorf("relay got\n%q\nwant\n%q", got, want)
	}
	del := events(t, st, msglog.Delivered)
	if len(del) != 1 || del[0].Rcpt != "bob@remote.test" || !strings.Contains(del[0].Detail, "250 2.0.0 queued as 17") {
		t.Errorf("delivered events %+v", del)
	}
	bounced := events(t, st, msglog.Bounced)
	if len(bounced) != 1 || bounced[0].Rcpt != "nobody@remote.test" || !strings.Contains(bounced[0].Detail, "550 5.1.1 no such user") {
		t.Errorf("bounced events %+v", bounced)
	}
}

// TestPipelinedRefusalsAndStaleSession: a MAIL refused with 451 defers
// every recipient, and the next transaction on the session starts with
// RSET; a server that answers DATA with 354 although it refused every
// recipient is sent an empty message at once; a pooled session the
// server closed while idle costs the message nothing: it is delivered
// over a new connection, not deferred.
func TestPipelinedRefusalsAndStaleSession(t *testing.T) {
	st, acc := newStore(t)
	var mu sync.Mutex
	delivered := 0
	raw := startRawSMTP(t, []string{"PIPELINING"}, func(s *rawSession) error {
		for {
			l, err := s.line()
			if err != nil {
				return nil // the client went away
			}
			switch {
			case l == "RSET":
				s.say("250 2.0.0 ok")
			case l == "QUIT":
				s.say("221 bye")
				return nil
			case strings.HasPrefix(l, "MAIL FROM:"):
				rcpt, err := s.expect("RCPT TO:")
				if err != nil {
					return err
				}
				if _, err := s.expect("DATA"); err != nil {
					return err
				}
				switch {
				case strings.Contains(rcpt, "later@"):
					s.say("451 4.3.2 not now", "503 5.5.1 no MAIL", "503 5.5.1 no RCPT")
				case strings.Contains(rcpt, "refused@"):
					// Misbehaving: 354 with no recipient.
					s.say("250 ok", "550 5.1.1 unknown", "354 go ahead")
					if _, err := s.expect("."); err != nil {
						return fmt.Errorf("after 354 with no recipient: %w", err)
					}
					s.say("554 5.5.1 no valid recipients")
				case strings.Contains(rcpt, "idle@"):
					s.say("250 ok", "250 ok", "354 go ahead")
					if _, err := s.data(); err != nil {
						return err
					}
					s.say("250 2.0.0 ok")
					mu.Lock()
					delivered++
					mu.Unlock()
					// Closed while idle in the client's pool, as a
					// server's idle timeout does.
					return nil
				default:
					s.say("250 ok", "250 ok", "354 go ahead")
					if _, err := s.data(); err != nil {
						return err
					}
					s.say("250 2.0.0 ok")
					mu.Lock()
					delivered++
					mu.Unlock()
				}
			default:
				return fmt.Errorf("unexpected %q", l)
			}
		}
	})
	clk := clocktest.New(t0)
	w := relayWorker(t, st, raw.port, clk.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One pass per step, over sessions kept in the pool between them.
	step := func(id, rcpt string) {
		t.Helper()
		enqueue(t, st, acc, clk.Now(), id, rcpt)
		var wg sync.WaitGroup
		n, err := w.pass(ctx, 10, &wg)
		wg.Wait()
		if err != nil || n != 1 {
			t.Fatalf("pass for %s: %d %v", id, n, err)
		}
	}
	step("s1", "later@remote.test")
	step("s2", "refused@remote.test")
	step("s3", "ok@remote.test")
	step("s4", "idle@remote.test")
	step("s5", "ok2@remote.test") // on a new session: the pooled one was closed
	w.pool.closeAll()
	raw.check(t)

	lines := raw.lines()
	var c1 []string
	for _, l := range lines {
		if strings.HasPrefix(l, "C1: ") {
			c1 = append(c1, strings.TrimPrefix(l, "C1: "))
		}
	}
	// Session 1: the refused MAIL, then RSET before each later MAIL.
	want := []string{"MAIL FROM:<alice@example.org> BODY=8BITMIME", "RCPT TO:<later@remote.test>", "DATA",
		"RSET", "MAIL FROM:<alice@example.org> BODY=8BITMIME", "RCPT TO:<refused@remote.test>", "DATA", ".",
		"RSET", "MAIL FROM:<alice@example.org> BODY=8BITMIME", "RCPT TO:<ok@remote.test>", "DATA"}
	var cmds []string
	for _, l := range c1 {
		if !strings.HasPrefix(l, "EHLO") {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) < len(want) || strings.Join(cmds[:len(want)], "|") != strings.Join(want, "|") {
		t.Errorf("session 1 commands\n%s\nwant them to start\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
	if q := queued(t, st); len(q) != 1 || q[0].Rcpt != "later@remote.test" || !strings.Contains(q[0].LastError, "451 4.3.2 not now") {
		t.Errorf("queue after the passes: %+v, want later@ deferred", q)
	}
	if b := events(t, st, msglog.Bounced); len(b) != 1 || b[0].Rcpt != "refused@remote.test" {
		t.Errorf("bounced %+v", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if delivered != 3 {
		t.Errorf("%d delivered, want 3 (ok, idle, ok2)", delivered)
	}
	if d := events(t, st, msglog.Deferred); len(d) != 1 {
		t.Errorf("deferred events %+v: only later@ must be deferred, not the message after the closed session", d)
	}
}

// TestWireQuickReply checks that the quick path of wire.reply, for the
// usual one-line answer, reads what textproto reads: the same text and
// error for each reply, and the reply after it left in place.
func TestWireQuickReply(t *testing.T) {
	for _, tc := range []struct {
		in     string
		expect int
	}{
		{"250 2.0.0 ok\r\n", 250},
		{"250 2.1.5 ok\r\n", 25},
		{"251 will forward\r\n", 25},
		{"354 go on\r\n", 354},
		{"250 \r\n", 250},
		{"250 no cr\n", 250},
		{"250\r\n", 250},
		{"250-first\r\n250 second\r\n", 250},
		{"550 5.1.1 no such user\r\n", 25},
		{"421 4.3.2 closing\r\n", 250},
		{"452 4.5.3 too many\r\n", 25},
		{"2500 odd\r\n", 250},
		{"+50 odd\r\n", 250},
		{"099 low\r\n", 250},
		{"250 partial", 250},
		{"", 250},
	} {
		const next = "220 next\r\n"
		// Whole in the buffer, and a byte at a time, which leaves the
		// line unfinished there (ReadResponse's path).
		for _, src := range []func(string) io.Reader{
			func(s string) io.Reader { return strings.NewReader(s) },
			func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		} {
			quick := &wire{r: textproto.NewReader(bufio.NewReader(src(tc.in + next)))}
			slow := textproto.NewReader(bufio.NewReader(src(tc.in + next)))
			msg, err := quick.reply(tc.expect)
			_, wantMsg, wantErr := slow.ReadResponse(tc.expect)
			wantErr = sessionErr(smtpErr(wantErr, wantMsg))
			if msg != wantMsg || fmt.Sprint(err) != fmt.Sprint(wantErr) || fmt.Sprintf("%T", err) != fmt.Sprintf("%T", wantErr) {
				t.Errorf("%q expecting %d: got %q, %v (%T); textproto %q, %v (%T)", tc.in, tc.expect, msg, err, err, wantMsg, wantErr, wantErr)
			}
			if !strings.HasSuffix(tc.in, "\n") || wantErr != nil && !isSMTP(wantErr) && !errors.As(wantErr, new(*closedError)) {
				continue // no reply of its own, or a broken one: what follows does not matter
			}
			if _, got, _ := quick.r.ReadResponse(220); got != "next" {
				t.Errorf("%q: the next reply reads %q after it", tc.in, got)
			}
		}
	}
}
