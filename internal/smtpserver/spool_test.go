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

// TestSpoolBuffersLend: a closed spool's memory holds the next spool's
// body (whose bytes are its own), a sibling borrows from the same place,
// and memory past maxLent, or of a body gone to a file, is not kept
// beyond its size.
func TestSpoolBuffersLend(t *testing.T) {
	var bufs SpoolBuffers
	b := NewBudget(1 << 30)
	dir := t.TempDir()
	write := func(sp *Spool, p []byte) {
		t.Helper()
		if _, err := sp.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// sync.Pool drops some of what it is given under the race detector:
	// of 20 bodies in turn, most reuse the memory before them.
	reused := 0
	var prev *byte
	for i := range 20 {
		sp := bufs.NewSpool(dir, b)
		body := bytes.Repeat([]byte{'a' + byte(i)}, 10<<10)
		write(sp, body[:100])
		write(sp, body[100:])
		if &sp.mem[0] == prev {
			reused++
		}
		prev = &sp.mem[0]
		got, _ := io.ReadAll(sp.Reader())
		if !bytes.Equal(got, body) {
			t.Fatalf("body %d read back wrong", i)
		}
		sib := sp.Sibling()
		if sib.bufs != &bufs {
			t.Fatal("a sibling does not borrow from the same buffers")
		}
		sib.Close()
		sp.Close()
	}
	if reused == 0 {
		t.Error("no spool reused the memory of the one before")
	}
	if b.Used() != 0 {
		t.Errorf("budget holds %d after close", b.Used())
	}

	// A body past maxLent keeps its memory to itself.
	var fresh SpoolBuffers
	big := fresh.NewSpool(dir, b)
	write(big, make([]byte, maxLent+1))
	bigMem := &big.mem[:1][0]
	big.Close()
	small := fresh.NewSpool(dir, b)
	write(small, []byte("x"))
	if &small.mem[0] == bigMem {
		t.Error("memory past maxLent was lent again")
	}
	small.Close()

	// A body that moves to a file gives its memory back then.
	onDisk := fresh.NewSpool(dir, b)
	write(onDisk, make([]byte, 1000))
	write(onDisk, make([]byte, spoolMem))
	if onDisk.mem != nil || onDisk.box != nil || !onDisk.OnDisk() {
		t.Fatalf("a body on disk still holds lent memory")
	}
	onDisk.Close()
}

// BenchmarkSpool writes a 10 KiB body into a spool in a header's worth of
// small writes and one large one, as a DATA body arrives, and closes it:
// with memory of its own, and lent by SpoolBuffers.
func BenchmarkSpool(b *testing.B) {
	text := benchText("\r\n")
	budget := NewBudget(1 << 30)
	dir := b.TempDir()
	var bufs SpoolBuffers
	for _, bm := range []struct {
		name string
		new  func() *Spool
	}{
		{"own", func() *Spool { return NewSpool(dir, budget) }},
		{"lent", func() *Spool { return bufs.NewSpool(dir, budget) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				sp := bm.new()
				for _, l := range bytes.SplitAfter(text[:64], []byte("\n")) {
					sp.Write(l)
				}
				sp.Write(text[64:])
				sp.Close()
			}
		})
	}
}
