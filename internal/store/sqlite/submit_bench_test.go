package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkSubmitPath is the store's part of one submitted message, as
// `xtramail-bench submit` drives it (issue 13, speed): 8 senders each
// store a 10 KiB message's Sent copy, one queue entry and the submitted,
// stored and queued log records in one DeliverAll, under the default
// hourly limit (a sends row); one queue worker claims what is due and
// settles it delivered with its log record. Reports messages/s and the
// process's CPU time per message (user + system, fsync on), the figure
// that stays comparable on a loaded machine.
//
// Run twice: on this machine's disk, and with every WAL fsync lasting at
// least 2 ms (Options.SyncDelay), as on a disk whose cache is not
// protected by a capacitor, where how many commits share one fsync
// matters most. commits/msg counts the group transactions per message.
func BenchmarkSubmitPath(b *testing.B) {
	for _, c := range []struct {
		name  string
		delay time.Duration
	}{{"disk", 0}, {"fsync-2ms", 2 * time.Millisecond}} {
		b.Run(c.name, func(b *testing.B) {
			s := openWith(b, b.TempDir(), Options{SyncDelay: c.delay})
			b.Cleanup(func() { s.Close() })
			benchSubmitPath(b, s)
		})
	}
}

func benchSubmitPath(b *testing.B, s *Store) {
	ctx := context.Background()
	const senders = 8
	accts := users(b, s, senders)
	body := bytes.Repeat([]byte("continuity mailbox outage message retention capture office report\r\n"), 150)
	var seq atomic.Int64
	var done atomic.Bool
	var settled atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the queue worker
		defer wg.Done()
		for {
			es, err := s.ClaimQueue(ctx, time.Now(), time.Minute, 100)
			if err != nil {
				b.Error(err)
				return
			}
			if len(es) == 0 {
				if done.Load() {
					return
				}
				time.Sleep(time.Millisecond)
				continue
			}
			for _, e := range es {
				ev := store.LogEvent{Time: time.Now(), Status: msglog.Delivered, MessageID: e.MessageID, Subject: e.Subject,
					MailFrom: e.MailFrom, Rcpt: e.Rcpt, DomainID: e.DomainID, Detail: "250 2.0.0 ok"}
				if err := s.SettleQueue(ctx, []store.QueueSettle{{ID: e.ID, Outcome: store.QueueDelivered}}, ev); err != nil {
					b.Error(err)
					return
				}
				settled.Add(1)
			}
		}
	}()
	cpu0, w0, c0 := cpuTime(), writtenBytes(), s.commits.Load()
	b.ResetTimer()
	var sw sync.WaitGroup
	per := (b.N + senders - 1) / senders
	for i := range senders {
		sw.Add(1)
		go func() {
			defer sw.Done()
			a := accts[i]
			for range per {
				n := seq.Add(1)
				rcpt := fmt.Sprintf("r%d@remote.test", n)
				raw := append([]byte(fmt.Sprintf("From: %s\r\nSubject: load test %s\r\nMessage-ID: <%d@x>\r\n\r\n", a.Address, rcpt, n)), body...)
				now := time.Now()
				d := store.NewDelivery(raw, now)
				base := msglog.Message(now, d.Info, a.Address, d.Size, "127.0.0.1")
				d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen,
					Event: msglog.With(base, msglog.Stored, a.Address, accts[0].DomainID, store.Sent)}}
				d.Outbound = []store.Outbound{{AccountID: a.ID, MailFrom: a.Address, Rcpt: rcpt}}
				d.Events = []store.LogEvent{msglog.With(base, msglog.Submitted, rcpt, accts[0].DomainID, "for 1 recipient(s)"),
					msglog.With(base, msglog.Queued, rcpt, accts[0].DomainID, "")}
				d.DuplicateStatus = msglog.Duplicate
				d.Limit = &store.SendLimit{AccountID: a.ID, Max: 1 << 30, Window: time.Hour}
				if _, err := s.DeliverAll(ctx, d); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	sw.Wait()
	done.Store(true)
	wg.Wait()
	b.StopTimer()
	n := seq.Load()
	if settled.Load() != n {
		b.Fatalf("settled %d of %d", settled.Load(), n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/msg")
	// Bytes handed to write(2): the bodies, the WAL frames (a page each,
	// the fixed part of a commit's cost) and checkpoints. It varies far
	// less with the machine's load than CPU time does.
	b.ReportMetric(float64(writtenBytes()-w0)/1024/float64(n), "written-KiB/msg")
	b.ReportMetric(float64(s.commits.Load()-c0)/float64(n), "commits/msg")
}

// writtenBytes is what the process has handed to write(2) so far
// (/proc/self/io wchar), 0 where that is not readable.
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
