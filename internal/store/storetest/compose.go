package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testComposeDrafts: a draft saved again replaces its previous version in
// one write, for good (not a deletion to restore), seen by IMAP as an
// expunge; another account's or a non-draft id is ErrNotFound and stores
// nothing.
func testComposeDrafts(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "mallory@example.org")
	alice, mallory := accs[0], accs[1]
	drafts := must(s.Mailbox(ctx, alice.ID, store.Drafts))
	var changes []store.Change
	cancel := s.Subscribe(alice.ID, func(c store.Change) { changes = append(changes, c) })
	defer cancel()

	v1 := must(s.SaveDraft(ctx, alice.ID, 0, store.NewDelivery(Raw("draft-v1", "first"), time.Now())))
	m1 := must(s.Message(ctx, alice.ID, v1.MessageID))
	if m1.MailboxID != drafts.ID || m1.Flags != store.FlagDraft|store.FlagSeen || m1.Subject != "draft-v1" {
		t.Fatalf("first draft %+v", m1)
	}
	v2 := must(s.SaveDraft(ctx, alice.ID, v1.MessageID, store.NewDelivery(Raw("draft-v2", "second"), time.Now())))
	live := must(s.Messages(ctx, alice.ID, drafts.ID))
	if len(live) != 1 || live[0].ID != v2.MessageID || live[0].UID <= v1.UID {
		t.Fatalf("Drafts after replace: %+v", live)
	}
	if string(readBody(t, s, alice.ID, live[0].BodyID)) != string(Raw("draft-v2", "second")) {
		t.Fatal("new draft body differs")
	}
	if _, err := s.Message(ctx, alice.ID, v1.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old draft version: %v, want ErrNotFound", err)
	}
	if exp := must(s.Expunged(ctx, alice.ID, drafts.ID)); len(exp) != 0 {
		t.Fatalf("old draft versions are restorable deletions: %+v", exp)
	}
	if _, err := s.Body(ctx, alice.ID, m1.BodyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old draft body still referenced: %v", err)
	}
	if v := must(s.VanishedSince(ctx, alice.ID, drafts.ID, 0)); !slices.Equal(v, []uint32{v1.UID}) {
		t.Fatalf("vanished %v, want [%d]", v, v1.UID)
	}
	mb := must(s.MailboxByID(ctx, alice.ID, drafts.ID))
	if mb.Messages != 1 || mb.Unseen != 0 {
		t.Fatalf("Drafts counters %+v", mb)
	}
	kinds := []store.ChangeKind{}
	for _, c := range changes {
		kinds = append(kinds, c.Kind)
	}
	if !slices.Equal(kinds, []store.ChangeKind{store.ChangeNew, store.ChangeExpunge, store.ChangeNew}) {
		t.Fatalf("changes %v", kinds)
	}

	// Replacing what is not one's own live draft stores nothing.
	inbox := deliver(t, s, Raw("inbox-msg", "x"), time.Now(), store.Copy{AccountID: alice.ID, Mailbox: store.Inbox})
	for name, tc := range map[string]struct{ acct, replaces int64 }{
		"another account's draft": {mallory.ID, v2.MessageID},
		"an INBOX message":        {alice.ID, inbox[0].MessageID},
		"a replaced version":      {alice.ID, v1.MessageID},
		"never issued":            {alice.ID, 1 << 40},
	} {
		if _, err := s.SaveDraft(ctx, tc.acct, tc.replaces, store.NewDelivery(Raw("evil", "x"), time.Now())); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if n := len(must(s.Messages(ctx, alice.ID, drafts.ID))); n != 1 {
		t.Fatalf("Alice's Drafts holds %d", n)
	}
	md := must(s.Mailbox(ctx, mallory.ID, store.Drafts))
	if n := len(must(s.Messages(ctx, mallory.ID, md.ID))); n != 0 {
		t.Fatalf("Mallory's Drafts holds %d after refused saves", n)
	}
}

