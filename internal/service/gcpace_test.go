package service

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 64 * mib, 1600},         // before the first collection: 4 MiB
		{64 * 1024, 64 * mib, 1600}, // Go's minimum heap is 4 MiB
		{6 * mib, 64 * mib, 1066},   // the server under xtramail-bench submit
		{32 * mib, 64 * mib, 200},
		{63 * mib, 64 * mib, 101},
		{64 * mib, 64 * mib, 100}, // from here on, Go's default
		{64*mib + 1, 64 * mib, 100},
		{1024 * mib, 64 * mib, 100},
		{mib, 0, 100}, // no headroom: the default
	} {
		if got := gcPercent(c.live, c.headroom); got != c.want {
			t.Errorf("gcPercent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
		// The next collection comes at least headroom past the live
		// heap, and never before Go's default would run it.
		if c.live >= 4*mib {
			goal := c.live + c.live*uint64(gcPercent(c.live, c.headroom))/100
			if goal+c.live/100 < c.live+min(c.headroom, 100*c.live) || goal < 2*c.live {
				t.Errorf("live %d, headroom %d: next collection at %d", c.live, c.headroom, goal)
			}
		}
	}
}

// TestPaceGC: after each collection the pacer sets GOGC from what it
// found live, and stops when its context ends; a GOGC in the
// environment turns it off.
func TestPaceGC(t *testing.T) {
	// Run with GOGC unset whatever the environment (restored at the end).
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	ctx, cancel := context.WithCancel(context.Background())
	const headroom = 1 << 40 // far above any live heap here
	PaceGC(ctx, headroom)
	want := gcPercent(0, headroom)
	if got := debug.SetGCPercent(100); got < want/1000 || got > want {
		t.Fatalf("GOGC after PaceGC = %d, want about %d", got, want)
	}
	// A collection runs the finalizer, which sets it again.
	if !waitPercent(t, 1000) {
		t.Fatal("GOGC not set again after a collection")
	}
	cancel()
	runtime.GC()
	debug.SetGCPercent(100)
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC = %d after the pacer stopped, want it left at 100", got)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	PaceGC(context.Background(), 1<<40)
	if got := debug.SetGCPercent(old); got != 150 {
		t.Errorf("GOGC = %d with GOGC=150 in the environment, want 150", got)
	}
}

// waitPercent collects until GOGC reads at least min, for up to 5
// seconds.
func waitPercent(t *testing.T, min int) bool {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if got := debug.SetGCPercent(100); got >= min {
			return true
		}
	}
	return false
}
