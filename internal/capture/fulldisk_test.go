package capture

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/blob/fs"
)

// TestFullDiskAnswers452 guards issue 12 part 5: on a full disk capture
// answered 451 (local error) where RFC 3463 has 452 4.3.1 (mail system
// full), and nothing told the operator. The store lives on a real 4 MiB
// tmpfs, filled by copies until the disk is full; then space is freed and
// capture recovers. Where no tmpfs can be mounted (not root), the blob
// store is made to fail with ENOSPC instead, and the test says so.
func TestFullDiskAnswers452(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("no tmpfs (%v: %s): a blob store failing with ENOSPC stands in for the full disk", err, strings.TrimSpace(string(out)))
		testFullDiskInjected(t, dir)
		return
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	// Ballast, freed later to give space back.
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnvAt(t, dir, Config{}, slog.New(slog.DiscardHandler))
	body := "Subject: fill\r\n\r\n" + strings.Repeat(longLine(998)+"\r\n", 200) // 200 KB
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	send := func() string {
		cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
		cv.cmd("RCPT TO:<bob@example.test>", "250 ")
		cv.cmd("DATA", "354 ")
		cv.send(body + ".\r\n")
		return cv.reply()
	}
	var reply string
	for i := 0; ; i++ {
		if reply = send(); !strings.HasPrefix(reply, "250 ") {
			break
		}
		if i > 40 {
			t.Fatal("a 4 MiB disk took 8 MB of copies")
		}
	}
	if !strings.HasPrefix(reply, "452 4.3.1 ") {
		t.Fatalf("full disk: reply %q, want 452 4.3.1", reply)
	}
	if !e.srv.StorageFull() || gauge(t, e.srv) != 1 {
		t.Fatalf("full disk not reported: StorageFull %v, metric %v", e.srv.StorageFull(), gauge(t, e.srv))
	}
	// Room again: the next copy is stored and the report clears.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if reply := send(); !strings.HasPrefix(reply, "250 2.0.0 stored") {
		t.Fatalf("after freeing space: reply %q", reply)
	}
	if e.srv.StorageFull() || gauge(t, e.srv) != 0 {
		t.Fatal("storage full still reported after a copy was stored")
	}
	// Every copy answered 250 is there, whole.
	got := e.inbox(t, e.bob)
	for i, m := range got {
		if m != body {
			t.Fatalf("message %d of %d differs from what was sent (%d bytes)", i, len(got), len(m))
		}
	}
}

// fullBlobs fails every Put with ENOSPC while full is set, as a full
// disk would.
type fullBlobs struct {
	*fs.Store
	full atomic.Bool
}

func (f *fullBlobs) Put(ctx context.Context, r io.Reader, size int64) (string, error) {
	if f.full.Load() {
		return "", fmt.Errorf("write blob: %w", &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC})
	}
	return f.Store.Put(ctx, r, size)
}

func (f *fullBlobs) PutDeferred(ctx context.Context, r io.Reader, size int64) (string, func() error, error) {
	if f.full.Load() {
		return "", nil, fmt.Errorf("write blob: %w", &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC})
	}
	return f.Store.PutDeferred(ctx, r, size)
}

func testFullDiskInjected(t *testing.T, dir string) {
	blobs := &fullBlobs{}
	e := newEnvBlobs(t, dir, Config{}, slog.New(slog.DiscardHandler), func(s *fs.Store) blob.Store {
		blobs.Store = s
		return blobs
	})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	send := func() string {
		cv.cmd("MAIL FROM:<a@outside.test>", "250 ")
		cv.cmd("RCPT TO:<bob@example.test>", "250 ")
		cv.cmd("DATA", "354 ")
		cv.send("Subject: x\r\n\r\ny\r\n.\r\n")
		return cv.reply()
	}
	blobs.full.Store(true)
	if reply := send(); !strings.HasPrefix(reply, "452 4.3.1 ") {
		t.Fatalf("full disk: reply %q, want 452 4.3.1", reply)
	}
	if !e.srv.StorageFull() || gauge(t, e.srv) != 1 {
		t.Fatal("full disk not reported")
	}
	blobs.full.Store(false)
	if reply := send(); !strings.HasPrefix(reply, "250 2.0.0 stored") {
		t.Fatalf("after freeing space: reply %q", reply)
	}
	if e.srv.StorageFull() || gauge(t, e.srv) != 0 {
		t.Fatal("storage full still reported after a copy was stored")
	}
}

func gauge(t *testing.T, s *Server) float64 {
	var m dto.Metric
	if err := s.metrics.storageFull.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
