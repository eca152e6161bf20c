package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// keyed is a new draft version from the compose page with key.
func keyed(subject, key string) *store.Delivery {
	d := store.NewDelivery(Raw(subject, "text"), time.Now())
	d.DraftKey = key
	return d
}

// testDraftKeys: a new draft keeps its compose page's key, and a page
// whose first save's answer was lost (it names no draft, only its key)
// finds that draft's current version through it (DraftByKey) instead of
// saving a second; a key the account has is not saved again, even at
// once from two requests; another account's key is not the account's;
// once the draft is sent or deleted, its key says so (ErrDraftGone) and
// still makes no new draft: a page saving "as a new draft" takes a new
// key.
func testDraftKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "mallory@example.org")
	alice, mallory := accs[0], accs[1]
	drafts := must(s.Mailbox(ctx, alice.ID, store.Drafts))
	only := func(step string, acct, mailbox, want int64) {
		t.Helper()
		live := must(s.Messages(ctx, acct, mailbox))
		if len(live) != 1 || live[0].ID != want {
			t.Fatalf("%s: Drafts holds %+v, want only %d", step, live, want)
		}
	}
	byKey := func(step string, acct int64, key string, want int64) {
		t.Helper()
		if got, err := s.DraftByKey(ctx, acct, key); err != nil || got != want {
			t.Fatalf("%s: DraftByKey(%q) = %d, %v; want %d", step, key, got, err, want)
		}
	}
	const key = "k0-AAAAAAAAAAAAAAAAAAAAAA"

	if _, err := s.DraftByKey(ctx, alice.ID, key); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDraftGone) {
		t.Fatalf("DraftByKey of a key never saved: %v, want plain ErrNotFound", err)
	}
	first := must(s.SaveDraft(ctx, alice.ID, 0, keyed("first", key))).MessageID
	byKey("first save", alice.ID, key, first)
	// The page never learnt first: its next save names only the key.
	// Saved as new, it is refused and stores nothing.
	if _, err := s.SaveDraft(ctx, alice.ID, 0, keyed("second copy", key)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a second new draft with the same key: %v, want ErrExists", err)
	}
	only("key refused", alice.ID, drafts.ID, first)
	// Saved on the draft the key finds, it replaces it.
	second := must(s.SaveDraft(ctx, alice.ID, must(s.DraftByKey(ctx, alice.ID, key)), keyed("second", key))).MessageID
	byKey("replaced", alice.ID, key, second)
	only("replaced", alice.ID, drafts.ID, second)
	third := must(s.SaveDraft(ctx, alice.ID, second, keyed("third", "")))
	byKey("replaced again", alice.ID, key, third.MessageID)

	// Mallory's page with the same key makes Mallory's own draft.
	if _, err := s.DraftByKey(ctx, mallory.ID, key); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDraftGone) {
		t.Fatalf("Mallory finds Alice's key: %v, want plain ErrNotFound", err)
	}
	theirs := must(s.SaveDraft(ctx, mallory.ID, 0, keyed("mallory", key))).MessageID
	byKey("another account's", mallory.ID, key, theirs)
	byKey("another account saved the key", alice.ID, key, third.MessageID)
	only("another account saved the key", mallory.ID, must(s.Mailbox(ctx, mallory.ID, store.Drafts)).ID, theirs)
	only("another account saved the key", alice.ID, drafts.ID, third.MessageID)

	// Two requests with a new key at once (a save and the send after
	// it): one draft.
	const both = "k1-BBBBBBBBBBBBBBBBBBBBBB"
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.SaveDraft(ctx, alice.ID, 0, keyed("at once", both))
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), store.ErrExists) {
		t.Fatalf("two new drafts with one key at once: %v; want one saved, one ErrExists", errs)
	}
	atOnce := must(s.DraftByKey(ctx, alice.ID, both))
	if live := must(s.Messages(ctx, alice.ID, drafts.ID)); len(live) != 2 {
		t.Fatalf("Drafts holds %d after two saves at once with one key, want 2 (one per key)", len(live))
	}

	// Deleted: the key says so, and still saves nothing new.
	if err := s.Expunge(ctx, alice.ID, drafts.ID, []int64{atOnce}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DraftByKey(ctx, alice.ID, both); !errors.Is(err, store.ErrDraftGone) {
		t.Fatalf("DraftByKey of a deleted draft: %v, want ErrDraftGone", err)
	}
	// Sent: likewise.
	e := must(s.ScheduleSend(ctx, alice.ID, third.MessageID, time.Now(), "192.0.2.1"))
	if claimed := must(s.ClaimSends(ctx, time.Now().Add(time.Second), time.Minute, 10)); len(claimed) != 1 || claimed[0].ID != e.ID {
		t.Fatalf("claimed %+v", claimed)
	}
	if err := s.FinishSend(ctx, alice.ID, e.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DraftByKey(ctx, alice.ID, key); !errors.Is(err, store.ErrDraftGone) {
		t.Fatalf("DraftByKey of a sent draft: %v, want ErrDraftGone", err)
	}
	for _, k := range []string{key, both} {
		if _, err := s.SaveDraft(ctx, alice.ID, 0, keyed("after", k)); !errors.Is(err, store.ErrExists) {
			t.Fatalf("a new draft with the key %q of a draft gone: %v, want ErrExists", k, err)
		}
	}
	if live := must(s.Messages(ctx, alice.ID, drafts.ID)); len(live) != 0 {
		t.Fatalf("Drafts holds %+v after the keyed drafts went, want none", live)
	}
	byKey("Alice's drafts gone", mallory.ID, key, theirs)
}
