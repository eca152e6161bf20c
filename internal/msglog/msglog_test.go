package msglog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	return sqlitetest.New(t)
}

// TestWriterConcurrentAddsAllWritten: records added by many goroutines at
// once, more than the queue holds, are all in the store after Close, each
// once; later Adds still reach the store.
func TestWriterConcurrentAddsAllWritten(t *testing.T) {
	st := openStore(t)
	w := msglog.NewWriter(st, nil)
	ctx := context.Background()
	const workers, each = 8, 400 // 3,200 records > QueueLen
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				ev := msglog.Session(time.Now(), msglog.Login, fmt.Sprintf("u%d@x.test", g), 0, "127.0.0.1", fmt.Sprint(i))
				if err := w.Add(ctx, ev); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, msglog.Session(time.Now(), msglog.LoginFailed, "late@x.test", 0, "", "after close")); err != nil {
		t.Fatal(err)
	}
	for g := range workers {
		evs, err := st.SearchLog(ctx, store.LogQuery{Address: fmt.Sprintf("u%d@x.test", g), Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range evs {
			if seen[e.Detail] {
				t.Fatalf("record %s of u%d written twice", e.Detail, g)
			}
			seen[e.Detail] = true
		}
		if len(seen) != each {
			t.Errorf("u%d: %d records written, want %d", g, len(seen), each)
		}
	}
	if evs, _ := st.SearchLog(ctx, store.LogQuery{Address: "late@x.test"}); len(evs) != 1 {
		t.Errorf("record added after Close: %d written", len(evs))
	}
}

// slowStore blocks every AppendLog until release is closed.
type slowStore struct {
	release chan struct{}
	mu      sync.Mutex
	got     []store.LogEvent
}

func (s *slowStore) AppendLog(ctx context.Context, evs ...store.LogEvent) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.got = append(s.got, evs...)
	s.mu.Unlock()
	return nil
}

// TestWriterBoundedWaitsNotDrops: with the store stalled, Add takes
// QueueLen records (and the batch in the writer's hands), then waits; a
// caller whose context ends is told so, and nothing queued is lost.
func TestWriterBoundedWaitsNotDrops(t *testing.T) {
	ss := &slowStore{release: make(chan struct{})}
	w := msglog.NewWriter(ss, nil)
	ev := msglog.Session(time.Now(), msglog.Login, "a@x.test", 0, "", "")
	added := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := w.Add(ctx, ev)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Add on a full queue: %v", err)
			}
			break
		}
		added++
		if added > 10*msglog.QueueLen {
			t.Fatal("Add never waits: the queue is unbounded")
		}
	}
	if added < msglog.QueueLen {
		t.Fatalf("queue took %d records, want at least %d", added, msglog.QueueLen)
	}
	close(ss.release)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ss.got) != added {
		t.Errorf("%d records written, %d added", len(ss.got), added)
	}
}

// fullStore refuses every AppendLog with store.ErrStorageFull while full
// is set, as the SQLite store does on a full disk, and keeps what it
// takes.
type fullStore struct {
	full     atomic.Bool
	attempts atomic.Int64
	mu       sync.Mutex
	got      []store.LogEvent
}

func (s *fullStore) AppendLog(ctx context.Context, evs ...store.LogEvent) error {
	s.attempts.Add(1)
	if s.full.Load() {
		return fmt.Errorf("append log: %w: write: no space left on device", store.ErrStorageFull)
	}
	s.mu.Lock()
	s.got = append(s.got, evs...)
	s.mu.Unlock()
	return nil
}

// TestWriterHoldsRecordsWhileStorageFull: records that meet a full store
// (the refusals of a full disk among them) are written once there is
// space again, each once and in order, instead of being dropped at the
// first failed write; while the store is full, an Add that finds the
// queue full is told at once, with ErrStorageFull, rather than held up
// to its deadline (a session refusing mail must answer), and what it
// could not queue is all that is lost.
func TestWriterHoldsRecordsWhileStorageFull(t *testing.T) {
	fs := &fullStore{}
	fs.full.Store(true)
	w := msglog.NewWriter(fs, nil)
	var added []string
	dropped := 0
	for i := range msglog.QueueLen + 500 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		detail := fmt.Sprint(i)
		err := w.Add(ctx, msglog.Session(time.Now(), msglog.Refused, "a@x.test", 0, "", detail))
		cancel()
		switch {
		case err == nil:
			added = append(added, detail)
		case errors.Is(err, store.ErrStorageFull):
			dropped++
		default:
			t.Fatalf("Add %d while the store is full: %v", i, err)
		}
	}
	if len(added) < msglog.QueueLen || dropped == 0 {
		t.Fatalf("store full: %d records queued, %d dropped; want at least %d queued, then drops", len(added), dropped, msglog.QueueLen)
	}
	// The writer keeps trying the same batch.
	for deadline := time.Now().Add(5 * time.Second); fs.attempts.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes tried while the store was full, want the batch tried again", fs.attempts.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fs.full.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range fs.got {
		got = append(got, e.Detail)
	}
	if !slices.Equal(got, added) {
		t.Fatalf("after the store had space: %d records written, want the %d queued, in order", len(got), len(added))
	}
	// Back to normal: a record added now is written.
	if err := w.Add(ctx, msglog.Session(time.Now(), msglog.Login, "a@x.test", 0, "", "after")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(fs.got); n != len(added)+1 || fs.got[n-1].Detail != "after" {
		t.Errorf("record added after recovery not written: %d records", n)
	}
}

