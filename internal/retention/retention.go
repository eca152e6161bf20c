// Package retention keeps the rolling window: it purges messages that
// arrived before their domain's window (counted from when the service
// stored them, not from the INTERNALDATE an APPEND may give), and message
// log records older than theirs, in small batches so that neither readers
// nor ingest wait on it.
package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Purger is what retention needs of the store.
type Purger interface {
	Purge(ctx context.Context, now, logBefore time.Time, limit int) (store.PurgeResult, error)
}

// Worker runs purge passes.
type Worker struct {
	Store    Purger
	Log      *slog.Logger
	Interval time.Duration    // between passes
	Batch    int              // messages per transaction
	LogDays  int              // message log window
	Now      func() time.Time // injected in tests
}

// RunOnce purges everything that is due now, batch after batch.
func (w *Worker) RunOnce(ctx context.Context) (store.PurgeResult, error) {
	now := w.Now()
	logBefore := now.AddDate(0, 0, -w.LogDays)
	var total store.PurgeResult
	for {
		r, err := w.Store.Purge(ctx, now, logBefore, w.Batch)
		total.Messages += r.Messages
		total.Bodies += r.Bodies
		total.Bytes += r.Bytes
		total.Events += r.Events
		total.Sends += r.Sends
		if err != nil {
			return total, err
		}
		if r.Messages < w.Batch && r.Events < w.Batch && r.Sends < w.Batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// Run purges at every interval until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		start := time.Now()
		r, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("retention pass", "err", err, "purged", r.Messages)
		} else if r.Messages > 0 || r.Events > 0 {
			w.Log.Info("retention pass", "messages", r.Messages, "bodies", r.Bodies, "bytes", r.Bytes,
				"log_records", r.Events, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
