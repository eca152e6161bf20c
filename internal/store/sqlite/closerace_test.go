package sqlite

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestCloseWhileWriting: writes racing Close each get an answer, nil or
// errClosed, and Close returns. A write queued after the writer had
// answered its last request used to wait for ever, and with it Close,
// which waits for the store's own background writers (a CLI command
// that finished before fillThreads' first step hung in its Close).
func TestCloseWhileWriting(t *testing.T) {
	for round := range 12 {
		s := open(t, t.TempDir())
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 8 {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					err := s.write(t.Context(), func(tx *tx) error {
						_, err := tx.Exec("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
							fmt.Sprintf("closerace_%d", w), i)
						return err
					})
					if errors.Is(err, errClosed) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					if i%(round+1) == 0 {
						runtime.Gosched()
					}
				}
			})
		}
		close(start)
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			buf := make([]byte, 1<<20)
			t.Fatalf("round %d: writes racing Close got no answer:\n%s", round, buf[:runtime.Stack(buf, true)])
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("round %d: Close: %v", round, err)
			}
		case <-time.After(time.Minute):
			buf := make([]byte, 1<<20)
			t.Fatalf("round %d: Close did not return:\n%s", round, buf[:runtime.Stack(buf, true)])
		}
		close(errs)
		for err := range errs {
			t.Errorf("round %d: write: %v", round, err)
		}
	}
}
