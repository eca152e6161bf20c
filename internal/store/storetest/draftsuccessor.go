package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// successorFile is the bytes of a file every version of a test draft
// keeps, shared with the version it replaces (store.DraftSharing).
var successorFile = strings.Repeat("FILEBYTES-0123456789abcdef\r\n", 300)

// successorRaw is a draft version: its text, then the file.
func successorRaw(subject, text string) []byte {
	return Raw(subject, text+"\r\n"+successorFile)
}

// saveOnSuccessor is what the webmail does for a save naming the draft id
// (the page's, perhaps replaced since): resolve the current version, save
// the new one in its place sharing the file's bytes with it, and resolve
// again if another save replaced it in between. It returns the new
// version's id and the version it replaced. The tests' tabs save back to
// back, far more often than people do, so a save may lose many races in
// a row on a loaded machine: the bound is generous.
func saveOnSuccessor(ctx context.Context, s store.Store, acct, id int64, raw []byte) (newID, replaced int64, err error) {
	for range 100 {
		cur, err := s.DraftSuccessor(ctx, acct, id)
		if err != nil {
			return 0, 0, err
		}
		src, err := draftBytes(ctx, s, acct, cur)
		if errors.Is(err, store.ErrNotFound) {
			continue // replaced since DraftSuccessor read it
		}
		if err != nil {
			return 0, 0, err
		}
		off, srcOff := bytes.Index(raw, []byte(successorFile)), bytes.Index(src, []byte(successorFile))
		shared := []store.SharedRange{{Off: int64(off), Len: int64(len(successorFile)), SrcOff: int64(srcOff)}}
		dl, err := s.SaveDraftSharing(ctx, acct, cur, store.NewDelivery(raw, time.Now()), shared)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		return dl.MessageID, cur, err
	}
	return 0, 0, fmt.Errorf("draft %d kept being replaced", id)
}

