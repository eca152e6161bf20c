package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// BenchmarkAppendLog is the message log's part of a submitted message
// (issue 13, speed), apart from the rest of the delivery: the submitted,
// stored and queued events in one write, as DeliverAll makes them, and
// the delivered event in a write of its own, as the queue settles it;
// each write a commit of its own. cpu-µs/msg and written-KiB/msg (the
// WAL frames, a page each) are what the writer pays for the log per
// message.
func BenchmarkAppendLog(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const sender = "u1@example.test"
	write := func(i int) {
		now := time.Now()
		rcpt := fmt.Sprintf("r%d@remote.test", i)
		base := store.LogEvent{Time: now, MessageID: fmt.Sprintf("<%d.%d@example.test>", i, now.UnixNano()),
			Subject: "load test " + rcpt, MailFrom: sender, Size: 10 << 10, RemoteIP: "127.0.0.1"}
		if err := s.AppendLog(ctx, msglog.With(base, msglog.Submitted, rcpt, 1, "for 1 recipient(s)"),
			msglog.With(base, msglog.Stored, sender, 1, store.Sent), msglog.With(base, msglog.Queued, rcpt, 1, "")); err != nil {
			b.Fatal(err)
		}
		base.RemoteIP = ""
		if err := s.AppendLog(ctx, msglog.With(base, msglog.Delivered, rcpt, 1, "250 2.0.0 ok")); err != nil {
			b.Fatal(err)
		}
	}
	// A log of some size, so that its indexes are B-trees of some depth.
	for i := range 5000 {
		write(-i)
	}
	cpu0, w0 := cpuTime(), writtenBytes()
	b.ResetTimer()
	for i := range b.N {
		write(i)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(float64(writtenBytes()-w0)/1024/float64(b.N), "written-KiB/msg")
}

// BenchmarkAppendLogCPU is the CPU the writer spends in appendLog per
// submitted message, apart from commits: many messages' events in one
// transaction (the records' words indexed at its end, as a group's are).
func BenchmarkAppendLogCPU(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const sender = "u1@example.test"
	events := func(i int) ([]store.LogEvent, store.LogEvent) {
		rcpt := fmt.Sprintf("r%d@remote.test", i)
		base := store.LogEvent{Time: time.Now(), MessageID: fmt.Sprintf("<%d@example.test>", i),
			Subject: "load test " + rcpt, MailFrom: sender, Size: 10 << 10, RemoteIP: "127.0.0.1"}
		return []store.LogEvent{msglog.With(base, msglog.Submitted, rcpt, 1, "for 1 recipient(s)"),
			msglog.With(base, msglog.Stored, sender, 1, store.Sent), msglog.With(base, msglog.Queued, rcpt, 1, "")}, msglog.With(base, msglog.Delivered, rcpt, 1, "250 2.0.0 ok")
	}
	run := func(from, n int) {
		err := s.write(ctx, func(t *tx) error {
			for i := from; i < from+n; i++ {
				submit, settle := events(i)
				if err := t.appendLog(submit); err != nil {
					return err
				}
				if err := t.appendLog([]store.LogEvent{settle}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// A log of some size, written in parts so that the first prepares
	// the statements (stmtcache.go).
	for i := range 20 {
		run(-(i+1)*1000, 1000)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	run(0, b.N)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
}
