package queue

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/xtramail/xtramail/internal/clocktest"
	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/queue/queuetest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestRelayThroughPostfix: relay mode with STARTTLS to a real Postfix,
// which passes the message on to a go-smtp sink; the DKIM signature made
// here still verifies after Postfix's handling.
func TestRelayThroughPostfix(t *testing.T) {
	st, acc, sk, w, record := postfixRelay(t)
	enqueue(t, st, acc, t0, "pf1", "bob@remote.test", "carol@far.test")
	if n := runOnce(t, w); n != 2 {
		t.Fatalf("took %d entries", n)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Fatalf("queue after relaying %+v; deferred %+v", q, events(t, st, msglog.Deferred))
	}
	ev := events(t, st, msglog.Delivered)
	if len(ev) != 2 || !strings.Contains(ev[0].Detail, "localhost[127.0.0.1]: 250") {
		t.Fatalf("delivered events %+v", ev)
	}
	// Postfix relays on its own time: wait for the sink, generously.
	var got []sunk
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = sk.received()
		n := 0
		for _, m := range got {
			n += len(m.rcpts)
		}
		if n >= 2 {
			break
		}
	}
	rcpts := map[string]bool{}
	for _, m := range got {
		if m.from != "alice@example.org" || !bytes.Contains(m.data, []byte("Message-ID: <pf1@example.org>")) {
			t.Fatalf("sink got %+v", m)
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.data), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
			return []string{record}, nil
		}})
		if err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Fatalf("dkim after postfix: %v %+v\n%s", err, vs, m.data)
		}
		for _, r := range m.rcpts {
			rcpts[r] = true
		}
	}
	if !rcpts["bob@remote.test"] || !rcpts["carol@far.test"] {
		t.Fatalf("postfix relayed to %v", rcpts)
	}
}

// postfixRelay is a store with alice@example.org, whose domain signs with
// an RSA key whose TXT record it returns, and a worker relaying with
// STARTTLS to a real Postfix, which passes what it gets on to sk.
func postfixRelay(t *testing.T) (st store.Store, acc store.Account, sk *sink, w *Worker, record string) {
	t.Helper()
	st, acc = newStore(t)
	sk = startSink(t, nil, false)
	port, roots := queuetest.StartPostfix(t, sk.port)
	key, err := xdkim.GenerateKey("rsa", "pf", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetDKIMKey(t.Context(), "example.org", key); err != nil {
		t.Fatal(err)
	}
	record, _ = xdkim.Record(key)
	w = New(Config{
		Hostname: "queue.example.org",
		Relay:    &Relay{Host: "localhost", Port: port, TLS: "starttls"},
		RootCAs:  roots,
		Now:      clocktest.New(t0).Now,
	}, st, nil, nil)
	return st, acc, sk, w, record
}

// TestPostfixMXRecipientLimit: Postfix as the MX of a domain, taking two
// recipients per transaction (smtpd_recipient_limit; it answers 452
// 4.5.3 "too many recipients" past it): a message to five recipients
// there is delivered to all five in one attempt, and Postfix passes all
// five on.
func TestPostfixMXRecipientLimit(t *testing.T) {
	s := newMX(t)
	port, _ := queuetest.StartPostfix(t, s.sink.port, "smtpd_recipient_limit = 2")
	s.dns.Add(t, "pf.test. 300 IN MX 10 mx.pf.test.", "mx.pf.test. 300 IN A 127.0.0.1")
	s.cfg.MXPort = port
	var rcpts []string
	for i := range 5 {
		rcpts = append(rcpts, fmt.Sprintf("r%d@pf.test", i))
	}
	enqueue(t, s.st, s.acc, t0, "m1", rcpts...)
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue after one attempt %+v", q)
	}
	if d := events(t, s.st, msglog.Delivered); len(d) != 5 {
		t.Fatalf("%d delivered events, want 5", len(d))
	}
	got := map[string]bool{}
	for deadline := time.Now().Add(90 * time.Second); len(got) < 5 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range s.sink.received() {
			for _, r := range m.rcpts {
				got[r] = true
			}
		}
	}
	if len(got) != 5 {
		t.Fatalf("postfix passed on %v, want all five", got)
	}
}
