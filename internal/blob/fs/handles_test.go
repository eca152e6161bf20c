package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/blob"
)

// openFDs counts this process's descriptors open on files under dir, and
// how many of those are of removed files.
func openFDs(t *testing.T, dir string) (n, removed int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, dir) {
			continue
		}
		n++
		if strings.HasSuffix(target, " (deleted)") {
			removed++
		}
	}
	return n, removed
}

// waitFDs waits until ok holds of openFDs: a segment's writing
// descriptor is closed by a goroutine of its own once the next segment
// takes over.
func waitFDs(t *testing.T, dir string, ok func(n, removed int) bool) (n, removed int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, removed = openFDs(t, dir)
		if ok(n, removed) || time.Now().After(deadline) {
			return n, removed
		}
	}
}

func readAll(t *testing.T, s *Store, key string) string {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadersShareSegmentHandles guards the read path's cost: readers of
// one segment share one open file (the queue opened the segment for every
// message it sent), an object appended after its segment's handle was
// cached is still found, and the cache holds a bounded number of files.
func TestReadersShareSegmentHandles(t *testing.T) {
	dir := t.TempDir()
	s, now := openAt(t, dir, time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC))
	ctx := context.Background()
	a, err := s.Put(ctx, strings.NewReader("first"), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, a); got != "first" {
		t.Fatalf("read %q", got)
	}
	// Appended after the handle was cached: the segment grew past the
	// size the handle knew.
	b, err := s.Put(ctx, strings.NewReader("second"), 6)
	if err != nil {
		t.Fatal(err)
	}
	var open []io.ReadCloser
	for range 10 {
		rc, err := s.Open(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, rc)
	}
	// The writer's descriptor and one shared reading one.
	if n, _ := openFDs(t, dir); n != 2 {
		t.Errorf("%d descriptors open on the segment with 10 readers, want 2", n)
	}
	for _, rc := range open {
		got, err := io.ReadAll(rc)
		if err != nil || string(got) != "second" {
			t.Errorf("read %q, %v", got, err)
		}
		rc.Close()
	}
	// A key past the segment's end is not found, as before.
	past := strings.Replace(b, ":4096:6", ":8192:6", 1)
	if _, err := s.Open(ctx, past); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("open past the end: %v, want ErrNotFound", err)
	}

	// One object in each of many hourly segments, each read once: the
	// cache keeps at most maxHandles of them open.
	for i := range maxHandles + 10 {
		*now = now.Add(time.Hour)
		k, err := s.Put(ctx, strings.NewReader("x"), 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, k); got != "x" {
			t.Fatalf("segment %d: read %q", i, got)
		}
	}
	if n, _ := waitFDs(t, dir, func(n, _ int) bool { return n <= maxHandles+1 }); n > maxHandles+1 {
		t.Errorf("%d descriptors open, want at most %d cached and the writer's", n, maxHandles)
	}
	s.Close()
	if n, _ := waitFDs(t, dir, func(n, _ int) bool { return n == 0 }); n != 0 {
		t.Errorf("%d descriptors open after Close", n)
	}
}

// TestRemovedSegmentNotReadThroughHandle guards Delete with cached
// handles: once the last object of a segment is deleted and the file
// removed, its handle is closed and a read of its keys is ErrNotFound (an
// old handle would still read the removed file).
func TestRemovedSegmentNotReadThroughHandle(t *testing.T) {
	dir := t.TempDir()
	s, now := openAt(t, dir, time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC))
	ctx := context.Background()
	old, err := s.Put(ctx, strings.NewReader("old"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, old); got != "old" {
		t.Fatalf("read %q", got)
	}
	// The next hour's object makes a new current segment, so that the
	// old one is removed with its last object.
	*now = now.Add(time.Hour)
	if _, err := s.Put(ctx, strings.NewReader("new"), 3); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, filepath.FromSlash(strings.SplitN(old, ":", 2)[0]))
	if _, err := os.Stat(seg); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("segment not removed: %v", err)
	}
	if _, removed := waitFDs(t, dir, func(_, removed int) bool { return removed == 0 }); removed != 0 {
		t.Errorf("%d descriptors still open on the removed segment", removed)
	}
	if _, err := s.Open(ctx, old); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("open of a removed segment's key: %v, want ErrNotFound", err)
	}
}

// TestConcurrentReadersOfGrowingSegment: readers of the current segment,
// each opening an object appended after the shared handle last looked at
// the file's size, run at once with the writers (as the queue's senders
// read what submissions have just stored). Each reads its own object whole;
// under -race, the handle's size is read and updated under its lock.
func TestConcurrentReadersOfGrowingSegment(t *testing.T) {
	dir := t.TempDir()
	s, _ := openAt(t, dir, time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC))
	ctx := context.Background()
	first, err := s.Put(ctx, strings.NewReader("first"), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, first); got != "first" { // caches the handle
		t.Fatalf("read %q", got)
	}
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				want := fmt.Sprintf("object %d of reader %d, %s", i, w, strings.Repeat("x", (w*each+i)%300))
				key, err := s.Put(ctx, strings.NewReader(want), int64(len(want)))
				if err != nil {
					t.Error(err)
					return
				}
				rc, err := s.Open(ctx, key)
				if err != nil {
					t.Errorf("open %s: %v", key, err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(got) != want {
					t.Errorf("read %q, %v; want %q", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