// testComposeOutbox: a held message can be cancelled until a sender
// claims it; claims lease and count; a finished send removes the entry
// and the draft in one write; a failure keeps both.
func testComposeOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "mallory@example.org")
	alice, mallory := accs[0], accs[1]
	t0 := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	draft := must(s.SaveDraft(ctx, alice.ID, 0, store.NewDelivery(Raw("to-send", "x"), time.Now())))

	if _, err := s.ScheduleSend(ctx, mallory.ID, draft.MessageID, t0, "192.0.2.7"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule another account's draft: %v", err)
	}
	inbox := deliver(t, s, Raw("inbox-msg", "x"), time.Now(), store.Copy{AccountID: alice.ID, Mailbox: store.Inbox})
	if _, err := s.ScheduleSend(ctx, alice.ID, inbox[0].MessageID, t0, "192.0.2.7"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule a message that is not a draft: %v", err)
	}
	e := must(s.ScheduleSend(ctx, alice.ID, draft.MessageID, t0, "192.0.2.7"))
	if e.ID == 0 || e.DraftID != draft.MessageID || !e.SendAt.Equal(t0) || e.AccountID != alice.ID || e.RemoteIP != "192.0.2.7" {
		t.Fatalf("entry %+v", e)
	}
	if got := must(s.OutboxEntry(ctx, alice.ID, e.ID)); got.ID != e.ID || got.RemoteIP != "192.0.2.7" || !got.Sent.IsZero() {
		t.Fatalf("OutboxEntry %+v", got)
	}
	if _, err := s.OutboxEntry(ctx, mallory.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's outbox entry: %v, want ErrNotFound", err)
	}
	if _, err := s.ScheduleSend(ctx, alice.ID, draft.MessageID, t0, "192.0.2.7"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("schedule twice: %v, want ErrExists", err)
	}
	if next := must(s.NextSend(ctx)); !next.Equal(t0) {
		t.Fatalf("NextSend %v, want %v", next, t0)
	}
	if got := must(s.ClaimSends(ctx, t0.Add(-time.Millisecond), time.Minute, 10)); len(got) != 0 {
		t.Fatalf("claimed before its time: %+v", got)
	}
	if _, err := s.CancelSend(ctx, mallory.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel by another account: %v", err)
	}
	if len(must(s.Outbox(ctx, mallory.ID))) != 0 || len(must(s.Outbox(ctx, alice.ID))) != 1 {
		t.Fatal("outbox lists not scoped by account")
	}
	c := must(s.CancelSend(ctx, alice.ID, e.ID))
	if c.DraftID != draft.MessageID {
		t.Fatalf("cancelled %+v", c)
	}
	if _, err := s.Message(ctx, alice.ID, draft.MessageID); err != nil {
		t.Fatalf("draft gone after undo: %v", err)
	}
	if next := must(s.NextSend(ctx)); !next.IsZero() {
		t.Fatalf("NextSend %v after cancel", next)
	}

	// Claimed: too late to undo.
	e = must(s.ScheduleSend(ctx, alice.ID, draft.MessageID, t0, "192.0.2.7"))
	got := must(s.ClaimSends(ctx, t0, time.Minute, 10))
	if len(got) != 1 || got[0].ID != e.ID || got[0].Attempts != 1 || !got[0].LeaseUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("claim %+v", got)
	}
	if _, err := s.CancelSend(ctx, alice.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel a claimed entry: %v, want ErrNotFound", err)
	}
	if got := must(s.ClaimSends(ctx, t0.Add(30*time.Second), time.Minute, 10)); len(got) != 0 {
		t.Fatalf("claimed under a live lease: %+v", got)
	}
	got = must(s.ClaimSends(ctx, t0.Add(2*time.Minute), time.Minute, 10))
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("reclaim after the lease: %+v", got)
	}
	// A failure keeps entry and draft, and is not claimed again.
	if err := s.FinishSend(ctx, mallory.ID, e.ID, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish by another account: %v", err)
	}
	must(0, s.FinishSend(ctx, alice.ID, e.ID, "recipient refused"))
	if ob := must(s.Outbox(ctx, alice.ID)); len(ob) != 1 || ob[0].Error != "recipient refused" {
		t.Fatalf("outbox after failure %+v", ob)
	}
	if got := must(s.ClaimSends(ctx, t0.Add(time.Hour), time.Minute, 10)); len(got) != 0 {
		t.Fatalf("failed entry claimed: %+v", got)
	}
	must(s.CancelSend(ctx, alice.ID, e.ID)) // the user dismisses it

	// Sent: the draft goes; the entry is no longer listed, claimed or
	// cancellable, but its own account still finds it (the undo page).
	e = must(s.ScheduleSend(ctx, alice.ID, draft.MessageID, t0, "192.0.2.7"))
	must(s.ClaimSends(ctx, t0, time.Minute, 10))
	must(0, s.FinishSend(ctx, alice.ID, e.ID, ""))
	if len(must(s.Outbox(ctx, alice.ID))) != 0 {
		t.Fatal("sent entry still listed")
	}
	if got := must(s.OutboxEntry(ctx, alice.ID, e.ID)); got.Sent.IsZero() {
		t.Fatalf("sent entry %+v without Sent", got)
	}
	if _, err := s.OutboxEntry(ctx, mallory.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another account's sent entry: %v, want ErrNotFound", err)
	}
	if got := must(s.ClaimSends(ctx, t0.Add(time.Hour), time.Minute, 10)); len(got) != 0 {
		t.Fatalf("sent entry claimed again: %+v", got)
	}
	if _, err := s.CancelSend(ctx, alice.ID, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel a sent entry: %v, want ErrNotFound", err)
	}
	if next := must(s.NextSend(ctx)); !next.IsZero() {
		t.Fatalf("NextSend %v with only a sent entry", next)
	}
	if _, err := s.Message(ctx, alice.ID, draft.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("draft kept after send: %v", err)
	}
	if err := s.FinishSend(ctx, alice.ID, e.ID, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish twice: %v", err)
	}
}