// TestWriterWaitingAddLearnsStorageFull: an Add already waiting for room
// (the store slow) when the store turns out full returns then with
// ErrStorageFull, instead of waiting for its deadline behind a writer
// that holds its batch.
func TestWriterWaitingAddLearnsStorageFull(t *testing.T) {
	fs := &fullStore{}
	fs.full.Store(true)
	release := make(chan struct{})
	w := msglog.NewWriter(gatedStore{fs, release}, nil)
	ev := msglog.Session(time.Now(), msglog.Refused, "a@x.test", 0, "", "")
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := w.Add(ctx, ev)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // the queue is full behind the slow store
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		errc <- w.Add(ctx, ev)
	}()
	close(release) // the slow write ends: storage full
	if err := <-errc; !errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("waiting Add once the store is full: %v, want ErrStorageFull", err)
	}
	fs.full.Store(false)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// gatedStore holds every AppendLog until release is closed.
type gatedStore struct {
	*fullStore
	release chan struct{}
}

func (g gatedStore) AppendLog(ctx context.Context, evs ...store.LogEvent) error {
	<-g.release
	return g.fullStore.AppendLog(ctx, evs...)
}

// TestWriterCloseWhileStorageFull: Close on a store still full returns
// (dropping what it cannot write) instead of trying for ever.
func TestWriterCloseWhileStorageFull(t *testing.T) {
	fs := &fullStore{}
	fs.full.Store(true)
	w := msglog.NewWriter(fs, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 10 {
		if err := w.Add(ctx, msglog.Session(time.Now(), msglog.Refused, "a@x.test", 0, "", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close with the store full: %v", err)
	}
}

// TestFlushWritesEarlierRecords: after Flush returns, every record added
// before it can be read back.
func TestFlushWritesEarlierRecords(t *testing.T) {
	st := openStore(t)
	w := msglog.NewWriter(st, nil)
	ctx := context.Background()
	for round := range 20 {
		addr := fmt.Sprintf("r%d@x.test", round)
		for i := range round + 1 {
			if err := w.Add(ctx, msglog.Session(time.Now(), msglog.Login, addr, 0, "", fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if evs, _ := st.SearchLog(ctx, store.LogQuery{Address: addr}); len(evs) != round+1 {
			t.Fatalf("round %d: %d records after Flush, want %d", round, len(evs), round+1)
		}
	}
	// Close on a writer that never started, and twice, returns.
	idle := msglog.NewWriter(st, nil)
	for range 2 {
		if err := idle.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBuilders(t *testing.T) {
	now := time.Unix(1700000000, 0)
	base := msglog.Message(now, &message.Info{MessageID: "m@x", Subject: "hi"}, "a@x.test", 42, "192.0.2.1")
	ev := msglog.With(base, msglog.Stored, "b@y.test", 7, "INBOX")
	want := store.LogEvent{Time: now, Status: msglog.Stored, MessageID: "m@x", Subject: "hi", MailFrom: "a@x.test",
		Rcpt: "b@y.test", Size: 42, RemoteIP: "192.0.2.1", DomainID: 7, Detail: "INBOX"}
	if ev != want {
		t.Errorf("With: %+v\nwant %+v", ev, want)
	}
	if base.Status != "" || base.Rcpt != "" {
		t.Errorf("With changed its base: %+v", base)
	}
	if got := msglog.Message(now, nil, "", 0, ""); got.MessageID != "" {
		t.Errorf("nil info: %+v", got)
	}
	kinds := msglog.Kinds()
	for i, k := range kinds {
		if slices.Contains(kinds[i+1:], k) || k == "" {
			t.Errorf("kind %q listed twice or empty", k)
		}
	}
	for _, k := range []store.LogStatus{"login", "login-failed", "moved", "duplicate", "submitted", "expired", "cancelled"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Kinds lacks %q", k)
		}
	}
}
