package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMoveWithinMailbox: Move with the source as destination gives the
// messages new UIDs in their mailbox, keeps their flags, records the old
// UIDs as vanished (not deleted), and leaves the counters as they were
// (IMAP MOVE into the selected mailbox, RFC 6851 section 3.3).
func testMoveWithinMailbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	for i, f := range []store.Flags{store.FlagSeen, 0, store.FlagFlagged} {
		deliver(t, s, Raw(string(rune('a'+i)), "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox, Flags: f, Keywords: []string{"$k"}})
	}
	in := must(s.Mailbox(ctx, a.ID, store.Inbox))
	mv := must(s.Move(ctx, a.ID, in.ID, []uint32{1, 3, 99}, in.ID))
	if !slices.Equal(mv, []store.CopiedUID{{From: 1, To: 4}, {From: 3, To: 5}}) {
		t.Fatalf("move within INBOX: %v", mv)
	}
	if got := must(s.UIDs(ctx, a.ID, in.ID)); !slices.Equal(got, []uint32{2, 4, 5}) {
		t.Fatalf("UIDs after move within: %v", got)
	}
	after := must(s.MailboxByID(ctx, a.ID, in.ID))
	if after.Messages != 3 || after.Unseen != in.Unseen || after.Size != in.Size || after.UIDNext != 6 || after.HighestModSeq <= in.HighestModSeq {
		t.Fatalf("mailbox before %+v, after %+v", in, after)
	}
	if v := must(s.VanishedSince(ctx, a.ID, in.ID, in.HighestModSeq)); !slices.Equal(v, []uint32{1, 3}) {
		t.Fatalf("vanished %v", v)
	}
	if exp := must(s.Expunged(ctx, a.ID, in.ID)); len(exp) != 0 {
		t.Fatalf("moved messages show as deleted: %+v", exp)
	}
	flags := must(s.FlagsByUID(ctx, a.ID, in.ID, []store.UIDRange{{First: 4, Last: 5}}))
	if len(flags) != 2 || flags[0].Flags != store.FlagSeen || flags[1].Flags != store.FlagFlagged || !slices.Equal(flags[1].Keywords, []string{"$k"}) {
		t.Fatalf("flags after move within: %+v", flags)
	}
	changed := must(s.ChangedSince(ctx, a.ID, in.ID, in.HighestModSeq))
	if len(changed) != 2 || changed[0].UID != 4 || changed[1].UID != 5 {
		t.Fatalf("ChangedSince after move within: %+v", changed)
	}
}