// testComposeContacts: the recipients of Sent copies become the
// sender's contacts, searchable by address prefix or name; nothing of
// INBOX mail, nothing across accounts.
func testComposeContacts(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "bob@example.org")
	alice, bob := accs[0], accs[1]
	t0 := time.UnixMilli(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC).UnixMilli())
	sent := func(hdr string, at time.Time) {
		raw := []byte("From: alice@example.org\r\n" + hdr + "Subject: s\r\n\r\nbody\r\n")
		deliver(t, s, raw, at, store.Copy{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen})
	}
	sent("To: \"Carol Jones\" <Carol@Example.net>, dave@example.net\r\nCc: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\nBcc: hidden@example.com\r\n", t0)
	sent("To: Carol <carol@example.net>\r\n", t0.Add(time.Hour))
	deliver(t, s, []byte("From: Spammer <spam@bad.test>\r\nTo: alice@example.org\r\nSubject: buy\r\n\r\nx\r\n"), t0,
		store.Copy{AccountID: alice.ID, Mailbox: store.Inbox})

	all := must(s.Contacts(ctx, alice.ID, "", 10))
	var addrs []string
	for _, c := range all {
		addrs = append(addrs, c.Address)
	}
	if len(all) != 4 || all[0].Address != "carol@example.net" || all[0].Uses != 2 || all[0].Name != "Carol" ||
		!all[0].LastUsed.Equal(t0.Add(time.Hour)) || slices.Contains(addrs, "spam@bad.test") {
		t.Fatalf("contacts %+v", all)
	}
	for prefix, want := range map[string][]string{
		"ZO": {"zoe@example.com"}, "zoë": {"zoe@example.com"}, "car": {"carol@example.net"},
		"hid": {"hidden@example.com"}, "example.net": nil, "d": {"dave@example.net"},
	} {
		var got []string
		for _, c := range must(s.Contacts(ctx, alice.ID, prefix, 10)) {
			got = append(got, c.Address)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Contacts(%q) = %q, want %q", prefix, got, want)
		}
	}
	if got := must(s.Contacts(ctx, bob.ID, "", 10)); len(got) != 0 {
		t.Fatalf("Bob sees Alice's contacts: %+v", got)
	}
	if got := must(s.Contacts(ctx, alice.ID, "", 2)); len(got) != 2 {
		t.Fatalf("limit: %d", len(got))
	}
}

