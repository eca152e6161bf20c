package console

import (
	"testing"
	"time"
)

// TestGeneratedPasswordsDroppedUnread: an import's generated passwords
// not downloaded within the keep time are dropped from memory, and the
// job's view says so (no download offered); passwords downloaded first
// stay handed out, not marked dropped.
func TestGeneratedPasswordsDroppedUnread(t *testing.T) {
	js := newImportJobs(time.Now)
	js.keep = 20 * time.Millisecond
	finish := func() *importJob {
		j, err := js.add(1, "f.csv", 1)
		if err != nil {
			t.Fatal(err)
		}
		j.mu.Lock()
		j.passwords, j.nGen, j.done = []generated{{"a@x.test", "secret-password-1"}}, 1, true
		js.dropLater(j)
		j.mu.Unlock()
		return j
	}
	j := finish()
	deadline := time.Now().Add(time.Minute)
	for {
		j.mu.Lock()
		gone := j.passwords == nil
		j.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("generated passwords still in memory a minute after their keep time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := j.view(); v.Download || !v.Dropped {
		t.Fatalf("view after the drop: download %t, dropped %t", v.Download, v.Dropped)
	}

	// Downloaded first: the timer finds them handed out.
	j = finish()
	j.mu.Lock()
	j.passwords, j.handedOut = nil, true
	j.mu.Unlock()
	time.Sleep(js.keep * 5)
	j.mu.Lock()
	dropped := j.dropped
	j.mu.Unlock()
	if dropped {
		t.Fatal("passwords downloaded in time were reported as dropped")
	}
}
