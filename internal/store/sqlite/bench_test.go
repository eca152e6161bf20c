package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkDeliver measures durable ingest of 10 KiB messages from
// concurrent writers (as capture connections do), fsync on.
func BenchmarkDeliver(b *testing.B) {
	s := open(&testing.T{}, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	if _, err := s.CreateDomain(ctx, "example.test", 0); err != nil {
		b.Fatal(err)
	}
	a, err := s.CreateAccount(ctx, "bob@example.test", "")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("continuity mailbox outage message retention capture office report\r\n"), 150)
	var n atomic.Int64
	b.SetParallelism(4) // 8 writers on 2 cores
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			raw := append([]byte(fmt.Sprintf("Subject: m%d\r\nMessage-ID: <%d@x>\r\n\r\n", n.Add(1), n.Load())), body...)
			d := store.NewDelivery(raw, time.Now())
			d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
			d.Events = []store.LogEvent{{Status: store.LogStored, Rcpt: "bob@example.test"}}
			if _, err := s.Deliver(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
