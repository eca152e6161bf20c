package queue

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

// BenchmarkDeliverDomain is the worker's own share of relaying one
// message, as under a steady trickle of submissions: a pass with one
// 10 KiB message to one recipient, over a pooled pipelining session with
// a server that answers at once. The store keeps the body in memory and
// settles nothing, so that ns/op, B/op and allocs/op are the worker's
// (and the small server's, which allocates nothing per message).
func BenchmarkDeliverDomain(b *testing.B) {
	body := rawMessage("bench", "bench", "r@d.test")
	body = bytes.Replace(body, []byte("Hello,"),
		[]byte(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/\r\n", 10240/66)), 1)
	st := &memStore{body: body}
	port := startQuickSink(b)
	w := New(Config{Hostname: "queue.example.org", IdleConn: time.Minute,
		Relay: &Relay{Host: "127.0.0.1", Port: port, TLS: "none"}}, st, nil, nil)
	defer w.pool.closeAll()
	ctx := context.Background()
	now := time.Now()
	e := store.QueueEntry{ID: 1, AccountID: 1, DomainID: 1, BodyID: 1, MailFrom: "alice@example.org", Rcpt: "r@d.test",
		RcptDomain: "d.test", MessageID: "bench@example.org", Subject: "bench", Size: int64(len(body)),
		Queued: now, NextAttempt: now, LeaseUntil: now.Add(time.Hour)}
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		if cpu == 0 {
			cpu = processCPU(b) // the session is open: from the second message on
		}
		w.deliverDomain(ctx, "(relay)", []*outMsg{{entries: []store.QueueEntry{e}}})
	}
	// ns/op is mostly the round trips; CPU per message is what the
	// worker (and the sink) cost the machine, however loaded it is.
	b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if st.settled.Load() != int64(b.N) || st.failed.Load() != 0 {
		b.Fatalf("settled %d of %d, %d not delivered", st.settled.Load(), b.N, st.failed.Load())
	}
}

// memStore is a Store with one body in memory, one DKIM key for every
// domain (none when its Selector is empty), and settles that are only
// counted.
type memStore struct {
	Store
	body            []byte
	key             store.DKIMKey
	settled, failed atomic.Int64
}

func (s *memStore) OpenQueuedBody(context.Context, store.QueueEntry) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.body)), nil
}

func (s *memStore) DKIMKey(context.Context, string) (store.DKIMKey, error) {
	if s.key.Selector == "" {
		return store.DKIMKey{}, store.ErrNotFound
	}
	return s.key, nil
}

func (s *memStore) SettleQueue(_ context.Context, settles []store.QueueSettle, _ ...store.LogEvent) error {
	for _, st := range settles {
		s.settled.Add(1)
		if st.Outcome != store.QueueDelivered {
			s.failed.Add(1)
		}
	}
	return nil
}

// startQuickSink serves SMTP on a local port as a fast relay would:
// PIPELINING, 8BITMIME and SIZE announced, every command accepted, the
// replies to a pipelined group written together, nothing allocated per
// message.
func startQuickSink(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go quickSession(nc)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func quickSession(nc net.Conn) {
	defer nc.Close()
	r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
	w.WriteString("220 sink ESMTP\r\n")
	w.Flush()
	data := false
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case data:
			if string(line) == ".\r\n" {
				data = false
				w.WriteString("250 2.0.0 queued\r\n")
			}
		case len(line) < 4:
			w.WriteString("500 5.5.2 what\r\n")
		case strings.EqualFold(string(line[:4]), "EHLO"):
			w.WriteString("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 10000000\r\n")
		case strings.EqualFold(string(line[:4]), "DATA"):
			data = true
			w.WriteString("354 go on\r\n")
		case strings.EqualFold(string(line[:4]), "QUIT"):
			w.WriteString("221 2.0.0 bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("250 2.0.0 ok\r\n")
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}
