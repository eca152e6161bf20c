package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/tlsutil"
)

// holdSink is the relay of the kill -9 test: a go-smtp server that counts
// what it took by "Message-ID recipient". Once held, it answers no more
// messages (it reads them, then waits, then refuses), so that at the
// moment of the kill no 250 of the relay is on its way to the queue: the
// window no sender can close (RFC 1047), which would make a resend after
// the restart look like a bug.
type holdSink struct {
	ln   net.Listener
	srv  *smtp.Server
	hold atomic.Bool

	mu   sync.Mutex
	took map[string]int
}

func startHoldSink(t *testing.T) *holdSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &holdSink{ln: ln, took: map[string]int{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = time.Minute
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *holdSink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *holdSink) stop()   { s.hold.Store(true) }
func (s *holdSink) resume() { s.hold.Store(false) }

func (s *holdSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.took {
		out[k] = v
	}
	return out
}

func (s *holdSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &holdSession{s: s}, nil }

type holdSession struct {
	s     *holdSink
	rcpts []string
}

func (h *holdSession) Mail(string, *smtp.MailOptions) error { return nil }
func (h *holdSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	h.rcpts = append(h.rcpts, strings.ToLower(to))
	return nil
}
func (h *holdSession) Reset()        { h.rcpts = nil }
func (h *holdSession) Logout() error { return nil }

func (h *holdSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if h.s.hold.Load() {
		time.Sleep(time.Minute) // the kill ends the session first
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "held"}
	}
	mid := headerMessageID(b)
	h.s.mu.Lock()
	for _, r := range h.rcpts {
		h.s.took[mid+" "+r]++
	}
	h.s.mu.Unlock()
	return nil
}

func headerMessageID(b []byte) string {
	hdr, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	for _, l := range strings.Split(string(hdr), "\r\n") {
		if v, ok := strings.CutPrefix(l, "Message-ID:"); ok {
			return strings.Trim(strings.TrimSpace(v), "<>")
		}
	}
	return ""
}

// k9msg is one message of the kill -9 test and what became of it.
type k9msg struct {
	from, mid string
	local     []string // protected recipients (INBOX copies; relayed too)
	remote    []string
	capture   bool // sent to the capture port, not submitted
	acked     bool
}

