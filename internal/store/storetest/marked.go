package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testDeletedMarked checks what the webmail shows of messages marked
// \Deleted but not expunged (an IMAP client's STORE before its EXPUNGE,
// or a webmail delete in its undo window): DeletedPage lists them beside
// the expunged ones, newest first and paged by cursor; RestoreMarked
// clears the mark under the same UID and forgets a pending delete;
// LiveUnseen leaves them out of a folder's unread count while
// Mailbox.Unseen (IMAP's STATUS UNSEEN) still counts them; another
// account's ids are ErrNotFound and its messages never listed.
func testDeletedMarked(t *testing.T, s store.Store) {
	ctx := context.Background()
	bob, eve, in := bobAndEve(t, s)
	base := time.Now().Add(-time.Hour)
	ms := deliverSeries(t, s, bob, base, "m", 8, nil)
	deliver(t, s, []byte("From: a@example.org\r\nSubject: eve's\r\n\r\nbody\r\n"), base, store.Copy{AccountID: eve.ID, Mailbox: store.Inbox, Flags: store.FlagDeleted})
	unseen := func() (imap, live uint32) {
		return must(s.Mailbox(ctx, bob.ID, store.Inbox)).Unseen, must(s.LiveUnseen(ctx, bob.ID))[in.ID]
	}
	if i, l := unseen(); i != 8 || l != 8 {
		t.Fatalf("unseen before: IMAP %d, live %d, want 8 and 8", i, l)
	}
	// m1 and m3 marked over IMAP, m5 deleted in the webmail (pending),
	// m6 expunged over IMAP, m2 read then marked.
	must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{ms[1].UID, ms[3].UID, ms[6].UID}, store.FlagsAdd, store.FlagDeleted, nil, 0))
	must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{ms[2].UID}, store.FlagsAdd, store.FlagSeen|store.FlagDeleted, nil, 0))
	must2(s.ExpungeDeleted(ctx, bob.ID, in.ID, []store.UIDRange{{First: ms[6].UID, Last: ms[6].UID}}))
	must(s.DeleteLater(ctx, bob.ID, ids(ms[5]), time.Now().Add(time.Hour)))

	want := ids(ms[6], ms[5], ms[3], ms[2], ms[1])
	if got := ids(must(s.DeletedPage(ctx, bob.ID, store.Cursor{}, 50))...); !slices.Equal(got, want) {
		t.Errorf("DeletedPage lists %v, want %v (expunged and marked, newest first)", got, want)
	}
	for _, n := range []int{1, 2, 3} {
		got := ids(pageAll(t, n, func(c store.Cursor, k int) ([]store.Message, error) { return s.DeletedPage(ctx, bob.ID, c, k) })...)
		if !slices.Equal(got, want) {
			t.Errorf("DeletedPage in pages of %d lists %v, want %v", n, got, want)
		}
	}
	if got := must(s.DeletedPage(ctx, eve.ID, store.Cursor{}, 50)); len(got) != 1 {
		t.Errorf("eve's Deleted lists %d messages, want her one", len(got))
	}
	// IMAP's UNSEEN counts every message still in the mailbox; the
	// webmail's count only those it lists (m0, m4, m7).
	if i, l := unseen(); i != 6 || l != 3 {
		t.Errorf("unseen while marked: IMAP %d, live %d, want 6 and 3", i, l)
	}
	if m := must(s.LiveUnseen(ctx, eve.ID)); len(m) == 0 || slices.Contains(mapKeys(m), in.ID) {
		t.Errorf("eve's LiveUnseen %v names bob's INBOX or none of hers", m)
	}

	if _, err := s.RestoreMarked(ctx, eve.ID, ids(ms[1])); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RestoreMarked of another account's message: %v, want ErrNotFound", err)
	}
	got := must(s.RestoreMarked(ctx, bob.ID, ids(ms[1], ms[5], ms[6], ms[0], ms[1])))
	if !slices.Equal(got, ids(ms[1], ms[5])) {
		t.Errorf("RestoreMarked brought back %v, want %v (not the expunged, not the unmarked, once)", got, ids(ms[1], ms[5]))
	}
	// Each message brought back is logged as restored, as Restore logs
	// an expunged one; the refused foreign call and the ids left out
	// log nothing.
	var logged []string
	for _, ev := range must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Restored})) {
		logged = append(logged, ev.Subject)
		if ev.Rcpt != bob.Address || ev.Detail != "restored to "+store.Inbox || ev.MessageID == "" {
			t.Errorf("restored log event %+v: want bob's, restored to %s, with its Message-ID", ev, store.Inbox)
		}
	}
	slices.Sort(logged)
	if !slices.Equal(logged, []string{"m1", "m5"}) {
		t.Errorf("RestoreMarked logged restored events for %q, want m1 and m5", logged)
	}
	for _, m := range []store.Message{ms[1], ms[5]} {
		if now := must(s.Message(ctx, bob.ID, m.ID)); now.Expunged || now.UID != m.UID || now.Flags&store.FlagDeleted != 0 {
			t.Errorf("restored %d: %+v, want live under UID %d without \\Deleted", m.ID, now, m.UID)
		}
	}
	if i, l := unseen(); i != 6 || l != 5 {
		t.Errorf("unseen after restore: IMAP %d, live %d, want 6 and 5", i, l)
	}
	// The pending delete is forgotten: not expunged when it was due.
	if n := must(s.ExpungeDue(ctx, time.Now().Add(2*time.Hour), 100)); n != 0 {
		t.Errorf("ExpungeDue after RestoreMarked looked at %d, want 0", n)
	}
	page := ids(must(s.MessagePage(ctx, bob.ID, in.ID, store.Cursor{}, 50))...)
	for _, m := range []store.Message{ms[1], ms[5]} {
		if !slices.Contains(page, m.ID) {
			t.Errorf("restored %d not listed in INBOX: %v", m.ID, page)
		}
	}
	// Expunging the rest moves them from marked to expunged: each still
	// listed once.
	must2(s.ExpungeDeleted(ctx, bob.ID, in.ID, nil))
	if got := ids(must(s.DeletedPage(ctx, bob.ID, store.Cursor{}, 50))...); !slices.Equal(got, ids(ms[6], ms[3], ms[2])) {
		t.Errorf("after EXPUNGE Deleted lists %v, want %v", got, ids(ms[6], ms[3], ms[2]))
	}
	if i, l := unseen(); i != l {
		t.Errorf("with nothing marked IMAP's unseen %d and live %d differ", i, l)
	}

	// Random marks, unmarks, seen changes and expunges: the live count
	// always equals the unseen messages MessagePage lists.
	r := rand.New(rand.NewPCG(14, 2))
	for range 40 {
		live := must(s.Messages(ctx, bob.ID, in.ID))
		if len(live) == 0 {
			break
		}
		m := live[r.IntN(len(live))]
		switch r.IntN(5) {
		case 0:
			must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{m.UID}, store.FlagsAdd, store.FlagDeleted, nil, 0))
		case 1:
			must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{m.UID}, store.FlagsRemove, store.FlagDeleted, nil, 0))
		case 2:
			must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{m.UID}, store.FlagsRemove, store.FlagSeen, nil, 0))
		case 3:
			must2(s.StoreFlags(ctx, bob.ID, in.ID, []uint32{m.UID}, store.FlagsAdd, store.FlagSeen, nil, 0))
		case 4:
			must(s.RestoreMarked(ctx, bob.ID, []int64{m.ID}))
		}
		listedUnseen := uint32(0)
		for _, x := range must(s.MessagePage(ctx, bob.ID, in.ID, store.Cursor{}, 50)) {
			if x.Flags&store.FlagSeen == 0 {
				listedUnseen++
			}
		}
		if _, l := unseen(); l != listedUnseen {
			t.Fatalf("LiveUnseen %d, but MessagePage lists %d unseen", l, listedUnseen)
		}
	}
}

func mapKeys(m map[int64]uint32) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}
