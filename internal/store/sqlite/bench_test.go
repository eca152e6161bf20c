package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkDeliver measures durable ingest of 10 KiB messages from
// concurrent writers (as capture connections do), fsync on.
func BenchmarkDeliver(b *testing.B) {
	s := benchStore(b)
	a := bob(b, s)
	ctx := context.Background()
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
			d.Events = []store.LogEvent{{Status: msglog.Stored, Rcpt: "bob@example.test"}}
			if _, err := s.Deliver(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// bulkMailbox fills bob's INBOX with n messages sharing one body, one
// in deletedEvery marked \Deleted, straight in SQL: a large mailbox in a
// second, where Deliver would take minutes.
func bulkMailbox(tb testing.TB, s *Store, n, deletedEvery int) (accountID, mailboxID int64) {
	tb.Helper()
	ctx := context.Background()
	a := bob(tb, s)
	d := store.NewDelivery([]byte("Subject: x\r\n\r\nbody\r\n"), time.Now())
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
	dl, err := s.Deliver(ctx, d)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := s.Message(ctx, a.ID, dl[0].MessageID)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.writeAlone(ctx, func(t *tx) error {
		// Copies of the first message: its conversation.
		var key string
		var comp int64
		if err := t.QueryRow("SELECT thread, thread_comp FROM messages WHERE id = ?", m.ID).Scan(&key, &comp); err != nil {
			return err
		}
		for i := 2; i <= n; i++ {
			var f store.Flags
			if deletedEvery > 0 && i%deletedEvery == 0 {
				f = store.FlagDeleted
			}
			if _, err := t.Exec(insertMessage, nil, a.ID, a.DomainID, m.MailboxID, i, i, f, "", m.Received.UnixMilli(), m.Size, m.BodyID,
				"x", "", "", "", key, comp, 0); err != nil {
				return err
			}
		}
		_, err := t.Exec("UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = ? WHERE id = ?", n+1, n, n, m.MailboxID)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.ID, m.MailboxID
}

// BenchmarkExpungeDeleted measures an IMAP EXPUNGE on a 100,000-message
// mailbox with nothing to expunge, the common case: ExpungeDeleted tests
// \Deleted in the writer's transaction, so its cost holds up every other
// write.
func BenchmarkExpungeDeleted(b *testing.B) {
	s := benchStore(b)
	acct, mb := bulkMailbox(b, s, 100_000, 0)
	all := []store.UIDRange{{First: 1, Last: 100_000}}
	b.ResetTimer()
	for range b.N {
		if got, _, err := s.ExpungeDeleted(context.Background(), acct, mb, all); err != nil || len(got) != 0 {
			b.Fatal(got, err)
		}
	}
}

// BenchmarkSortRows measures what SORT and THREAD read of a
// 100,000-message mailbox: every message with its sort keys.
func BenchmarkSortRows(b *testing.B) {
	s := benchStore(b)
	acct, mb := bulkMailbox(b, s, 100_000, 0)
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		rows, err := s.SortRows(context.Background(), acct, mb, nil)
		if err != nil || len(rows) != 100_000 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's CPU time so far (user and system): on a
// machine shared with other work, the figure that wall time hides.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMessagesAll is what SORT read before the sort keys: every
// message row of a 100,000-message mailbox (and then each body's Info).
func BenchmarkMessagesAll(b *testing.B) {
	s := benchStore(b)
	acct, mb := bulkMailbox(b, s, 100_000, 0)
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		rows, err := s.MessagesByUID(context.Background(), acct, mb, nil)
		if err != nil || len(rows) != 100_000 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