func draftBytes(ctx context.Context, s store.Store, acct, id int64) ([]byte, error) {
	m, err := s.Message(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	rc, err := s.OpenBody(ctx, acct, m.BodyID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(rc)
	return b.Bytes(), err
}

// testDraftSuccessors: every version a draft ever had resolves to its
// current one (DraftSuccessor), through saves whose answers were lost
// (the page keeps an old id), many replacements, and two "tabs" saving
// at once; the file each version shares with the one it replaced is
// whole in the last; another account's ids are ErrNotFound; a held draft
// cannot be replaced, and once sent nothing resolves.
func testDraftSuccessors(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "mallory@example.org")
	alice, mallory := accs[0], accs[1]
	drafts := must(s.Mailbox(ctx, alice.ID, store.Drafts))
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	first := must(s.SaveDraft(ctx, alice.ID, 0, store.NewDelivery(successorRaw("succ-0", "v0"), time.Now())))
	ids := []int64{first.MessageID} // every version, in order
	cur := first.MessageID
	var want []byte = successorRaw("succ-0", "v0")
	// Each tab is a page: the id it names, the last its answers gave it.
	tabs := []int64{cur, cur, cur}
	for i := 1; i <= 120; i++ {
		tab := rng.IntN(len(tabs))
		raw := successorRaw(fmt.Sprintf("succ-%d", i), fmt.Sprintf("version %d from tab %d", i, tab))
		next, replaced, err := saveOnSuccessor(ctx, s, alice.ID, tabs[tab], raw)
		if err != nil {
			t.Fatalf("step %d: save naming %d: %v", i, tabs[tab], err)
		}
		if replaced != cur {
			t.Fatalf("step %d: the save naming %d replaced %d, want the current version %d", i, tabs[tab], replaced, cur)
		}
		cur, want = next, raw
		ids = append(ids, next)
		if rng.IntN(3) != 0 { // else the answer was lost: the tab keeps its id
			tabs[tab] = next
		}
	}
	check := func(step string) {
		t.Helper()
		for _, id := range ids {
			if got, err := s.DraftSuccessor(ctx, alice.ID, id); err != nil || got != cur {
				t.Fatalf("%s: DraftSuccessor(%d) = %d, %v; want %d", step, id, got, err, cur)
			}
			if _, err := s.DraftSuccessor(ctx, mallory.ID, id); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDraftGone) {
				t.Fatalf("%s: Mallory resolves Alice's draft %d: %v, want ErrNotFound", step, id, err)
			}
			if _, err := s.SaveDraft(ctx, mallory.ID, id, store.NewDelivery(Raw("evil", "x"), time.Now())); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: Mallory replaces Alice's draft %d: %v, want ErrNotFound", step, id, err)
			}
		}
		live := must(s.Messages(ctx, alice.ID, drafts.ID))
		if len(live) != 1 || live[0].ID != cur {
			t.Fatalf("%s: Drafts holds %+v, want only %d", step, live, cur)
		}
		if got := must(draftBytes(ctx, s, alice.ID, cur)); !bytes.Equal(got, want) {
			t.Fatalf("%s: the current version reads %d bytes, differing from the %d saved", step, len(got), len(want))
		}
	}
	check("after lost answers")

	// Two tabs save at once, each naming a version long replaced: each
	// save lands on the version current when it writes (last writer
	// wins), none fails, and the file stays whole.
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make(chan error, 40)
	old := slices.Clone(ids) // what the tabs name; ids grows meanwhile
	for tab := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				raw := successorRaw(fmt.Sprintf("tab%d-%d", tab, j), "concurrent")
				next, _, err := saveOnSuccessor(ctx, s, alice.ID, old[rng2(tab, j)%len(old)], raw)
				if err != nil {
					errs <- fmt.Errorf("tab %d save %d: %w", tab, j, err)
					return
				}
				mu.Lock()
				ids = append(ids, next)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	live := must(s.Messages(ctx, alice.ID, drafts.ID))
	if len(live) != 1 {
		t.Fatalf("Drafts holds %d after concurrent saves", len(live))
	}
	cur = live[0].ID
	want = must(draftBytes(ctx, s, alice.ID, cur))
	if !bytes.HasSuffix(want, []byte(successorFile+"\r\n")) || !bytes.Contains(want, []byte("concurrent")) {
		t.Fatalf("the last concurrent version lost its text or file: %d bytes", len(want))
	}
	check("after concurrent saves")

	// Held for sending: nothing replaces it, every old id still finds it.
	e := must(s.ScheduleSend(ctx, alice.ID, cur, time.Now().Add(time.Hour), "192.0.2.1"))
	if _, _, err := saveOnSuccessor(ctx, s, alice.ID, ids[0], successorRaw("late", "late")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("save replacing a held draft: %v, want ErrExists", err)
	}
	check("held")
	// Undone, it is a draft again; sent, it is gone for every id.
	must(s.CancelSend(ctx, alice.ID, e.ID))
	e = must(s.ScheduleSend(ctx, alice.ID, cur, time.Now(), "192.0.2.1"))
	claimed := must(s.ClaimSends(ctx, time.Now().Add(time.Second), time.Minute, 10))
	if len(claimed) != 1 || claimed[0].ID != e.ID {
		t.Fatalf("claimed %+v", claimed)
	}
	if err := s.FinishSend(ctx, alice.ID, e.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got, err := s.DraftSuccessor(ctx, alice.ID, id); !errors.Is(err, store.ErrDraftGone) {
			t.Fatalf("DraftSuccessor(%d) of a sent draft = %d, %v; want ErrDraftGone", id, got, err)
		}
		if _, err := s.DraftSuccessor(ctx, mallory.ID, id); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDraftGone) {
			t.Fatalf("Mallory resolves Alice's sent draft %d: %v, want plain ErrNotFound", id, err)
		}
	}
	if _, err := s.DraftSuccessor(ctx, alice.ID, 1<<40); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDraftGone) {
		t.Fatalf("DraftSuccessor of an id never issued: %v", err)
	}
}

// rng2 picks a tab's old id without sharing the test's generator
// between goroutines.
func rng2(tab, j int) int { return 7*tab + 13*j }
