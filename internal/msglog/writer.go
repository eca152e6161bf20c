package msglog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Appender is what the Writer needs of the store.
type Appender interface {
	AppendLog(ctx context.Context, events ...store.LogEvent) error
}

// QueueLen bounds the records waiting for a Writer's store write.
const QueueLen = 1024

// batchLen bounds the records of one store write.
const batchLen = 64

// Writer appends records to the message log in the background, as many
// at a time as are waiting. It is safe for concurrent use. Its goroutine
// starts with the first Add; Close drains it.
type Writer struct {
	st  Appender
	log *slog.Logger

	// mu guards closed and the send on q: Add holds it shared while it
	// sends, Close exclusively while it closes q, so that no Add sends on
	// a closed channel.
	mu     sync.RWMutex
	closed bool
	once   sync.Once
	q      chan item
	done   chan struct{}
	// stop is closed by Close: a write that waits for space gives up.
	stop chan struct{}

	// While the store is out of space the writer holds its batch until
	// a write succeeds, and Add does not wait for room in the queue but
	// drops, and counts in dropped, what does not fit: sessions refusing
	// mail for the full disk must answer at once. fullCh is closed while
	// full holds, so that an Add already waiting learns of it.
	fullMu  sync.Mutex
	full    bool
	fullCh  chan struct{}
	dropped atomic.Int64
}

// While the store is full, a batch is written again after firstRetry,
// then after twice as long each time, up to maxRetry.
const (
	firstRetry = 100 * time.Millisecond
	maxRetry   = 5 * time.Second
)

// item is a record, or a flush marker: the writer closes flushed once
// every record before it is written.
type item struct {
	ev      store.LogEvent
	flushed chan struct{}
}

// NewWriter returns a Writer on st; log (nil: discarded) gets the store
// errors, which a record's producer has long stopped waiting for.
func NewWriter(st Appender, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{st: st, log: log, q: make(chan item, QueueLen), done: make(chan struct{}), stop: make(chan struct{}),
		fullCh: make(chan struct{})}
}

// fullState says whether the store is full, and returns a channel
// closed once it is.
func (w *Writer) fullState() (bool, <-chan struct{}) {
	w.fullMu.Lock()
	defer w.fullMu.Unlock()
	return w.full, w.fullCh
}

// setFull records whether the store is full and reports whether that
// changed.
func (w *Writer) setFull(full bool) bool {
	w.fullMu.Lock()
	defer w.fullMu.Unlock()
	if w.full == full {
		return false
	}
	w.full = full
	if full {
		close(w.fullCh)
	} else {
		w.fullCh = make(chan struct{})
	}
	return true
}

// Add hands records to the writer. It waits while the queue is full, up
// to ctx (the writer is behind the store: callers slow down rather than
// records being dropped). After Close it writes them directly.
func (w *Writer) Add(ctx context.Context, events ...store.LogEvent) error {
	if len(events) == 0 {
		return nil
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		if err := w.st.AppendLog(ctx, events...); err != nil {
			return fmt.Errorf("message log after close: %w", err)
		}
		return nil
	}
	defer w.mu.RUnlock()
	w.once.Do(func() { go w.run() })
	for i, e := range events {
		full, fullCh := w.fullState()
		if !full {
			select {
			case w.q <- item{ev: e}:
				continue
			case <-fullCh:
			case <-ctx.Done():
				return fmt.Errorf("message log queue full, %d of %d records dropped: %w", len(events)-i, len(events), ctx.Err())
			}
		}
		select {
		case w.q <- item{ev: e}:
		default:
			w.dropped.Add(int64(len(events) - i))
			return fmt.Errorf("message log queue full while the storage is, %d of %d records dropped: %w",
				len(events)-i, len(events), store.ErrStorageFull)
		}
	}
	return nil
}

// run appends queued records until the queue is closed and empty.
func (w *Writer) run() {
	defer close(w.done)
	batch := make([]store.LogEvent, 0, batchLen)
	var flushed []chan struct{}
	for it := range w.q {
		batch, flushed = batch[:0], flushed[:0]
		add := func(it item) {
			if it.flushed != nil {
				flushed = append(flushed, it.flushed)
			} else {
				batch = append(batch, it.ev)
			}
		}
		add(it)
	more:
		for len(batch) < cap(batch) {
			select {
			case it, ok := <-w.q:
				if !ok {
					break more
				}
				add(it)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			w.write(batch)
		}
		for _, f := range flushed {
			close(f)
		}
	}
}

// write appends batch to the store. While the store is full it keeps
// the batch and tries again, so that what was refused for a full disk is
// in the log once there is space: the administrator looks for it then.
// Other errors drop the batch (logged).
func (w *Writer) write(batch []store.LogEvent) {
	wait := firstRetry
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.st.AppendLog(ctx, batch...)
		cancel()
		if err == nil || !errors.Is(err, store.ErrStorageFull) {
			if w.setFull(false) {
				w.log.Info("message log: storage no longer full", "dropped while full", w.dropped.Swap(0))
			}
			if err != nil {
				w.log.Warn("message log write", "records", len(batch), "err", err)
			}
			return
		}
		if w.setFull(true) {
			w.log.Warn("message log: storage full, records held until there is space", "records", len(batch), "err", err)
		}
		select {
		case <-time.After(wait):
		case <-w.stop:
			w.log.Warn("message log: storage still full at shutdown, records dropped", "records", len(batch), "err", err)
			w.setFull(false)
			return
		}
		wait = min(2*wait, maxRetry)
	}
}

// Close stops queueing (later Adds write directly) and waits, up to ctx,
// until every queued record is written. Call it once nothing that adds
// much is running any more, before the store closes.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
		close(w.stop)
		// A writer that never got a record has no goroutine to close
		// done.
		w.once.Do(func() { close(w.done) })
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("message log drain: %w", ctx.Err())
	}
}

// Flush waits, up to ctx, until the records added before it was called
// are written (tests, and a caller that must read its own record back).
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return w.Close(ctx)
	}
	w.once.Do(func() { go w.run() })
	f := make(chan struct{})
	select {
	case w.q <- item{flushed: f}:
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("message log flush: %w", ctx.Err())
	}
	w.mu.RUnlock()
	select {
	case <-f:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("message log flush: %w", ctx.Err())
	}
}
