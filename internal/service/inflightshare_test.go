package service

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/auth"
)

// smtpConn is a raw SMTP session over implicit TLS (port 465 style), to
// send BDAT chunks and read each answer.
type smtpConn struct {
	t  *testing.T
	nc net.Conn
	tp *textproto.Conn
}

func dialSubmissions(t *testing.T, svc *Service, user, password string) *smtpConn {
	t.Helper()
	nc, err := tls.Dial("tcp", svc.SubmissionsAddr.String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &smtpConn{t: t, nc: nc, tp: textproto.NewConn(nc)}
	t.Cleanup(func() { nc.Close() })
	c.expect(220, "")
	c.cmd(250, "EHLO client.test")
	c.cmd(235, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)))
	return c
}

// cmd sends a command and checks the answer's code.
func (c *smtpConn) cmd(code int, line string) string {
	c.t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
	return c.expect(code, line)
}

func (c *smtpConn) expect(code int, what string) string {
	c.t.Helper()
	_, msg, err := c.tp.ReadResponse(code)
	if err != nil {
		c.t.Fatalf("%.40s: %v", what, err)
	}
	return msg
}

// bdat sends one chunk and returns the answer: code and text.
func (c *smtpConn) bdat(chunk []byte, last bool) string {
	c.t.Helper()
	cmd := fmt.Sprintf("BDAT %d", len(chunk))
	if last {
		cmd += " LAST"
	}
	if _, err := io.WriteString(c.nc, cmd+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.nc.Write(chunk); err != nil {
		c.t.Fatal(err)
	}
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatal(err)
	}
	return fmt.Sprintf("%d %s", code, msg)
}

// bigMessage is a message from from of about size bytes, header and all.
func bigMessage(from, id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: carol@far.test\r\nSubject: big\r\nMessage-ID: <%s@example.test>\r\nDate: Mon, 07 Dec 2026 08:00:00 +0000\r\n\r\n", from, id)
	line := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", 3)[:76] + "\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// captureCopy sends a copy in plain SMTP, as an upstream on the allow-list.
func captureCopy(svc *Service, from, to string, msg []byte) error {
	c, err := smtp.Dial(svc.CaptureAddr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

// syncBuffer is a log the service writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOneAccountCannotHoldTheInflightBudget: with the
// probe's budget of 60 MiB, one signed-in account whose connections
// each send 6 MiB of a message and then stall (never its last BDAT)
// holds at most its share of the budget, whatever the number of its
// connections. Another account's submission and a capture copy of 5 MB
// are answered 250 meanwhile; the account's connections past its share
// are answered 452 4.3.1 in words that say why, and the log names the
// account and its address. Once its sessions end, the budget holds
// nothing. Before, its connections filled the whole budget, and every
// other message was answered 452 4.3.1 for as long as they stalled.
func TestOneAccountCannotHoldTheInflightBudget(t *testing.T) {
	cfg := quietConfig(t)
	cfg.Hostname = "localhost"
	cfg.Capture.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.1/32"}
	cfg.Capture.MaxInflightBytes = 60 << 20
	cfg.Submission.ListenTLS = "127.0.0.1:0"
	logs := &syncBuffer{}
	svc, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Logf("shutdown: %v", err)
		}
	})
	ctx := context.Background()
	if _, err := svc.Store.CreateDomain(ctx, "example.test", 0); err != nil {
		t.Fatal(err)
	}
	const alice, bob, password = "alice@example.test", "bob@example.test", "a password"
	hash, err := auth.HashParams(password, auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{alice, bob} {
		if _, err := svc.Store.CreateAccount(ctx, a, hash); err != nil {
			t.Fatal(err)
		}
	}
	budget := svc.inflight
	share := budget.Share()
	// The share is what the largest message (submission's and IMAP's
	// 50 MiB) needs, a little more: 10 of 60 MiB are left to everyone
	// else.
	if share < cfg.Submission.MaxMessageBytes || share > 52<<20 {
		t.Fatalf("share %d of %d", share, cfg.Capture.MaxInflightBytes)
	}

	// Alice's connections, one after another, each send 6 MiB and a
	// byte more and stall: 11 of them are 66 MiB, more than the budget.
	// The answer to the byte more says the server read what came before.
	const each = 6 << 20
	var conns []*smtpConn
	var held, over []*smtpConn
	for i := range 11 {
		c := dialSubmissions(t, svc, alice, password)
		c.cmd(250, "MAIL FROM:<"+alice+">")
		c.cmd(250, "RCPT TO:<carol@far.test>")
		if got := c.bdat(bigMessage(alice, fmt.Sprint("stall", i), each), false); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("connection %d, first chunk: %s", i, got)
		}
		if got := c.bdat([]byte("x"), false); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("connection %d, second chunk: %s", i, got)
		}
		conns = append(conns, c)
		if int64(len(held)+1)*(each+1) <= share {
			held = append(held, c)
		} else {
			over = append(over, c)
		}
	}
	// Each message is a line short of 6 MiB at most.
	if h := budget.HeldBy(alice); h > share || h < int64(len(held))*(each-80) {
		t.Fatalf("alice holds %d of the budget, want %d connections' worth, at most her share %d", h, len(held), share)
	}
	t.Logf("alice's %d connections hold %d bytes, her share is %d, the budget %d", len(held), budget.HeldBy(alice), share, budget.Used())

	// Bob submits a 5 MB message meanwhile.
	b := dialSubmissions(t, svc, bob, password)
	b.cmd(250, "MAIL FROM:<"+bob+">")
	b.cmd(250, "RCPT TO:<carol@far.test>")
	if got := b.bdat(bigMessage(bob, "bob", 5e6), true); !strings.HasPrefix(got, "250 ") {
		t.Errorf("bob's submission while alice stalls: %s, want 250", got)
	}
	// And capture takes a 5 MB copy for him.
	if err := captureCopy(svc, "someone@outside.test", bob, bigMessage("someone@outside.test", "copy", 5e6)); err != nil {
		t.Errorf("capture copy while alice stalls: %v, want 250", err)
	}

	// Alice's connections past her share end their messages: each is
	// told to try later, because of her own messages.
	for i, c := range over {
		if got := c.bdat(nil, true); !strings.HasPrefix(got, "452 4.3.1 ") || !strings.Contains(got, "your messages") {
			t.Errorf("alice's connection %d over her share: %s, want 452 4.3.1 naming her messages in flight", len(held)+i, got)
		}
	}
	if len(over) == 0 {
		t.Fatal("no connection of alice's went over her share")
	}
	l := logs.String()
	refusal := "the account's share of the in-flight budget is taken"
	if n := strings.Count(l, refusal); n != len(over) {
		t.Errorf("%d log lines of the refusal, want %d", n, len(over))
	}
	for line := range strings.Lines(l) {
		if strings.Contains(line, refusal) && (!strings.Contains(line, "account="+alice) || !strings.Contains(line, "remote=127.0.0.1")) {
			t.Errorf("the refusal does not name the account and its address: %s", line)
		}
	}

	// Her sessions end: the budget holds nothing.
	for _, c := range conns {
		c.nc.Close()
	}
	deadline := time.Now().Add(time.Minute)
	for budget.Used() != 0 || budget.HeldBy(alice) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after every session ended the budget holds %d, alice %d", budget.Used(), budget.HeldBy(alice))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
