package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMailboxKeywords: a mailbox's Keywords hold every keyword its
// messages got, by delivery, STORE, copy, move or restore, once each
// whatever the case, and do not shrink when a keyword is removed (IMAP
// FLAGS lists them, RFC 9051 section 7.3.5).
func testMailboxKeywords(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	kwOf := func(name string) []string {
		t.Helper()
		mb := must(s.Mailbox(ctx, a.ID, name))
		k := slices.Clone(mb.Keywords)
		slices.Sort(k)
		return k
	}
	if k := kwOf(store.Inbox); len(k) != 0 {
		t.Fatalf("new INBOX keywords %v", k)
	}
	d := deliver(t, s, Raw("k1", "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox, Keywords: []string{"$Label1"}})
	deliver(t, s, Raw("k2", "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	in := d[0].MailboxID
	if k := kwOf(store.Inbox); !slices.Equal(k, []string{"$Label1"}) {
		t.Fatalf("after delivery %v", k)
	}
	if _, _, err := s.StoreFlags(ctx, a.ID, in, []uint32{2}, store.FlagsAdd, 0, []string{"$label1", "Work"}, 0); err != nil {
		t.Fatal(err)
	}
	if k := kwOf(store.Inbox); !slices.Equal(k, []string{"$Label1", "Work"}) {
		t.Fatalf("after STORE %v", k)
	}
	if _, _, err := s.StoreFlags(ctx, a.ID, in, []uint32{1, 2}, store.FlagsReplace, 0, nil, 0); err != nil {
		t.Fatal(err)
	}
	if k := kwOf(store.Inbox); !slices.Equal(k, []string{"$Label1", "Work"}) {
		t.Fatalf("after removing every keyword %v", k)
	}
	if _, _, err := s.StoreFlags(ctx, a.ID, in, []uint32{1}, store.FlagsAdd, 0, []string{"Copied"}, 0); err != nil {
		t.Fatal(err)
	}
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	must(s.Copy(ctx, a.ID, in, []uint32{1}, arch.ID))
	if k := kwOf("Archive"); !slices.Equal(k, []string{"Copied"}) {
		t.Fatalf("after COPY %v", k)
	}
	if _, _, err := s.StoreFlags(ctx, a.ID, in, []uint32{2}, store.FlagsAdd, 0, []string{"Moved"}, 0); err != nil {
		t.Fatal(err)
	}
	other := must(s.CreateMailbox(ctx, a.ID, "Other", ""))
	must(s.Move(ctx, a.ID, in, []uint32{2}, other.ID))
	if k := kwOf("Other"); !slices.Equal(k, []string{"Moved"}) {
		t.Fatalf("after MOVE %v", k)
	}
}
