package queue

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
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
	cs := &countingStore{Store: st}
	w := New(Config{Hostname: "queue.example.org", Batch: 1000,
		Relay: &Relay{Host: "127.0.0.1", Port: sk.port, TLS: "none"}}, cs, nil, nil)
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU(b)
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
	cpu := processCPU(b) - cpu0
	if got := len(sk.received()); got != b.N {
		b.Fatalf("sink got %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
	// CPU of the whole test process (worker, store and the sink) per
	// message, and the store write requests (claims, settles, notices) per
	// message: what delivery costs the machine, whatever else runs on it.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(float64(cs.writes.Load())/float64(b.N), "writes/msg")
}

// countingStore counts the queue's store write requests.
type countingStore struct {
	Store
	writes atomic.Int64
}

func (c *countingStore) ClaimQueue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.QueueEntry, error) {
	c.writes.Add(1)
	return c.Store.ClaimQueue(ctx, now, lease, limit)
}

func (c *countingStore) SettleQueue(ctx context.Context, settles []store.QueueSettle, events ...store.LogEvent) error {
	c.writes.Add(1)
	return c.Store.SettleQueue(ctx, settles, events...)
}

func (c *countingStore) SettleQueueFrom(ctx context.Context, take func() ([]store.QueueSettle, []store.LogEvent)) error {
	c.writes.Add(1)
	return c.Store.(settlerFrom).SettleQueueFrom(ctx, take)
}

func (c *countingStore) Deliver(ctx context.Context, d *store.Delivery) ([]store.Delivered, error) {
	c.writes.Add(1)
	return c.Store.Deliver(ctx, d)
}

// processCPU is the user and system CPU time of this process so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