// testComposeDeliveryStatus: per recipient, the live queue entry or the
// last log event; scoped to the sending account.
func testComposeDeliveryStatus(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "colleague@example.org", "mallory@example.org")
	alice, colleague, mallory := accs[0], accs[1], accs[2]
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	const mid = "status@example.org"
	ev := func(status store.LogStatus, rcpt, detail string, at time.Time) store.LogEvent {
		return store.LogEvent{Time: at, Status: status, MessageID: mid, MailFrom: alice.Address, Rcpt: rcpt, Detail: detail}
	}
	d := store.NewDelivery(Raw("status", "x"), t0)
	d.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen},
		{AccountID: colleague.ID, Mailbox: store.Inbox}}
	for _, r := range []string{"ok@remote.test", "slow@remote.test", "gone@remote.test", colleague.Address} {
		d.Outbound = append(d.Outbound, store.Outbound{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: r})
	}
	d.Events = []store.LogEvent{ev(msglog.Stored, alice.Address, store.Sent, t0), ev(msglog.Stored, colleague.Address, store.Inbox, t0)}
	for _, o := range d.Outbound {
		d.Events = append(d.Events, ev(msglog.Queued, o.Rcpt, "", t0))
	}
	must(s.Deliver(ctx, d))
	entries := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: alice.ID}))
	byRcpt := map[string]int64{}
	for _, e := range entries {
		byRcpt[e.Rcpt] = e.ID
	}
	t1, next := t0.Add(time.Minute), t0.Add(10*time.Minute)
	must(0, s.SettleQueue(ctx, []store.QueueSettle{
		{ID: byRcpt["ok@remote.test"], Outcome: store.QueueDelivered},
		{ID: byRcpt["slow@remote.test"], Outcome: store.QueueDeferred, Next: next, Error: "mx.remote.test: 451 try later"},
		{ID: byRcpt["gone@remote.test"], Outcome: store.QueueFailed},
	}, ev(msglog.Delivered, "ok@remote.test", "mx.remote.test: 250 ok", t1),
		ev(msglog.Deferred, "slow@remote.test", "mx.remote.test: 451 try later", t1),
		ev(msglog.Bounced, "gone@remote.test", "mx.remote.test: 550 no such user", t1)))

	got := must(s.DeliveryStatus(ctx, alice.ID, mid))
	want := map[string]store.RecipientStatus{
		"ok@remote.test":   {State: store.RecipientDelivered, Detail: "mx.remote.test: 250 ok", Time: t1},
		"slow@remote.test": {State: store.RecipientDeferred, Detail: "mx.remote.test: 451 try later", Attempts: 1, Next: next},
		"gone@remote.test": {State: store.RecipientBounced, Detail: "mx.remote.test: 550 no such user", Time: t1},
		colleague.Address:  {State: store.RecipientQueued, Local: true, Next: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("status %+v", got)
	}
	for _, r := range got {
		w, ok := want[r.Rcpt]
		if !ok || r.State != w.State || r.Detail != w.Detail || r.Attempts != w.Attempts || r.Local != w.Local ||
			!w.Next.IsZero() && !r.Next.Equal(w.Next) || !w.Time.IsZero() && !r.Time.Equal(w.Time) {
			t.Errorf("%s: %+v, want %+v", r.Rcpt, r, w)
		}
	}
	if got := must(s.DeliveryStatus(ctx, mallory.ID, mid)); len(got) != 0 {
		t.Fatalf("another account reads the status: %+v", got)
	}
	if _, err := s.DeliveryStatus(ctx, 1<<40, mid); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
}
