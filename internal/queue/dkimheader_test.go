package queue

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

// TestHugeHeaderSentUnsigned (class: the signer was handed a header of
// any size, and go-msgauth's takes time quadratic in a field's folded
// lines: 1 MiB took 4 s, ~50 MB hours, on every attempt, and shutdown
// waited for it): a message from a signing domain whose header has 4-5
// MiB of folded continuation lines (random shape, seed logged), as a
// captured message redelivered may, is delivered unsigned, with a
// warning logged; a small one from the same sender is delivered signed
// and verifies.
func TestHugeHeaderSentUnsigned(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 3))
	st, acc := newStore(t)
	ctx := context.Background()
	key, err := xdkim.GenerateKey("ed25519", "sel", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetDKIMKey(ctx, "example.org", key); err != nil {
		t.Fatal(err)
	}
	record, _ := xdkim.Record(key)
	sk := startSinkWith(t, nil, false, nil)
	var mu sync.Mutex
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logged}, nil))
	w := New(Config{Hostname: "queue.example.org", Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"},
		Now: func() time.Time { return t0 }, Rand: func() float64 { return 0.5 }}, st, log, nil)

	line := []string{" folded continuation line\r\n", " x\r\n", "\t" + strings.Repeat("y", 70) + "\r\n"}[rnd.IntN(3)]
	size := 4<<20 + rnd.IntN(1<<20)
	fields := "X-Big: a\r\n" + strings.Repeat(line, size/len(line))
	if rnd.IntN(2) == 0 {
		// Among the signed fields.
		fields = "Subject: big\r\n" + strings.Repeat(line, size/len(line))
	}
	big := []byte("From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n" + fields +
		"Message-ID: <big@example.org>\r\n\r\nHello.\r\n")
	t.Logf("a header of %d octets: %q lines", len(big), line)
	d := store.NewDelivery(big, t0)
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@example.net"}, d.Info, d.Size, t0)
	if _, err := st.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	enqueue(t, st, acc, t0, "small", "bob@example.net")
	runOnce(t, w)
	if q := queued(t, st); len(q) != 0 {
		t.Fatalf("still queued: %+v", q)
	}
	got := sk.received()
	if len(got) != 2 {
		t.Fatalf("the relay got %d messages, want 2", len(got))
	}
	for _, m := range got {
		signed := bytes.HasPrefix(m.data, []byte("Received: ")) && bytes.Contains(m.data[:min(len(m.data), 4096)], []byte("\r\nDKIM-Signature:"))
		if bytes.Contains(m.data, []byte("<big@example.org>")) {
			if signed || !bytes.Contains(m.data, big) {
				t.Errorf("the message with the big header arrived signed %t, whole %t", signed, bytes.Contains(m.data, big))
			}
			continue
		}
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.data), &dkim.VerifyOptions{LookupTXT: func(string) ([]string, error) {
			return []string{record}, nil
		}})
		if !signed || err != nil || len(vs) != 1 || vs[0].Err != nil {
			t.Errorf("the small message: signed %t, verification %v %+v", signed, err, vs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "message sent without DKIM signature") || !strings.Contains(logged.String(), "big@example.org") {
		t.Errorf("no warning logged:\n%s", logged.String())
	}
}
