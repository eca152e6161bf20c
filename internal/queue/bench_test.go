package queue

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkRelayDelivery delivers 10 KiB messages, one recipient each,
// spread over 8 recipient domains, through relay mode to a local go-smtp
// sink: each message is read from the store, sent, and settled durably
// before the next on its connection. Reports delivered messages/s.
func BenchmarkRelayDelivery(b *testing.B) {
	st := openStore(b, b.TempDir())
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.org", 0); err != nil {
		b.Fatal(err)
	}
	acc, err := st.CreateAccount(ctx, "alice@example.org", "")
	if err != nil {
		b.Fatal(err)
	}
	sk := startSink(b, nil, false)
	body := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/\r\n", 10240/66)
	for i := 0; i < b.N; i++ {
		rcpt := fmt.Sprintf("r%d@d%d.test", i, i%8)
		raw := bytes.Replace(rawMessage(fmt.Sprintf("b%d", i), "bench", rcpt), []byte("Hello,"), []byte(body), 1)
		d := store.NewDelivery(raw, time.Now())
		d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent}}
		d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{rcpt}, d.Info, d.Size, time.Now())
		if _, err := st.Deliver(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	w := New(Config{Hostname: "queue.example.org", Batch: 1000,
		Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"}}, st, nil, nil)
	b.ResetTimer()
	start := time.Now()
	for {
		n, err := w.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	b.StopTimer()
	if got := len(sk.received()); got != b.N {
		b.Fatalf("sink got %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}
