package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

func searchSetup(t *testing.T, s *Store) (store.Account, func(raw string) store.Delivered) {
	t.Helper()
	ctx := context.Background()
	a := bob(t, s)
	return a, func(raw string) store.Delivered {
		t.Helper()
		d := store.NewDelivery([]byte(raw), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		dl, err := s.Deliver(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return dl[0]
	}
}

// TestSearchPartialBody checks that a message too big to index whole is
// a candidate for every search: the word past the indexed part is then
// found by the check that follows, never lost.
func TestSearchPartialBody(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	_, deliver := searchSetup(t, s)
	deliver("Subject: small\r\n\r\nsmall body\r\n")
	big := deliver("Subject: big\r\n\r\n" + strings.Repeat("filler ", 9<<20/7) + "latecomer\r\n")
	got, err := s.SearchCandidates(context.Background(), big.AccountID, big.MailboxID, []store.SearchTerm{{Value: "latecomer"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []uint32{big.UID}) {
		t.Errorf("candidates %v, want the partial message %d", got, big.UID)
	}
}

// TestSearchReindex checks the way from the old index: bodies stored
// before search_fts are candidates for every search until the background
// pass has indexed them, and are then narrowed like new ones.
func TestSearchReindex(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	acct, deliver := searchSetup(t, s)
	var mbID int64
	for i := range 150 {
		mbID = deliver(fmt.Sprintf("Subject: m%d\r\n\r\nword%d\r\n", i, i)).MailboxID
	}
	// Make it look as the migration leaves a database of the old index:
	// no rows in search_fts, every body below the mark.
	err := s.write(context.Background(), func(t *tx) error {
		if _, err := t.Exec("DELETE FROM search_fts"); err != nil {
			return err
		}
		_, err := t.Exec("UPDATE meta SET value = (SELECT max(id) FROM bodies) WHERE key = 'search_unindexed_max'")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.unindexed.Store(1 << 40) // every body, as after the migration
	search := func(s *Store, v string) []uint32 {
		got, err := s.SearchCandidates(context.Background(), acct.ID, mbID, []store.SearchTerm{{Field: store.SearchSubject, Value: v}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := search(s, "m42"); len(got) != 150 {
		t.Errorf("before reindexing: %d candidates, want all 150", len(got))
	}
	s.Close()

	s = open(t, dir) // starts the background pass
	defer s.Close()
	deadline := time.Now().Add(time.Minute)
	for s.unindexed.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.unindexed.Load(); n != 0 {
		t.Fatalf("reindex left mark at %d", n)
	}
	if got := search(s, "m42"); !slices.Equal(got, []uint32{43}) {
		t.Errorf("after reindexing: candidates %v, want [43]", got)
	}
	if got := search(s, "m149"); !slices.Equal(got, []uint32{150}) {
		t.Errorf("after reindexing: candidates %v, want [150]", got)
	}
}

// TestSearchByIndexLooksUpEachBody guards SEARCH on a rare word in a large
// mailbox: the query that starts from the index's matching bodies must
// find each body's messages by messages_body, never scan the mailbox once
// per body (SQLite without statistics chose messages_uid: 23 s at 100,000
// messages instead of 4 ms).
func TestSearchByIndexLooksUpEachBody(t *testing.T) {
	s := open(t, t.TempDir())
	a, deliver := searchSetup(t, s)
	for i := range 50 {
		deliver(fmt.Sprintf("Subject: note %d\r\n\r\nplain words %d\r\n", i, i))
	}
	deliver("Subject: rare\r\n\r\nzebracorn\r\n")
	ctx := context.Background()
	plan := queryPlan(t, s, searchByIndex, `"zebracorn"`, 1)
	if !slices.ContainsFunc(plan, func(d string) bool { return strings.Contains(d, "USING INDEX messages_body (body_id=?)") }) {
		t.Fatalf("plan does not look messages up by body: %q", plan)
	}
	mbs, err := s.Mailboxes(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	uids, err := s.SearchCandidates(ctx, a.ID, mbs[slices.IndexFunc(mbs, func(m store.Mailbox) bool { return m.Name == store.Inbox })].ID,
		[]store.SearchTerm{{Field: store.SearchAnywhere, Value: "zebracorn"}})
	if err != nil || !slices.Equal(uids, []uint32{51}) {
		t.Fatalf("candidates %v, %v; want [51]", uids, err)
	}
}
