package smtpserver

import (
	"bytes"
	"io"
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
