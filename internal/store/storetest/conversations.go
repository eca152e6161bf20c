package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testConversationPages checks store.Conversations against a model:
// random threads (roots, replies with References, replies with only
// In-Reply-To, messages without any id) stored, then flagged, expunged,
// restored, moved, copied and marked \Deleted at random; after each round, paging the
// INBOX and Archive by conversation at several sizes gives exactly the
// live messages grouped by thread root, each at its newest message, with
// its count and unseen count. Another account's mailbox is ErrNotFound.
func testConversationPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, eve, in := bobAndEve(t, s)
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 14))
	root := map[int64]string{} // message id → its thread root, by construction
	var roots []string
	for i := range 80 {
		at := base.Add(time.Duration(rng.IntN(40)) * time.Minute) // shared minutes: ids break ties
		var hdr, key string
		switch k := rng.IntN(10); {
		case k < 3 || len(roots) == 0:
			key = fmt.Sprintf("r%d@example.org", i)
			hdr = "Message-ID: <" + key + ">\r\n"
			roots = append(roots, key)
		case k < 7:
			key = roots[rng.IntN(len(roots))]
			hdr = fmt.Sprintf("Message-ID: <c%d@example.org>\r\nIn-Reply-To: <x%d@example.org>\r\nReferences: <%s> <x%d@example.org>\r\n", i, i, key, i)
		case k < 9:
			key = roots[rng.IntN(len(roots))]
			hdr = fmt.Sprintf("Message-ID: <c%d@example.org>\r\nIn-Reply-To: <%s>\r\n", i, key)
		default:
			key = fmt.Sprintf("none-%d", i) // no ids: alone
		}
		raw := fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: s%d\r\n%s\r\nbody %d\r\n", i, hdr, i)
		box := store.Inbox
		if rng.IntN(4) == 0 {
			box = "Archive"
		}
		var flags store.Flags
		if rng.IntN(2) == 0 {
			flags = store.FlagSeen
		}
		d := deliver(t, s, []byte(raw), at, store.Copy{AccountID: a.ID, Mailbox: box, Flags: flags})
		root[d[0].MessageID] = key
	}
	check := func(round string) {
		t.Helper()
		for _, mb := range []store.Mailbox{in, arch} {
			live := must(s.Messages(ctx, a.ID, mb.ID))
			type conv struct {
				newest        store.Message
				count, unseen int
			}
			byRoot := map[string]*conv{}
			for _, m := range live {
				if m.Flags&store.FlagDeleted != 0 {
					continue // marked \Deleted: on its way out, not listed
				}
				k, ok := root[m.ID]
				if !ok {
					t.Fatalf("%s: message %d of unknown root", round, m.ID)
				}
				c := byRoot[k]
				if c == nil {
					c = &conv{newest: m}
					byRoot[k] = c
				}
				c.count++
				if m.Flags&store.FlagSeen == 0 {
					c.unseen++
				}
				if m.Received.After(c.newest.Received) || m.Received.Equal(c.newest.Received) && m.ID > c.newest.ID {
					c.newest = m
				}
			}
			var want []string
			for _, c := range byRoot {
				want = append(want, fmt.Sprintf("%d/%d/%d@%d", c.newest.ID, c.count, c.unseen, c.newest.Received.UnixMilli()))
			}
			slices.SortFunc(want, func(x, y string) int {
				var ix, iy, rx, ry int64
				var a, b int
				fmt.Sscanf(x, "%d/%d/%d@%d", &ix, &a, &b, &rx)
				fmt.Sscanf(y, "%d/%d/%d@%d", &iy, &a, &b, &ry)
				return cmp.Or(cmp.Compare(ry, rx), cmp.Compare(iy, ix))
			})
			for _, size := range []int{1, 3, 100} {
				var got []string
				c := store.Cursor{}
				for range 200 {
					page := must(s.ConversationPage(ctx, a.ID, mb.ID, c, size))
					if len(page) > size {
						t.Fatalf("%s: a page of %d has %d", round, size, len(page))
					}
					for _, cv := range page {
						if cv.Newest.MailboxID != mb.ID || cv.Newest.Expunged {
							t.Fatalf("%s: newest %+v is not a live message of %s", round, cv.Newest, mb.Name)
						}
						got = append(got, fmt.Sprintf("%d/%d/%d@%d", cv.Newest.ID, cv.Messages, cv.Unseen, cv.Newest.Received.UnixMilli()))
						c = store.CursorOf(cv.Newest)
					}
					if len(page) < size {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s, %s in pages of %d:\n got %v\nwant %v", round, mb.Name, size, got, want)
				}
			}
			checkConversationRows(t, s, a.ID, mb, round)
		}
	}
	check("stored")
	for round := range 6 {
		for _, mb := range []store.Mailbox{in, arch} {
			live := must(s.Messages(ctx, a.ID, mb.ID))
			if len(live) == 0 {
				continue
			}
			pick := func(n int) (uids []uint32, ids []int64) {
				for _, j := range rng.Perm(len(live))[:min(n, len(live))] {
					uids, ids = append(uids, live[j].UID), append(ids, live[j].ID)
				}
				return
			}
			uids, _ := pick(5)
			op := store.FlagsAdd
			if rng.IntN(2) == 0 {
				op = store.FlagsRemove
			}
			must2(s.StoreFlags(ctx, a.ID, mb.ID, uids, op, store.FlagSeen, nil, 0))
			// \Deleted set and cleared (a delete pending, then undone):
			// the message leaves its conversation and comes back.
			uids, _ = pick(2)
			op = store.FlagsAdd
			if rng.IntN(2) == 0 {
				op = store.FlagsRemove
			}
			must2(s.StoreFlags(ctx, a.ID, mb.ID, uids, op, store.FlagDeleted|store.FlagSeen*store.Flags(rng.IntN(2)), nil, 0))
			_, ids := pick(3)
			must(0, s.Expunge(ctx, a.ID, mb.ID, ids))
			if round%2 == 1 {
				must(s.Restore(ctx, a.ID, mb.ID, ids[:1]))
			}
			live = must(s.Messages(ctx, a.ID, mb.ID))
			other := arch
			if mb.ID == arch.ID {
				other = in
			}
			uids, _ = pick(2)
			moved := must(s.Move(ctx, a.ID, mb.ID, uids, other.ID))
			uids, _ = pick(1)
			copied := must(s.Copy(ctx, a.ID, mb.ID, uids, other.ID))
			// A moved or copied message keeps its root: find its new id.
			for _, cu := range append(moved, copied...) {
				ms := must(s.MessagesByUID(ctx, a.ID, other.ID, []store.UIDRange{{First: cu.To, Last: cu.To}}))
				for _, m := range ms {
					if _, ok := root[m.ID]; !ok {
						for _, src := range live {
							if src.UID == cu.From {
								root[m.ID] = root[src.ID]
							}
						}
					}
				}
			}
		}
		check(fmt.Sprintf("round %d", round))
	}
	if _, err := s.ConversationPage(ctx, eve.ID, in.ID, store.Cursor{}, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's mailbox: %v, want ErrNotFound", err)
	}
	if _, err := s.ConversationRows(ctx, eve.ID, in.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConversationRows of another account's mailbox: %v, want ErrNotFound", err)
	}
}

