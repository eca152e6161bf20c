package console

import (
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
)

// TestGeneratedPasswordsDroppedUnread: an import's generated passwords
// not downloaded within the keep time are dropped from memory when it
// ends on the console's clock, not 1 ms before, and the job's view says
// so (no download offered); passwords downloaded first stay handed out,
// not marked dropped, once the keep time has passed.
func TestGeneratedPasswordsDroppedUnread(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	js := newImportJobs(clk)
	ran := make(chan *importJob, 2)
	js.dropRan = func(j *importJob) { ran <- j }
	finish := func() (*importJob, time.Time) {
		j, err := js.add(1, "f.csv", 1)
		if err != nil {
			t.Fatal(err)
		}
		due := clk.Now().Add(js.keep)
		j.mu.Lock()
		j.passwords, j.nGen, j.done = []generated{{"a@x.test", "secret-password-1"}}, 1, true
		js.dropLater(j)
		j.mu.Unlock()
		if !slices.ContainsFunc(clk.Waiting(), due.Equal) {
			t.Fatalf("no drop waits for the keep time's end %v: %v", due, clk.Waiting())
		}
		return j, due
	}
	// waitRan waits for j's drop to have run (a hang guard, not a window).
	waitRan := func(j *importJob) {
		t.Helper()
		select {
		case got := <-ran:
			if got != j {
				t.Fatal("another job's drop ran")
			}
		case <-time.After(time.Minute):
			t.Fatal("the drop never ran once the keep time ended")
		}
	}
	state := func(j *importJob) (kept, dropped bool) {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.passwords != nil, j.dropped
	}

	j, due := finish()
	clk.Set(due.Add(-time.Millisecond))
	if kept, dropped := state(j); !kept || dropped || len(ran) != 0 {
		t.Fatalf("1 ms before the keep time ended: passwords kept %v, dropped %v, drops run %d; want kept", kept, dropped, len(ran))
	}
	clk.Set(due)
	waitRan(j)
	if kept, dropped := state(j); kept || !dropped {
		t.Fatalf("once the keep time ended: passwords kept %v, dropped %v; want dropped", kept, dropped)
	}
	if v := j.view(); v.Download || !v.Dropped {
		t.Fatalf("view after the drop: download %t, dropped %t", v.Download, v.Dropped)
	}

	// Downloaded first: the drop finds them handed out.
	j, due = finish()
	j.mu.Lock()
	j.passwords, j.handedOut = nil, true
	j.mu.Unlock()
	clk.Set(due)
	waitRan(j)
	if _, dropped := state(j); dropped {
		t.Fatal("passwords downloaded in time were reported as dropped")
	}
}
