package service

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/config"
	"github.com/xtramail/xtramail/internal/queue"
	"github.com/xtramail/xtramail/internal/store"
)

// relaySink is a go-smtp server that counts the recipients it accepted;
// refuse, when set, answers RCPT instead for the recipients it returns an
// error for.
type relaySink struct {
	mu     sync.Mutex
	rcpts  []string
	refuse func(rcpt string) error
}

func (r *relaySink) NewSession(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }

type relaySession struct {
	r     *relaySink
	rcpts []string
}

func (s *relaySession) Reset()                               { s.rcpts = nil }
func (s *relaySession) Logout() error                        { return nil }
func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.r.refuse != nil {
		if err := s.r.refuse(to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.rcpts = append(s.r.rcpts, s.rcpts...)
	s.r.mu.Unlock()
	return nil
}

func serviceConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.ApplyDev()
	cfg.Data = t.TempDir()
	cfg.Capture.Listen, cfg.IMAP.Listen, cfg.Metrics.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Submission.Listen, cfg.Submission.ListenTLS = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Capture.Allow = []string{"127.0.0.1"}
	return cfg
}

// TestQueueWorkerOnlyWithOutbound: with queue.mode hold nothing is sent
// out; with no [queue] section mail goes to each domain's MX (issue 13);
// in relay mode the service's worker delivers what is queued.
func TestQueueWorkerOnlyWithOutbound(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg := serviceConfig(t)
	cfg.Queue.Mode = "hold"
	held, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if held.Queue != nil {
		t.Fatal("queue worker built in hold mode")
	}
	held.Shutdown(context.Background())
	mx, err := New(serviceConfig(t), log)
	if err != nil {
		t.Fatal(err)
	}
	if mx.Queue == nil {
		t.Fatal("no queue worker without a [queue] section: submitted mail would never leave")
	}
	mx.Shutdown(context.Background())

	sink := &relaySink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	cfg = serviceConfig(t)
	cfg.Queue.Mode, cfg.Queue.RelayHost, cfg.Queue.RelayTLS = "relay", "127.0.0.1", "none"
	cfg.Queue.RelayPort = ln.Addr().(*net.TCPAddr).Port
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if s.Queue == nil {
		t.Fatal("no queue worker in relay mode")
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	if _, err := s.Store.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	acc, err := s.Store.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	d := store.NewDelivery([]byte("From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: hi\r\nMessage-ID: <w1@example.org>\r\n\r\nhi\r\n"), time.Now())
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent}}
	d.Outbound, d.Events = queue.Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@remote.test"}, d.Info, d.Size, time.Now())
	if _, err := s.Store.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	s.Queue.Wake()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sink.mu.Lock()
		n := len(sink.rcpts)
		sink.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay got %d recipients", n)
		}
	}
}