// checkConversationRows: ConversationRows of any set of a mailbox's
// messages (live, \Deleted or expunged, with ids of elsewhere mixed in)
// gives each of their conversations once, as ConversationPage lists it
// under the same Key, or with Messages 0 when ConversationPage lists no
// such conversation.
func checkConversationRows(t *testing.T, s store.Store, acct int64, mb store.Mailbox, round string) {
	t.Helper()
	ctx := context.Background()
	page := map[string]string{}
	for _, cv := range must(s.ConversationPage(ctx, acct, mb.ID, store.Cursor{}, 1000)) {
		if cv.Key == "" || page[cv.Key] != "" {
			t.Fatalf("%s: %s lists an empty or repeated key %q", round, mb.Name, cv.Key)
		}
		page[cv.Key] = fmt.Sprintf("%d/%d/%d", cv.Newest.ID, cv.Messages, cv.Unseen)
	}
	var ids []int64
	for _, m := range must(s.Messages(ctx, acct, mb.ID)) {
		ids = append(ids, m.ID)
	}
	for _, m := range must(s.Expunged(ctx, acct, mb.ID)) {
		ids = append(ids, m.ID)
	}
	ids = append(ids, 1<<40) // no such message: skipped
	// In chunks of odd sizes, as a live list asks for the few messages
	// one change named.
	seen := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), 7)
		for _, cv := range must(s.ConversationRows(ctx, acct, mb.ID, ids[:n])) {
			got := fmt.Sprintf("%d/%d/%d", cv.Newest.ID, cv.Messages, cv.Unseen)
			switch want, listed := page[cv.Key]; {
			case !listed && cv.Messages != 0:
				t.Fatalf("%s: %s row %q %s is not listed", round, mb.Name, cv.Key, got)
			case listed && got != want:
				t.Fatalf("%s: %s row %q is %s, listed as %s", round, mb.Name, cv.Key, got, want)
			}
			seen[cv.Key] = true
		}
		ids = ids[n:]
	}
	for k := range page {
		if !seen[k] {
			t.Fatalf("%s: %s conversation %q had no row from its messages", round, mb.Name, k)
		}
	}
}
