package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// The parts of the suite that IMAP relies on.

func testMailboxManagement(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	mb := must(s.CreateMailbox(ctx, a.ID, "Projects/2026/Q4", ""))
	if mb.Name != "Projects/2026/Q4" || mb.UIDNext != 1 {
		t.Fatalf("created %+v", mb)
	}
	for _, parent := range []string{"Projects", "Projects/2026"} {
		must(s.Mailbox(ctx, a.ID, parent))
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Projects", ""); !errors.Is(err, store.ErrExists) {
		t.Fatalf("create existing: %v", err)
	}
	for _, bad := range []string{"", "/x", "x/", "a//b", "with*star", "ctl\x01", ".", "..", "a/../b", "a/.", "../up"} {
		if _, err := s.CreateMailbox(ctx, a.ID, bad, ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateMailbox(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Archive", `\Archive`); err != nil {
		t.Fatal(err)
	}
	// INBOX is case-insensitive as the first level of any name, from
	// every front end: "inbox/Receipts" is INBOX's child, found and
	// renamed by any spelling of INBOX, and "inbox" stays undeletable.
	if mb := must(s.CreateMailbox(ctx, a.ID, "inbox/Receipts", "")); mb.Name != "INBOX/Receipts" {
		t.Errorf("created %q, want INBOX/Receipts", mb.Name)
	}
	if mb := must(s.Mailbox(ctx, a.ID, "Inbox/Receipts")); mb.Name != "INBOX/Receipts" {
		t.Errorf("found %q", mb.Name)
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "INBOX/Receipts", ""); !errors.Is(err, store.ErrExists) {
		t.Errorf("create INBOX/Receipts again: %v, want ErrExists", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "iNbOx/Receipts", "inbox/Bills"); err != nil {
		t.Fatal(err)
	}
	must(s.Mailbox(ctx, a.ID, "INBOX/Bills"))
	if _, err := s.Mailbox(ctx, a.ID, "inbox/Receipts"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old name after rename: %v, want ErrNotFound", err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "inbox"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("delete inbox: %v, want ErrInvalid", err)
	}
	for _, mb := range must(s.Mailboxes(ctx, a.ID)) {
		if mb.Name != store.Inbox && strings.EqualFold(mb.Name, store.Inbox) || strings.HasPrefix(mb.Name, "inbox") {
			t.Errorf("a second INBOX: %q", mb.Name)
		}
	}
	if err := s.DeleteMailbox(ctx, a.ID, "inbox/Bills"); err != nil {
		t.Fatal(err)
	}
	// Rename moves children along.
	d := deliver(t, s, Raw("q4", "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: "Projects/2026/Q4"})
	if err := s.RenameMailbox(ctx, a.ID, "Projects", "Work"); err != nil {
		t.Fatal(err)
	}
	q4 := must(s.Mailbox(ctx, a.ID, "Work/2026/Q4"))
	if q4.ID != d[0].MailboxID || q4.Messages != 1 || q4.UIDValidity != mb.UIDValidity {
		t.Fatalf("renamed child %+v", q4)
	}
	if _, err := s.Mailbox(ctx, a.ID, "Projects/2026"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old name still there: %v", err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Work", "Archive"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("rename onto existing: %v", err)
	}
	// Not onto itself nor under itself: the names stay as they were.
	for _, to := range []string{"Work", "Work/Sub", "Work/2026/Q4/x"} {
		if err := s.RenameMailbox(ctx, a.ID, "Work", to); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("rename Work to %s: %v, want ErrInvalid", to, err)
		}
	}
	must(s.Mailbox(ctx, a.ID, "Work"))
	must(s.Mailbox(ctx, a.ID, "Work/2026/Q4"))
	// Renaming INBOX moves its messages and keeps INBOX.
	deliver(t, s, Raw("in", "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	if err := s.RenameMailbox(ctx, a.ID, "inbox", "Old Inbox"); err != nil {
		t.Fatal(err)
	}
	if in := must(s.Mailbox(ctx, a.ID, store.Inbox)); in.Messages != 0 {
		t.Fatalf("INBOX after rename %+v", in)
	}
	if old := must(s.Mailbox(ctx, a.ID, "Old Inbox")); old.Messages != 1 {
		t.Fatalf("renamed INBOX %+v", old)
	}
	// Delete: not INBOX nor special-use; messages go to Trash.
	if err := s.DeleteMailbox(ctx, a.ID, store.Inbox); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("delete INBOX: %v", err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, store.Sent); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("delete Sent: %v", err)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Work/2026/Q4"); err != nil {
		t.Fatal(err)
	}
	trash := must(s.Mailbox(ctx, a.ID, store.Trash))
	if trash.Messages != 1 {
		t.Fatalf("Trash after deleting a folder %+v", trash)
	}
	if err := s.DeleteMailbox(ctx, a.ID, "Nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	if err := s.SetSubscribed(ctx, a.ID, trash.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := must(s.MailboxByID(ctx, a.ID, trash.ID)); got.Subscribed {
		t.Fatal("still subscribed")
	}
}

func testFlags(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	var mbID int64
	for i := range 5 {
		d := deliver(t, s, Raw(fmt.Sprintf("m%d", i), "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		mbID = d[0].MailboxID
	}
	before := must(s.MailboxByID(ctx, a.ID, mbID))
	if u := must(s.FirstUnseen(ctx, a.ID, mbID)); u != 1 {
		t.Fatalf("FirstUnseen = %d, want 1", u)
	}
	changed, modified, err := s.StoreFlags(ctx, a.ID, mbID, []uint32{1, 2, 3}, store.FlagsAdd, store.FlagSeen|store.FlagFlagged, []string{"$Work"}, 0)
	if err != nil || len(changed) != 3 || len(modified) != 0 {
		t.Fatalf("add flags: %v %v %v", changed, modified, err)
	}
	ms := changed[0].ModSeq
	if ms != before.HighestModSeq+1 || changed[2].ModSeq != ms || !slices.Equal(changed[0].Keywords, []string{"$Work"}) {
		t.Fatalf("changed %+v (highestmodseq before %d)", changed, before.HighestModSeq)
	}
	if u := must(s.FirstUnseen(ctx, a.ID, mbID)); u != 4 {
		t.Fatalf("FirstUnseen after \\Seen on 1-3 = %d, want 4", u)
	}
	after := must(s.MailboxByID(ctx, a.ID, mbID))
	if after.Unseen != 2 || after.HighestModSeq != ms {
		t.Fatalf("mailbox after store %+v", after)
	}
	// No change, no new modseq.
	if changed, _, _ := s.StoreFlags(ctx, a.ID, mbID, []uint32{1}, store.FlagsAdd, store.FlagSeen, nil, 0); len(changed) != 0 {
		t.Fatalf("no-op store changed %+v", changed)
	}
	// UNCHANGEDSINCE: 1 was changed at ms, so a store conditional on
	// ms-1 refuses it; 4 is older and gets changed.
	changed, modified, _ = s.StoreFlags(ctx, a.ID, mbID, []uint32{1, 4}, store.FlagsRemove, store.FlagSeen, []string{"$work"}, ms-1)
	if len(modified) != 1 || modified[0] != 1 || len(changed) != 0 {
		t.Fatalf("unchangedsince: changed %+v modified %v", changed, modified)
	}
	changed, _, _ = s.StoreFlags(ctx, a.ID, mbID, []uint32{2}, store.FlagsRemove, store.FlagSeen, []string{"$WORK"}, 0)
	if len(changed) != 1 || changed[0].Flags != store.FlagFlagged || len(changed[0].Keywords) != 0 {
		t.Fatalf("remove flags %+v", changed)
	}
	changed, _, _ = s.StoreFlags(ctx, a.ID, mbID, []uint32{3}, store.FlagsReplace, store.FlagDraft, []string{"a", "A", "b"}, 0)
	if len(changed) != 1 || changed[0].Flags != store.FlagDraft || !slices.Equal(changed[0].Keywords, []string{"a", "b"}) {
		t.Fatalf("replace flags %+v", changed)
	}
	if _, _, err := s.StoreFlags(ctx, a.ID, mbID, []uint32{1}, store.FlagsAdd, 0, []string{"bad keyword"}, 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad keyword: %v", err)
	}
	all := must(s.FlagsByUID(ctx, a.ID, mbID, nil))
	if len(all) != 5 || all[0].Flags != store.FlagSeen|store.FlagFlagged {
		t.Fatalf("FlagsByUID %+v", all)
	}
	if some := must(s.FlagsByUID(ctx, a.ID, mbID, []store.UIDRange{{First: 2, Last: 3}, {First: 5, Last: 9}})); len(some) != 3 || some[2].UID != 5 {
		t.Fatalf("FlagsByUID ranges %+v", some)
	}
	if full := must(s.MessagesByUID(ctx, a.ID, mbID, []store.UIDRange{{First: 4, Last: 4}})); len(full) != 1 || full[0].Subject != "m3" {
		t.Fatalf("MessagesByUID %+v", full)
	}
	cur := must(s.MailboxByID(ctx, a.ID, mbID)).HighestModSeq
	if ch := must(s.ChangedSince(ctx, a.ID, mbID, ms)); len(ch) != 2 { // 2 and 3 changed after ms
		t.Fatalf("ChangedSince(%d) = %+v", ms, ch)
	}
	if err := s.ExpungeUIDs(ctx, a.ID, mbID, []uint32{2, 5}); err != nil {
		t.Fatal(err)
	}
	if v := must(s.VanishedSince(ctx, a.ID, mbID, cur)); !slices.Equal(v, []uint32{2, 5}) {
		t.Fatalf("VanishedSince = %v", v)
	}
	if u := must(s.UIDs(ctx, a.ID, mbID)); !slices.Equal(u, []uint32{1, 3, 4}) {
		t.Fatalf("UIDs = %v", u)
	}
}

// testExpungeDeleted: only messages carrying \Deleted when the expunge
// runs go, within the ranges given (issue 11 part 2: an expunge decided
// from flags read earlier removed a message whose \Deleted had been
// taken off since).
func testExpungeDeleted(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	var mbID int64
	for i := range 5 {
		d := deliver(t, s, Raw(fmt.Sprintf("m%d", i), "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		mbID = d[0].MailboxID
	}
	for _, op := range []struct {
		uids []uint32
		op   store.FlagOp
	}{{[]uint32{1, 3, 4, 5}, store.FlagsAdd}, {[]uint32{4}, store.FlagsRemove}} {
		if _, _, err := s.StoreFlags(ctx, a.ID, mbID, op.uids, op.op, store.FlagDeleted, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	before := must(s.MailboxByID(ctx, a.ID, mbID))
	// The modseq returned is the mailbox's after the expunge, one above
	// it before when nothing else wrote (what lets an IMAP session skip
	// its re-read), and 0 when nothing was expunged.
	if got, modseq := must2(s.ExpungeDeleted(ctx, a.ID, mbID, []store.UIDRange{{First: 2, Last: 4}})); !slices.Equal(got, []uint32{3}) || modseq != before.HighestModSeq+1 {
		t.Fatalf("ExpungeDeleted(2:4) = %v at modseq %d, want [3] at %d", got, modseq, before.HighestModSeq+1)
	}
	if got, modseq := must2(s.ExpungeDeleted(ctx, a.ID, mbID, nil)); !slices.Equal(got, []uint32{1, 5}) || modseq != must(s.MailboxByID(ctx, a.ID, mbID)).HighestModSeq {
		t.Fatalf("ExpungeDeleted(all) = %v at modseq %d, want [1 5] at the mailbox's", got, modseq)
	}
	if got, modseq := must2(s.ExpungeDeleted(ctx, a.ID, mbID, nil)); len(got) != 0 || modseq != 0 {
		t.Fatalf("ExpungeDeleted again = %v at modseq %d, want none at 0", got, modseq)
	}
	if u := must(s.UIDs(ctx, a.ID, mbID)); !slices.Equal(u, []uint32{2, 4}) {
		t.Fatalf("UIDs after ExpungeDeleted = %v", u)
	}
	after := must(s.MailboxByID(ctx, a.ID, mbID))
	if after.Messages != 2 || after.HighestModSeq <= before.HighestModSeq {
		t.Fatalf("mailbox after ExpungeDeleted %+v (before %+v)", after, before)
	}
	if v := must(s.VanishedSince(ctx, a.ID, mbID, before.HighestModSeq)); !slices.Equal(v, []uint32{1, 3, 5}) {
		t.Fatalf("VanishedSince = %v", v)
	}
	if exp := must(s.Expunged(ctx, a.ID, mbID)); len(exp) != 3 {
		t.Fatalf("expunged messages not restorable: %+v", exp)
	}
}

func testCopyMove(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	a := accts[0]
	for i := range 3 {
		deliver(t, s, Raw(fmt.Sprintf("m%d", i), "x"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox, Flags: store.FlagSeen})
	}
	in := must(s.Mailbox(ctx, a.ID, store.Inbox))
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	cp := must(s.Copy(ctx, a.ID, in.ID, []uint32{1, 3, 99}, arch.ID))
	if !slices.Equal(cp, []store.CopiedUID{{From: 1, To: 1}, {From: 3, To: 2}}) {
		t.Fatalf("copy %v", cp)
	}
	mv := must(s.Move(ctx, a.ID, in.ID, []uint32{2}, arch.ID))
	if !slices.Equal(mv, []store.CopiedUID{{From: 2, To: 3}}) {
		t.Fatalf("move %v", mv)
	}
	if got := must(s.UIDs(ctx, a.ID, in.ID)); !slices.Equal(got, []uint32{1, 3}) {
		t.Fatalf("inbox after move %v", got)
	}
	if got := must(s.Mailbox(ctx, a.ID, "Archive")); got.Messages != 3 || got.Unseen != 0 || got.UIDNext != 4 {
		t.Fatalf("archive %+v", got)
	}
	// A moved message is not a deletion: nothing to restore in INBOX.
	if exp := must(s.Expunged(ctx, a.ID, in.ID)); len(exp) != 0 {
		t.Fatalf("moved message shows as deleted: %+v", exp)
	}
	if v := must(s.VanishedSince(ctx, a.ID, in.ID, 0)); !slices.Equal(v, []uint32{2}) {
		t.Fatalf("vanished after move %v", v)
	}
	// Copies share the body; deleting the account frees it once.
	msgs := must(s.MessagesByUID(ctx, a.ID, arch.ID, nil))
	orig := must(s.MessagesByUID(ctx, a.ID, in.ID, []store.UIDRange{{First: 1, Last: 1}}))
	if msgs[0].BodyID != orig[0].BodyID {
		t.Fatal("copy duplicated the body")
	}
	// No copying across accounts.
	eveIn := must(s.Mailbox(ctx, accts[1].ID, store.Inbox))
	if _, err := s.Copy(ctx, a.ID, in.ID, []uint32{1}, eveIn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("copy to another account: %v", err)
	}
	if _, err := s.Move(ctx, a.ID, in.ID, []uint32{1}, eveIn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("move to another account: %v", err)
	}
}

func testSearchCandidates(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	bodies := []string{"the quick brown fox", "asdfghjkl keyboard row", "Ünïcode café résumé", "nothing here"}
	var mbID int64
	for i, b := range bodies {
		d := deliver(t, s, Raw(fmt.Sprintf("s%d", i), b), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		mbID = d[0].MailboxID
	}
	// Issue 11 part 5: an address written with comments, a word only in
	// another header field, only in the HTML alternative.
	deliver(t, s, []byte("From: <user-from (comment)@ (comment) domain.org>\r\nReply-To: replyonly@example.net\r\n"+
		"X-Tracking: trackingvalue\r\nSubject: s4\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"+
		"--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>htmlonlyword</p>\r\n--b--\r\n"),
		time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	text := func(v string) store.SearchTerm { return store.SearchTerm{Value: v} }
	field := func(f store.SearchField, v string) store.SearchTerm { return store.SearchTerm{Field: f, Value: v} }
	header := func(name, v string) store.SearchTerm {
		return store.SearchTerm{Field: store.SearchHeader, Header: name, Value: v}
	}
	cases := []struct {
		terms []store.SearchTerm
		want  []uint32 // must be among the candidates
		not   []uint32 // must not
	}{
		{[]store.SearchTerm{text("quick")}, []uint32{1}, []uint32{2, 3, 4, 5}},
		{[]store.SearchTerm{text("QUICK"), text("fox")}, []uint32{1}, nil},
		{[]store.SearchTerm{text("sdfghjk")}, []uint32{2}, nil},
		{[]store.SearchTerm{text("café")}, []uint32{3}, nil},
		{[]store.SearchTerm{text("quick"), text("keyboard")}, nil, []uint32{1, 2, 3, 4, 5}},
		{[]store.SearchTerm{text("zzzz")}, nil, []uint32{1, 2, 3, 4, 5}},
		{[]store.SearchTerm{text("brown fox")}, []uint32{1}, nil},
		{[]store.SearchTerm{field(store.SearchSubject, "s1")}, []uint32{2}, []uint32{1, 3, 4, 5}},
		{[]store.SearchTerm{field(store.SearchSubject, "quick")}, nil, []uint32{1}},
		{[]store.SearchTerm{field(store.SearchBody, "quick")}, []uint32{1}, nil},
		{[]store.SearchTerm{field(store.SearchBody, "alice")}, nil, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{field(store.SearchFrom, "alice@example.org")}, []uint32{1, 2, 3, 4}, []uint32{5}},
		{[]store.SearchTerm{field(store.SearchTo, "alice")}, nil, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{field(store.SearchTo, "bob@example.test")}, []uint32{1, 2, 3, 4}, nil},
		{[]store.SearchTerm{header("Message-ID", "s2@example")}, []uint32{3}, []uint32{1, 2, 4, 5}},
		{[]store.SearchTerm{header("X-Missing", "")}, nil, []uint32{1, 2, 3, 4, 5}},
		{[]store.SearchTerm{field(store.SearchFrom, "user-from@domain.org")}, []uint32{5}, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{text("replyonly@example.net")}, []uint32{5}, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{header("X-Tracking", "trackingvalue")}, []uint32{5}, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{text("htmlonlyword")}, []uint32{5}, []uint32{1, 2, 3, 4}},
		{[]store.SearchTerm{field(store.SearchBody, "htmlonly")}, []uint32{5}, nil},
	}
	for _, c := range cases {
		got := must(s.SearchCandidates(ctx, a.ID, mbID, c.terms))
		// Candidates are a superset: they must include every true match.
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("SearchCandidates(%+v) = %v, missing %d", c.terms, got, w)
			}
		}
		for _, n := range c.not {
			if slices.Contains(got, n) {
				t.Errorf("SearchCandidates(%+v) = %v, does not narrow out %d", c.terms, got, n)
			}
		}
	}
	if got := must(s.SearchCandidates(ctx, a.ID, mbID, []store.SearchTerm{text("...")})); len(got) != 5 {
		t.Errorf("punctuation-only term narrows to %v", got)
	}
	// Words indexed after the first search are found too.
	deliver(t, s, Raw("s5", "zebracorn arrives"), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	if got := must(s.SearchCandidates(ctx, a.ID, mbID, []store.SearchTerm{text("bracor")})); !slices.Equal(got, []uint32{6}) {
		t.Errorf("SearchCandidates after a new delivery = %v, want [6]", got)
	}
}
