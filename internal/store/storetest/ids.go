package storetest

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testForeignIDsNotFound guards tenant isolation by construction: every
// method that takes a mailbox, message or body id also takes the account,
// and another account's id (or one that no longer exists) is ErrNotFound
// and changes nothing (issue 11: a reused mailbox id let one account's
// IMAP session read and expunge another's messages).
func testForeignIDsNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	bob, eve := accts[0].ID, accts[1].ID
	var dl []store.Delivered
	for _, subj := range []string{"one", "two", "three"} {
		dl = append(dl, deliver(t, s, Raw(subj, "secret words"), time.Now(), store.Copy{AccountID: bob, Mailbox: store.Inbox, Keywords: []string{"$SecretLabel"}})...)
	}
	deliver(t, s, Raw("eve's", "x"), time.Now(), store.Copy{AccountID: eve, Mailbox: store.Inbox})
	in := must(s.Mailbox(ctx, bob, store.Inbox))
	arch := must(s.CreateMailbox(ctx, bob, "Archive", ""))
	eveIn := must(s.Mailbox(ctx, eve, store.Inbox))
	must(0, s.ExpungeUIDs(ctx, bob, in.ID, []uint32{3}))
	msg := must(s.Message(ctx, bob, dl[0].MessageID))
	expunged := dl[2].MessageID
	gone := must(s.CreateMailbox(ctx, bob, "Gone", ""))
	must(0, s.DeleteMailbox(ctx, bob, "Gone"))
	before := must(s.Mailbox(ctx, bob, store.Inbox))
	beforeFlags := must(s.FlagsByUID(ctx, bob, in.ID, nil))

	uids := []uint32{1, 2}
	all := []store.UIDRange{{First: 1, Last: 100}}
	type call struct {
		name string
		fn   func(account, mailbox int64) error
	}
	err := func(_ any, err error) error { return err }
	mailboxCalls := []call{
		{"MailboxByID", func(a, m int64) error { return err(s.MailboxByID(ctx, a, m)) }},
		{"SetSubscribed", func(a, m int64) error { return s.SetSubscribed(ctx, a, m, false) }},
		{"UIDs", func(a, m int64) error { return err(s.UIDs(ctx, a, m)) }},
		{"MessagesByUID", func(a, m int64) error { return err(s.MessagesByUID(ctx, a, m, nil)) }},
		{"MessagesByUID/ranges", func(a, m int64) error { return err(s.MessagesByUID(ctx, a, m, all)) }},
		{"FlagsByUID", func(a, m int64) error { return err(s.FlagsByUID(ctx, a, m, nil)) }},
		{"FirstUnseen", func(a, m int64) error { return err(s.FirstUnseen(ctx, a, m)) }},
		{"ChangedSince", func(a, m int64) error { return err(s.ChangedSince(ctx, a, m, 0)) }},
		{"VanishedSince", func(a, m int64) error { return err(s.VanishedSince(ctx, a, m, 0)) }},
		{"StoreFlags", func(a, m int64) error {
			_, _, e := s.StoreFlags(ctx, a, m, uids, store.FlagsAdd, store.FlagDeleted, []string{"$Evil"}, 0)
			return e
		}},
		{"StoreFlags/replace", func(a, m int64) error {
			_, _, e := s.StoreFlags(ctx, a, m, uids, store.FlagsReplace, 0, nil, 0)
			return e
		}},
		{"Copy/from", func(a, m int64) error { return err(s.Copy(ctx, a, m, uids, eveIn.ID)) }},
		{"Copy/to", func(a, m int64) error { return err(s.Copy(ctx, a, eveIn.ID, []uint32{1}, m)) }},
		{"Move/from", func(a, m int64) error { return err(s.Move(ctx, a, m, uids, eveIn.ID)) }},
		{"Move/to", func(a, m int64) error { return err(s.Move(ctx, a, eveIn.ID, []uint32{1}, m)) }},
		{"ExpungeUIDs", func(a, m int64) error { return s.ExpungeUIDs(ctx, a, m, uids) }},
		{"ExpungeUIDs/none", func(a, m int64) error { return s.ExpungeUIDs(ctx, a, m, nil) }},
		{"SearchCandidates", func(a, m int64) error {
			return err(s.SearchCandidates(ctx, a, m, []store.SearchTerm{{Value: "secret"}}))
		}},
		{"SearchCandidates/punctuation", func(a, m int64) error {
			return err(s.SearchCandidates(ctx, a, m, []store.SearchTerm{{Value: "..."}}))
		}},
		{"SearchCandidates/subject", func(a, m int64) error {
			return err(s.SearchCandidates(ctx, a, m, []store.SearchTerm{{Field: store.SearchSubject, Value: "secret"}}))
		}},
		{"ExpungeDeleted", func(a, m int64) error { _, _, e := s.ExpungeDeleted(ctx, a, m, nil); return e }},
		{"ExpungeDeleted/ranges", func(a, m int64) error { _, _, e := s.ExpungeDeleted(ctx, a, m, all); return e }},
		{"Messages", func(a, m int64) error { return err(s.Messages(ctx, a, m)) }},
		{"Expunged", func(a, m int64) error { return err(s.Expunged(ctx, a, m)) }},
		{"Expunge", func(a, m int64) error { return s.Expunge(ctx, a, m, []int64{dl[0].MessageID}) }},
		{"Restore", func(a, m int64) error { return err(s.Restore(ctx, a, m, []int64{expunged})) }},
		{"MessagePage", func(a, m int64) error { return err(s.MessagePage(ctx, a, m, store.Cursor{}, 10)) }},
		{"SearchPage/mailbox", func(a, m int64) error {
			return err(s.SearchPage(ctx, a, store.MailSearch{MailboxID: m}, store.Cursor{}, 10))
		}},
		{"SearchPage/mailbox+terms", func(a, m int64) error {
			return err(s.SearchPage(ctx, a, store.MailSearch{MailboxID: m, Terms: []store.SearchTerm{{Value: "secret"}}}, store.Cursor{}, 10))
		}},
	}
	for _, c := range mailboxCalls {
		for _, tc := range []struct {
			what             string
			account, mailbox int64
		}{
			{"another account's mailbox", eve, in.ID},
			{"another account's other mailbox", eve, arch.ID},
			{"a deleted mailbox", bob, gone.ID},
			{"a mailbox id never given", bob, gone.ID + 1000},
			{"a missing account", eve + 1000, in.ID},
		} {
			if e := c.fn(tc.account, tc.mailbox); !errors.Is(e, store.ErrNotFound) {
				t.Errorf("%s on %s: %v, want ErrNotFound", c.name, tc.what, e)
			}
		}
	}

	idCalls := []struct {
		name string
		fn   func(account int64) error
	}{
		{"Message", func(a int64) error { return err(s.Message(ctx, a, msg.ID)) }},
		{"Message/expunged", func(a int64) error { return err(s.Message(ctx, a, expunged)) }},
		{"Body", func(a int64) error { return err(s.Body(ctx, a, msg.BodyID)) }},
		{"OpenBody", func(a int64) error {
			rc, e := s.OpenBody(ctx, a, msg.BodyID)
			if e == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
			return e
		}},
	}
	for _, c := range idCalls {
		if e := c.fn(eve); !errors.Is(e, store.ErrNotFound) {
			t.Errorf("%s of bob's with eve's account: %v, want ErrNotFound", c.name, e)
		}
		if e := c.fn(bob); e != nil {
			t.Errorf("%s with the owner's account: %v", c.name, e)
		}
	}

	// A body only an outbound queue entry refers to (no copy kept) is
	// its sender's alone.
	out := store.NewDelivery(Raw("outbound", "x"), time.Now())
	out.Outbound = []store.Outbound{{AccountID: bob, MailFrom: "bob@example.test", Rcpt: "someone@far.test"}}
	must(s.Deliver(ctx, out))
	queued := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: bob}))
	if len(queued) != 1 {
		t.Fatalf("queue %+v", queued)
	}
	readBody(t, s, bob, queued[0].BodyID)
	if _, e := s.OpenBody(ctx, eve, queued[0].BodyID); !errors.Is(e, store.ErrNotFound) {
		t.Errorf("OpenBody of bob's queued body with eve's account: %v, want ErrNotFound", e)
	}

	// Nothing the foreign calls tried changed bob's mailbox or eve's.
	after := must(s.Mailbox(ctx, bob, store.Inbox))
	if after.Messages != before.Messages || after.HighestModSeq != before.HighestModSeq || after.UIDNext != before.UIDNext || !after.Subscribed {
		t.Errorf("bob's INBOX changed by foreign calls: %+v, was %+v", after, before)
	}
	if got := must(s.FlagsByUID(ctx, bob, in.ID, nil)); !slices.EqualFunc(got, beforeFlags, func(a, b store.MessageFlags) bool {
		return a.UID == b.UID && a.Flags == b.Flags && a.ModSeq == b.ModSeq && slices.Equal(a.Keywords, b.Keywords)
	}) {
		t.Errorf("bob's flags changed by foreign calls: %+v, were %+v", got, beforeFlags)
	}
	if got := must(s.Mailbox(ctx, bob, "Archive")); got.Messages != 0 {
		t.Errorf("foreign copy or move reached bob's Archive: %+v", got)
	}
	if got := must(s.Mailbox(ctx, eve, store.Inbox)); got.Messages != 1 || got.UIDNext != 2 {
		t.Errorf("eve's INBOX changed by calls naming bob's mailboxes: %+v", got)
	}
	if got := must(s.Expunged(ctx, bob, in.ID)); len(got) != 1 || got[0].ID != expunged {
		t.Errorf("bob's expunged message restored by a foreign call: %+v", got)
	}

	// The owner's own calls on an existing, empty mailbox are not errors.
	if u := must(s.UIDs(ctx, bob, arch.ID)); len(u) != 0 {
		t.Errorf("UIDs of empty Archive = %v", u)
	}
	if u := must(s.FirstUnseen(ctx, bob, arch.ID)); u != 0 {
		t.Errorf("FirstUnseen of empty Archive = %d", u)
	}
	must(s.SearchCandidates(ctx, bob, arch.ID, []store.SearchTerm{{Value: "secret"}}))
	must(s.VanishedSince(ctx, bob, arch.ID, 0))
	must(s.Expunged(ctx, bob, arch.ID))
	must(0, s.ExpungeUIDs(ctx, bob, arch.ID, nil))
}

