package webmail

import (
	"context"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// bodyCounter counts the reads of message bodies a search makes.
type bodyCounter struct {
	store.Store
	body, open, batch atomic.Int64
}

func (c *bodyCounter) Body(ctx context.Context, acct, id int64) (store.Body, error) {
	c.body.Add(1)
	return c.Store.Body(ctx, acct, id)
}

func (c *bodyCounter) OpenBody(ctx context.Context, acct, id int64) (io.ReadCloser, error) {
	c.open.Add(1)
	return c.Store.OpenBody(ctx, acct, id)
}

func (c *bodyCounter) MessageBodies(ctx context.Context, acct, mb int64, r []store.UIDRange) ([]store.MessageBody, error) {
	c.batch.Add(1)
	return c.Store.MessageBodies(ctx, acct, mb, r)
}

// TestSearchReadsBodiesPerFolder guards the cost of checking search
// candidates (issue 14, search < 100 ms at 100,000 messages): a search
// on the subject or sender reads no body, and one on the text reads the
// bodies of a batch of candidates with one query per folder, not two
// per candidate. A candidate expunged after the listing is left out,
// and the search goes on.
func TestSearchReadsBodiesPerFolder(t *testing.T) {
	st, bob, _ := testStore(t)
	ctx := context.Background()
	if _, err := st.CreateMailbox(ctx, bob.ID, "Projects", ""); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var inbox []store.Message
	for i := range 30 {
		folder := store.Inbox
		if i%3 == 0 {
			folder = "Projects"
		}
		m := put(t, st, bob, folder, "From: Alice <alice@example.org>\nSubject: report "+string(rune('a'+i%26))+"\n\nthe quarterly numbers\n", base.Add(time.Duration(i)*time.Minute), 0)
		if folder == store.Inbox {
			inbox = append(inbox, m)
		}
	}
	c := &bodyCounter{Store: st}
	a := &app{store: c}
	for _, q := range []string{"subject:report", "from:alice"} {
		res, err := a.search(ctx, bob.ID, parseSearch(q, time.UTC), store.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != 30 {
			t.Errorf("%s: %d found, want 30", q, len(res.Messages))
		}
		if n := c.body.Load() + c.open.Load() + c.batch.Load(); n != 0 {
			t.Errorf("%s: %d body reads, want none", q, n)
		}
	}
	res, err := a.search(ctx, bob.ID, parseSearch("numbers", time.UTC), store.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 30 || c.body.Load()+c.open.Load() != 0 || c.batch.Load() != 2 {
		t.Errorf("text search: %d found with %d body and %d content look-ups and %d folder reads, want 30 with 0, 0 and 2",
			len(res.Messages), c.body.Load(), c.open.Load(), c.batch.Load())
	}
	// A candidate expunged after the listing: the check finds no body.
	gone := inbox[3]
	cands, err := st.SearchPage(ctx, bob.ID, store.MailSearch{}, store.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Expunge(ctx, bob.ID, gone.MailboxID, []int64{gone.ID}); err != nil {
		t.Fatal(err)
	}
	bodies := &candidateBodies{a: a, acct: bob.ID, cands: cands}
	q := parseSearch("numbers", time.UTC)
	var kept []int64
	for _, m := range cands {
		ok, err := a.matches(ctx, q, m, bodies)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			kept = append(kept, m.ID)
		}
	}
	if len(kept) != 29 || slices.Contains(kept, gone.ID) {
		t.Errorf("after an expunge: kept %d (%v), want the 29 others", len(kept), slices.Contains(kept, gone.ID))
	}
}