// TestKill9MidSubmission: kill -9 of the real `xtramail serve` while
// dozens of submissions (587 and 465) and captures are in flight, then a
// restart. Every message that got 250 is there whole: its Sent copy, its
// protected recipients' INBOX copies, and for each recipient either a
// queue entry still to send or one delivery at the relay, never both and
// never two. A message that did not get 250 is there whole or not at all
// (never a Sent copy without its queue entries, or the reverse).
// XTRAMAIL_STRESS=1 runs it with more sessions; the seed is logged.
func TestKill9MidSubmission(t *testing.T) {
	sessions, captures := 16, 4
	if os.Getenv("XTRAMAIL_STRESS") != "" {
		sessions, captures = 48, 12
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("XTRAMAIL_STRESS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (XTRAMAIL_STRESS_SEED replays the plan); %d submission and %d capture sessions", seed, sessions, captures)
	rnd := rand.New(rand.NewPCG(seed, seed))

	const pw = "Kill9-stress-pass-2026"
	users := []string{"alice@example.test", "bob@example.test", "dave@example.test"}
	data := t.TempDir()
	cliProc(t, data, "", "domain", "add", "example.test")
	for _, u := range users {
		cliProc(t, data, pw+"\n", "user", "add", u, "--password-stdin")
	}
	sk := startHoldSink(t)
	sub, subs := freePort(t), freePort(t)
	cfg := fmt.Sprintf("[submission]\nlisten = %q\nlisten_tls = %q\nmax_per_hour = 0\n[queue]\nmode = \"relay\"\nrelay_host = \"127.0.0.1\"\nrelay_port = %d\nrelay_tls = \"none\"\n",
		sub, subs, sk.port())
	srv := startServerConfig(t, data, cfg)
	tlsCfg := clientTLS(t, data)

	var mu sync.Mutex
	var all []*k9msg
	stop := make(chan struct{})
	var wg sync.WaitGroup
	body := func(m *k9msg, size int) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: <%s>\r\nTo: %s\r\nSubject: k9 %s\r\nMessage-ID: <%s>\r\nDate: Sun, 06 Dec 2026 21:00:00 +0000\r\n\r\n",
			m.from, strings.Join(append(append([]string(nil), m.local...), m.remote...), ", "), m.mid, m.mid)
		for b.Len() < size {
			b.WriteString("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n")
		}
		return b.Bytes()
	}
	// Plans from the seed, before any goroutine.
	type worker struct {
		user     string
		implicit bool
		capture  bool
		sizes    []int
		rcptBits []int
	}
	var workers []worker
	for i := range sessions + captures {
		w := worker{user: users[rnd.IntN(len(users))], implicit: rnd.IntN(2) == 0, capture: i >= sessions}
		for range 200 {
			w.sizes = append(w.sizes, 500+rnd.IntN(300<<10))
			w.rcptBits = append(w.rcptBits, 1+rnd.IntN(31))
		}
		workers = append(workers, w)
	}
	remotes := []string{"r1@far.test", "r2@far.test", "r3@other.test"}
	for i, w := range workers {
		wg.Go(func() {
			var c *smtp.Client
			var err error
			switch {
			case w.capture:
				c, err = smtp.Dial(srv.addr)
			case w.implicit:
				c, err = smtp.DialTLS(subs, tlsCfg)
			default:
				c, err = smtp.DialStartTLS(sub, tlsCfg)
			}
			if err != nil {
				return
			}
			defer c.Close()
			if !w.capture {
				if err := c.Auth(sasl.NewPlainClient("", w.user, pw)); err != nil {
					return
				}
			}
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				m := &k9msg{from: w.user, mid: fmt.Sprintf("k9-%d-%d@stress.test", i, j), capture: w.capture}
				if w.capture {
					m.from = "someone@outside.test"
				}
				bits := w.rcptBits[j%len(w.rcptBits)]
				for k, u := range users {
					if u != m.from && bits&(1<<k) != 0 {
						m.local = append(m.local, u)
					}
				}
				if !w.capture {
					for k, r := range remotes {
						if bits&(8<<k) != 0 {
							m.remote = append(m.remote, r)
						}
					}
				}
				if len(m.local)+len(m.remote) == 0 {
					m.local = append(m.local, users[0])
					if m.from == users[0] {
						m.local[0] = users[1]
					}
				}
				mu.Lock()
				all = append(all, m)
				mu.Unlock()
				err := c.SendMail(m.from, append(append([]string(nil), m.local...), m.remote...),
					bytes.NewReader(body(m, w.sizes[j%len(w.sizes)])))
				if err != nil {
					return // the server died mid-transaction: not acknowledged
				}
				mu.Lock()
				m.acked = true
				mu.Unlock()
			}
		})
	}
	ackedSoFar := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, m := range all {
			if m.acked {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); ackedSoFar() < 6*(sessions+captures) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// The relay stops answering, and every 250 it gave is settled in the
	// store before the kill: what the queue sent is then known.
	sk.stop()
	st := openStore(t, data)
	ctx := context.Background()
	// pending counts the queue entries by "Message-ID recipient"; leased
	// are those an attempt holds.
	pending := func() (out map[string]int, leased int) {
		out = map[string]int{}
		for _, u := range users {
			a, err := st.Account(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			es, err := st.QueueEntries(ctx, store.QueueQuery{AccountID: a.ID, Limit: 100000})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				out[e.MessageID+" "+e.Rcpt]++
				if e.LeaseUntil.After(time.Now()) {
					leased++
				}
			}
		}
		return out, leased
	}
	for deadline := time.Now().Add(time.Minute); ; {
		p, _ := pending()
		took := sk.counts()
		settled := true
		for k := range took {
			if p[k] > 0 {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay's 250s were not settled in a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.exited
	close(stop)
	wg.Wait()

	// After the restart the relay answers again, and everything queued
	// is delivered, what the killed process had claimed too: the new
	// process ends the leases it left (they lasted 15 minutes).
	_, leased := pending()
	srv = startServerConfig(t, data, cfg)
	sk.resume()
	var p map[string]int
	for deadline := time.Now().Add(time.Minute); ; {
		var n int
		p, _ = pending()
		for _, c := range p {
			n += c
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, %d queue entries are not delivered (%d were leased by the killed process)", n, leased)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := sk.counts()
	copies := map[string]int{} // "address/mailbox Message-ID" → live copies
	for _, u := range users {
		a, err := st.Account(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, mbName := range []string{store.Inbox, store.Sent} {
			mb, err := st.Mailbox(ctx, a.ID, mbName)
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := st.Messages(ctx, a.ID, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				copies[u+"/"+mbName+" "+m.MessageID]++
			}
		}
	}
	acked, whole, absent := 0, 0, 0
	for _, m := range all {
		// What of m is there: each part counted, then checked for all or
		// nothing (and for all when it was acknowledged).
		var parts, there []string
		add := func(what string, n int) {
			parts = append(parts, what)
			if n > 1 {
				t.Errorf("%s: %s %d times", m.mid, what, n)
			}
			if n > 0 {
				there = append(there, what)
			}
		}
		if !m.capture {
			add("Sent copy", copies[m.from+"/"+store.Sent+" "+m.mid])
		}
		for _, l := range m.local {
			add(l+" INBOX copy", copies[l+"/"+store.Inbox+" "+m.mid])
		}
		if !m.capture {
			for _, r := range append(append([]string(nil), m.local...), m.remote...) {
				k := m.mid + " " + r
				if p[k] > 0 && took[k] > 0 {
					t.Errorf("%s: to %s both delivered and still queued", m.mid, r)
				}
				add("to "+r+" (queued or delivered)", p[k]+took[k])
			}
		}
		switch {
		case m.acked:
			acked++
			if len(there) != len(parts) {
				t.Errorf("%s was acknowledged, but only %v of %v is there after kill -9", m.mid, there, parts)
			}
		case len(there) == len(parts):
			whole++
		case len(there) == 0:
			absent++
		default:
			t.Errorf("%s was not acknowledged and is half there: %v of %v", m.mid, there, parts)
		}
	}
	t.Logf("%d messages acknowledged before kill -9, all there; of the %d in flight, %d whole and %d absent; "+
		"after the restart, %d deliveries at the relay, %d of them leased by the killed process",
		acked, len(all)-acked, whole, absent, len(took), leased)
	if acked == 0 {
		t.Fatalf("nothing acknowledged before the kill: %s", srv.stderr)
	}
	srv.stop(t)
}

// clientTLS trusts the self-signed certificate of the server on data,
// which it writes as its listeners start.
func clientTLS(t *testing.T, data string) *tls.Config {
	t.Helper()
	roots := x509.NewCertPool()
	for deadline := time.Now().Add(20 * time.Second); ; {
		pem, err := os.ReadFile(filepath.Join(data, tlsutil.SelfSignedCertFile))
		if err == nil && roots.AppendCertsFromPEM(pem) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server's certificate: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &tls.Config{RootCAs: roots, ServerName: "localhost"}
}