// testIDsNeverReused guards the store contract that an id, once given,
// never names another object, whoever creates the next one (issue 11:
// SQLite gave a deleted mailbox's id to the next mailbox of any account).
func testIDsNeverReused(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	bob, eve := accts[0].ID, accts[1].ID

	// Mailboxes: each deleted one had the highest id when it went, and
	// the next is created by the same account or by another.
	seen := map[int64]bool{}
	var validities []uint32
	for _, a := range []int64{bob, eve} {
		for _, mb := range must(s.Mailboxes(ctx, a)) {
			seen[mb.ID] = true
			validities = append(validities, mb.UIDValidity)
		}
	}
	for _, owner := range []int64{bob, bob, eve, bob, eve, eve} {
		mb := must(s.CreateMailbox(ctx, owner, "box1", ""))
		if seen[mb.ID] {
			t.Fatalf("mailbox id %d given twice", mb.ID)
		}
		seen[mb.ID] = true
		if slices.Contains(validities, mb.UIDValidity) {
			t.Fatalf("UIDVALIDITY %d given twice", mb.UIDValidity)
		}
		validities = append(validities, mb.UIDValidity)
		must(0, s.DeleteMailbox(ctx, owner, "box1"))
		if _, err := s.MailboxByID(ctx, owner, mb.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted mailbox by id: %v", err)
		}
	}

	// Domains and accounts.
	d1 := must(s.CreateDomain(ctx, "gone.test", 0))
	a1 := must(s.CreateAccount(ctx, "x@gone.test", ""))
	must(0, s.DeleteAccount(ctx, "x@gone.test"))
	a2 := must(s.CreateAccount(ctx, "y@gone.test", ""))
	if a2.ID == a1.ID || a2.ID == bob || a2.ID == eve {
		t.Fatalf("account id %d given twice", a2.ID)
	}
	must(0, s.DeleteAccount(ctx, "y@gone.test"))
	must(0, s.DeleteDomain(ctx, "gone.test"))
	if d2 := must(s.CreateDomain(ctx, "new.test", 0)); d2.ID == d1.ID {
		t.Fatalf("domain id %d given twice", d2.ID)
	}

	// Messages, bodies and log records, purged and then delivered again.
	now := time.Now()
	old := deliver(t, s, Raw("old", "b"), now.Add(-40*24*time.Hour), store.Copy{AccountID: bob, Mailbox: store.Inbox})
	oldMsg := must(s.Message(ctx, bob, old[0].MessageID))
	must(0, s.AppendLog(ctx, store.LogEvent{Time: now.Add(-400 * 24 * time.Hour), Status: msglog.Refused, Rcpt: "old@example.test"}))
	oldLog := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Refused}))
	if len(oldLog) != 1 {
		t.Fatalf("log %+v", oldLog)
	}
	for {
		r := must(s.Purge(ctx, now, now.Add(-300*24*time.Hour), 100))
		if r.Messages == 0 && r.Events == 0 {
			break
		}
	}
	if _, err := s.Message(ctx, bob, oldMsg.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged message: %v", err)
	}
	fresh := deliver(t, s, Raw("new", "b"), now, store.Copy{AccountID: eve, Mailbox: store.Inbox})
	freshMsg := must(s.Message(ctx, eve, fresh[0].MessageID))
	if freshMsg.ID == oldMsg.ID {
		t.Fatalf("message id %d given twice", freshMsg.ID)
	}
	if freshMsg.BodyID == oldMsg.BodyID {
		t.Fatalf("body id %d given twice", freshMsg.BodyID)
	}
	if _, err := s.Body(ctx, bob, oldMsg.BodyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purged body: %v", err)
	}
	must(0, s.AppendLog(ctx, store.LogEvent{Time: now, Status: msglog.Refused, Rcpt: "new@example.test"}))
	newLog := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Refused}))
	if len(newLog) != 1 || newLog[0].ID == oldLog[0].ID {
		t.Fatalf("log record id given twice: old %+v, new %+v", oldLog, newLog)
	}
}
