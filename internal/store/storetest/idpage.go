package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMessagesByID pages through a mailbox of over 5,000 messages with
// MessagesByID, as the API's message list does, and checks that every
// message of the selection comes exactly once, in id order, in pages no
// longer than asked: live or deleted, every mailbox or one, whatever the
// page size; another account's messages never come.
func testMessagesByID(t *testing.T, s store.Store) {
	ctx := context.Background()
	bob, eve, in := bobAndEve(t, s)
	arch := must(s.CreateMailbox(ctx, bob.ID, "Archive", ""))
	base := time.Now().Add(-time.Hour)
	for i := range 10 {
		// Received runs against the id order: the list is by id, not by
		// date.
		raw := fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n", i, i)
		deliver(t, s, []byte(raw), base.Add(-time.Duration(i)*time.Minute),
			store.Copy{AccountID: bob.ID, Mailbox: store.Inbox}, store.Copy{AccountID: eve.ID, Mailbox: store.Inbox})
	}
	deliver(t, s, []byte("Subject: archived\r\n\r\nbody\r\n"), base, store.Copy{AccountID: bob.ID, Mailbox: "Archive"})
	// Doubling the INBOX nine times makes 5,120 messages; a copy into
	// Archive between doublings mixes the two mailboxes' ids.
	for range 9 {
		must(s.Copy(ctx, bob.ID, in.ID, must(s.UIDs(ctx, bob.ID, in.ID)), in.ID))
		must(s.Copy(ctx, bob.ID, arch.ID, must(s.UIDs(ctx, bob.ID, arch.ID))[:1], arch.ID))
	}
	// Every 50th INBOX message and one in Archive deleted.
	inUIDs := must(s.UIDs(ctx, bob.ID, in.ID))
	var gone []uint32
	for i := 0; i < len(inUIDs); i += 50 {
		gone = append(gone, inUIDs[i])
	}
	if err := s.ExpungeUIDs(ctx, bob.ID, in.ID, gone); err != nil {
		t.Fatal(err)
	}
	if err := s.ExpungeUIDs(ctx, bob.ID, arch.ID, must(s.UIDs(ctx, bob.ID, arch.ID))[3:4]); err != nil {
		t.Fatal(err)
	}

	sorted := func(lists ...[]store.Message) []int64 {
		var out []int64
		for _, l := range lists {
			out = append(out, ids(l...)...)
		}
		slices.Sort(out)
		return out
	}
	liveIn, liveArch := must(s.Messages(ctx, bob.ID, in.ID)), must(s.Messages(ctx, bob.ID, arch.ID))
	delIn, delArch := must(s.Expunged(ctx, bob.ID, in.ID)), must(s.Expunged(ctx, bob.ID, arch.ID))
	if len(liveIn) < 5000 || len(delIn) == 0 || len(delArch) != 1 {
		t.Fatalf("set-up: %d live and %d deleted in INBOX, %d deleted in Archive", len(liveIn), len(delIn), len(delArch))
	}
	cases := []struct {
		name string
		q    store.IDPage
		want []int64
	}{
		{"live, every mailbox", store.IDPage{}, sorted(liveIn, liveArch)},
		{"live, INBOX", store.IDPage{MailboxID: in.ID}, sorted(liveIn)},
		{"live, Archive", store.IDPage{MailboxID: arch.ID}, sorted(liveArch)},
		{"deleted, every mailbox", store.IDPage{Deleted: true}, sorted(delIn, delArch)},
		{"deleted, Archive", store.IDPage{Deleted: true, MailboxID: arch.ID}, sorted(delArch)},
	}
	for _, c := range cases {
		for _, n := range []int{1000, 97, 1} {
			if n == 1 && len(c.want) > 200 {
				continue // a page of one is checked on the short lists
			}
			q := c.q
			q.Limit = n
			var got []int64
			for pages := 0; ; pages++ {
				if pages > len(c.want)+1 {
					t.Fatalf("%s by %d: the pages never end", c.name, n)
				}
				pg := must(s.MessagesByID(ctx, bob.ID, q))
				if len(pg) > n {
					t.Fatalf("%s by %d: a page of %d", c.name, n, len(pg))
				}
				for _, m := range pg {
					if m.AccountID != bob.ID || m.Expunged != c.q.Deleted || (c.q.MailboxID != 0 && m.MailboxID != c.q.MailboxID) {
						t.Fatalf("%s by %d: listed %+v", c.name, n, m)
					}
				}
				got = append(got, ids(pg...)...)
				if len(pg) < n {
					break
				}
				q.AfterID = pg[len(pg)-1].ID
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s by %d: %d ids, want the %d in id order, each once", c.name, n, len(got), len(c.want))
			}
		}
	}
	// eve's own list is her ten, and bob's mailbox id in her name finds
	// nothing.
	if got := must(s.MessagesByID(ctx, eve.ID, store.IDPage{Limit: 1000})); len(got) != 10 {
		t.Errorf("eve's messages: %d, want 10", len(got))
	}
	if got := must(s.MessagesByID(ctx, eve.ID, store.IDPage{MailboxID: in.ID, Limit: 1000})); len(got) != 0 {
		t.Errorf("bob's INBOX asked for as eve's: %d messages", len(got))
	}
}
