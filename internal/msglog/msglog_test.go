package msglog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	for _, k := range []store.LogStatus{"login", "login-failed", "moved", "duplicate", "submitted", "expired"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Kinds lacks %q", k)
		}
	}
}
