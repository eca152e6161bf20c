package smtpserver

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// TestSpoolMovesLargeBodiesToDisk checks that a body past spoolMem leaves
// memory for an (unlinked) spool file and reads back whole.
func TestSpoolMovesLargeBodiesToDisk(t *testing.T) {
	b := NewBudget(1 << 30)
	sp := NewSpool(t.TempDir(), b)
	defer sp.Close()
	want := bytes.Repeat([]byte("0123456789abcdef"), 3*spoolMem/16)
	for p := want; len(p) > 0; p = p[min(len(p), 4096):] {
		if _, err := sp.Write(p[:min(len(p), 4096)]); err != nil {
			t.Fatal(err)
		}
	}
	if sp.f == nil || sp.mem != nil {
		t.Fatalf("a %d-byte body is still held in memory (%d bytes)", len(want), len(sp.mem))
	}
	got, _ := io.ReadAll(sp.Reader())
	if !bytes.Equal(got, want) || b.Used() != int64(len(want)) {
		t.Fatalf("read back %d bytes, budget %d; want %d", len(got), b.Used(), len(want))
	}
	sp.Close()
	if b.Used() != 0 {
		t.Fatalf("budget holds %d after close", b.Used())
	}
}

// TestSpoolReserve checks that a reservation is taken whole or not at all,
// that writes within it take nothing more and writes past it do, and that
// Close gives back all of it.
func TestSpoolReserve(t *testing.T) {
	b := NewBudget(1000)
	sp := NewSpool(t.TempDir(), b)
	if err := sp.Reserve(1001); err != ErrBudget || b.Used() != 0 {
		t.Fatalf("Reserve over the budget: %v, used %d", err, b.Used())
	}
	if err := sp.Reserve(600); err != nil || b.Used() != 600 {
		t.Fatalf("Reserve(600): %v, used %d", err, b.Used())
	}
	other := NewSpool(t.TempDir(), b)
	if err := other.Reserve(500); err != ErrBudget {
		t.Fatalf("a second reservation past the budget: %v", err)
	}
	sp.Write(make([]byte, 600))
	if b.Used() != 600 {
		t.Fatalf("writes within the reservation took more: used %d", b.Used())
	}
	sp.Write(make([]byte, 50)) // past it: bare LF made CRLF grows a body
	if b.Used() != 650 || sp.Size() != 650 {
		t.Fatalf("used %d size %d, want 650", b.Used(), sp.Size())
	}
	sp.Close()
	other.Close()
	if b.Used() != 0 {
		t.Fatalf("budget holds %d after close", b.Used())
	}
}

// TestSpoolFileNeverNamed: a spool file has no name in the spool
// directory at any moment, so that a crash (kill -9) between its creation
// and its unlinking cannot leave a body behind, one per message in
// flight, for ever. Another goroutine lists the directory while bodies
// move to disk.
func TestSpoolFileNeverNamed(t *testing.T) {
	dir := t.TempDir()
	b := NewBudget(1 << 30)
	stop := make(chan struct{})
	seen := make(chan string, 1)
	go func() {
		d, err := os.Open(dir)
		if err != nil {
			seen <- err.Error()
			return
		}
		defer d.Close()
		for {
			select {
			case <-stop:
				seen <- ""
				return
			default:
			}
			d.Seek(0, io.SeekStart)
			if names, _ := d.Readdirnames(-1); len(names) > 0 {
				seen <- names[0]
				return
			}
		}
	}()
	chunk := make([]byte, spoolMem+1)
	for range 3000 {
		sp := NewSpool(dir, b)
		if _, err := sp.Write(chunk); err != nil {
			t.Fatal(err)
		}
		sp.Close()
		select {
		case name := <-seen:
			t.Fatalf("the spool directory showed %q", name)
		default:
		}
	}
	close(stop)
	if name := <-seen; name != "" {
		t.Fatalf("the spool directory showed %q", name)
	}
}
