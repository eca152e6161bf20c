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

// testQueue covers the outbound queue: entries made with their copies in
// one Deliver, leases, settles, the tenant scope of the admin calls, and
// the body reference each entry holds.
func testQueue(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "carol@other.test")
	alice, carol := accs[0], accs[1]
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())

	raw := Raw("queued", "hello")
	d := store.NewDelivery(raw, t0)
	d.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d.Outbound = []store.Outbound{
		{AccountID: alice.ID, MailFrom: "Alice@example.org", Rcpt: "Bob@Remote.test",
			DSN:    store.DSN{Notify: "SUCCESS,FAILURE", ORcpt: "rfc822;Bob@Remote.test", Ret: "HDRS", EnvID: "env-1"},
			Origin: store.Origin{Client: "laptop.example.org", With: "ESMTPSA"}},
		{AccountID: alice.ID, MailFrom: "alice@example.org", Rcpt: "dave@far.test", Route: "mx.far.test:2525", Continuity: true},
	}
	d.Events = []store.LogEvent{{Status: msglog.Queued, MessageID: "queued@example.org", Rcpt: "bob@remote.test"}}
	must(s.Deliver(ctx, d))
	// Carol's message goes out with no copy at all.
	d2 := store.NewDelivery(Raw("carols", "x"), t0.Add(time.Second))
	d2.Outbound = []store.Outbound{{AccountID: carol.ID, MailFrom: "carol@other.test", Rcpt: "eve@far.test"}}
	must(s.Deliver(ctx, d2))

	bad := store.NewDelivery(raw, t0)
	bad.Outbound = []store.Outbound{{AccountID: alice.ID, MailFrom: "alice@example.org", Rcpt: "not an address"}}
	if _, err := s.Deliver(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("queue for a bad recipient: %v, want ErrInvalid", err)
	}

	bad = store.NewDelivery(raw, t0)
	bad.Outbound = []store.Outbound{{MailFrom: "alice@example.org", Rcpt: "bob@remote.test"}}
	if _, err := s.Deliver(ctx, bad); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("queue without a sending account: %v, want ErrNotFound", err)
	}

	all := must(s.QueueEntries(ctx, store.QueueQuery{}))
	if len(all) != 3 {
		t.Fatalf("queue holds %d entries, want 3: %+v", len(all), all)
	}
	e := all[0]
	// The recipient's local part as it is sent on (store.SendAddress),
	// the domain and the sender (ours) in lower case.
	if e.Rcpt != "Bob@remote.test" || e.RcptDomain != "remote.test" || e.MailFrom != "alice@example.org" ||
		e.AccountID != alice.ID || e.DomainID != alice.DomainID || e.MessageID != "queued@example.org" ||
		e.Subject != "queued" || e.Size != int64(len(raw)) || !e.Queued.Equal(t0) || !e.NextAttempt.Equal(t0) ||
		e.Attempts != 0 || e.BodyID == 0 || all[1].BodyID != e.BodyID {
		t.Fatalf("entry %+v", e)
	}
	if got := readBody(t, s, alice.ID, e.BodyID); string(got) != string(raw) {
		t.Fatalf("queued body %q", got)
	}
	// Tenant scope: an admin of other.test sees only Carol's entry; an
	// empty scope sees nothing.
	if got := must(s.QueueEntries(ctx, store.QueueQuery{DomainIDs: []int64{carol.DomainID}})); len(got) != 1 || got[0].Rcpt != "eve@far.test" {
		t.Fatalf("other.test scope: %+v", got)
	}
	if got := must(s.QueueEntries(ctx, store.QueueQuery{DomainIDs: []int64{}})); len(got) != 0 {
		t.Fatalf("empty scope: %+v", got)
	}
	if got := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: alice.ID})); len(got) != 2 {
		t.Fatalf("alice's entries: %+v", got)
	}
	// What the sender asked of notifications comes back with its entry,
	// from a claim too; the others asked nothing.
	if want := (store.DSN{Notify: "SUCCESS,FAILURE", ORcpt: "rfc822;Bob@Remote.test", Ret: "HDRS", EnvID: "env-1"}); all[0].DSN != want || all[1].DSN != (store.DSN{}) {
		t.Fatalf("dsn %+v %+v", all[0].DSN, all[1].DSN)
	}
	// A per-entry route comes back with its entry; the others have none.
	if all[0].Route != "" || all[1].Route != "mx.far.test:2525" {
		t.Fatalf("routes %q %q", all[0].Route, all[1].Route)
	}
	// So does whether the recipient got a continuity copy.
	if all[0].Continuity || !all[1].Continuity {
		t.Fatalf("continuity %t %t", all[0].Continuity, all[1].Continuity)
	}
	// And how the message came in.
	if all[0].Origin != (store.Origin{Client: "laptop.example.org", With: "ESMTPSA"}) || all[1].Origin != (store.Origin{}) {
		t.Fatalf("origins %+v %+v", all[0].Origin, all[1].Origin)
	}
	// Paging by id: AfterID lists the entries after it, in order.
	if got := must(s.QueueEntries(ctx, store.QueueQuery{AfterID: all[0].ID, Limit: 1})); len(got) != 1 || got[0].ID != all[1].ID {
		t.Fatalf("page after %d: %+v", all[0].ID, got)
	}
	if got := must(s.QueueEntries(ctx, store.QueueQuery{AfterID: all[2].ID})); len(got) != 0 {
		t.Fatalf("page after the last: %+v", got)
	}
	if n := must(s.DeleteQueue(ctx, store.QueueQuery{DomainIDs: []int64{carol.DomainID}}, []int64{e.ID}, t0, "")); n != 0 {
		t.Fatalf("deleted %d of another tenant's entries", n)
	}
	if st := must(s.QueueStats(ctx)); st.Entries != 3 || !st.Oldest.Equal(t0) {
		t.Fatalf("stats %+v", st)
	}

	// Leases: a claim takes what is due and not leased; a second claim
	// before the lease ends gets nothing; after it, the same entries.
	if got := must(s.ClaimQueue(ctx, t0.Add(-time.Minute), time.Minute, 10)); len(got) != 0 {
		t.Fatalf("claimed entries not yet due: %+v", got)
	}
	got := must(s.ClaimQueue(ctx, t0, time.Minute, 2))
	if len(got) != 2 || got[0].ID != e.ID || !got[0].LeaseUntil.Equal(t0.Add(time.Minute)) || got[0].DSN != e.DSN {
		t.Fatalf("first claim %+v", got)
	}
	// A claimed entry's body opens with no look-up, and is the body;
	// an entry listed, not claimed, opens it through its account.
	for _, c := range append(append([]store.QueueEntry{}, got...), e) {
		if c.ID != e.ID && c.BodyKey == "" {
			t.Fatalf("claimed entry without its body's key: %+v", c)
		}
		rc := must(s.OpenQueuedBody(ctx, c))
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != string(raw) {
			t.Fatalf("queued body of entry %d (key %q): %q, %v", c.ID, c.BodyKey, b, err)
		}
	}
	if again := must(s.ClaimQueue(ctx, t0.Add(30*time.Second), time.Minute, 10)); len(again) != 1 || again[0].Rcpt != "eve@far.test" {
		t.Fatalf("claim during lease %+v", again)
	}
	if again := must(s.ClaimQueue(ctx, t0.Add(2*time.Minute), time.Minute, 10)); len(again) != 3 {
		t.Fatalf("claim after lease: %d entries, want 3", len(again))
	}
	// Leases released (a worker starting after a kill): claimed again at
	// once.
	if n := must(s.ReleaseQueueLeases(ctx)); n != 3 {
		t.Fatalf("released %d leases, want 3", n)
	}
	if again := must(s.ClaimQueue(ctx, t0.Add(2*time.Minute), time.Minute, 10)); len(again) != 3 {
		t.Fatalf("claim after the leases were released: %d entries, want 3", len(again))
	}

	// Settle: one delivered, one deferred with its reason, with events.
	next := t0.Add(time.Hour)
	err := s.SettleQueue(ctx, []store.QueueSettle{
		{ID: all[0].ID, Outcome: store.QueueDelivered},
		{ID: all[1].ID, Outcome: store.QueueDeferred, Next: next, Error: "451 try later", DelayNotified: true},
		{ID: 999999, Outcome: store.QueueDelivered}, // already gone: skipped
	}, store.LogEvent{Status: msglog.Delivered, Rcpt: "bob@remote.test", Detail: "250 ok", DomainID: alice.DomainID})
	if err != nil {
		t.Fatal(err)
	}
	left := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: alice.ID}))
	if len(left) != 1 || left[0].ID != all[1].ID || !left[0].NextAttempt.Equal(next) || left[0].Attempts != 1 ||
		left[0].LastError != "451 try later" || !left[0].DelayNotified || !left[0].LeaseUntil.IsZero() {
		t.Fatalf("after settle %+v", left)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Delivered})); len(ev) != 1 || ev[0].Detail != "250 ok" {
		t.Fatalf("delivered events %+v", ev)
	}
	// The deferred entry is due again only at next; retry makes it due now.
	for _, g := range must(s.ClaimQueue(ctx, t0.Add(3*time.Minute), time.Minute, 10)) {
		if g.ID == all[1].ID {
			t.Fatalf("claimed a deferred entry early: %+v", g)
		}
	}
	if n := must(s.RetryQueue(ctx, store.QueueQuery{}, []int64{all[1].ID}, t0.Add(4*time.Minute))); n != 1 {
		t.Fatalf("retried %d", n)
	}
	if got := must(s.ClaimQueue(ctx, t0.Add(4*time.Minute), time.Minute, 10)); len(got) != 2 || got[1].ID != all[1].ID {
		t.Fatalf("claim after retry %+v", got)
	}
	// Released untried (its session broke on another entry): claimed
	// again at once, its attempts and error as they were.
	must(0, s.SettleQueue(ctx, []store.QueueSettle{{ID: all[1].ID, Outcome: store.QueueReleased}}))
	if got := must(s.ClaimQueue(ctx, t0.Add(4*time.Minute), time.Minute, 10)); len(got) != 1 || got[0].ID != all[1].ID ||
		got[0].Attempts != 1 || got[0].LastError != "451 try later" {
		t.Fatalf("claim after release %+v", got)
	}
	// Released with a due time: not claimed before it.
	must(0, s.SettleQueue(ctx, []store.QueueSettle{{ID: all[1].ID, Outcome: store.QueueReleased, Next: t0.Add(30 * time.Minute)}}))
	for _, g := range must(s.ClaimQueue(ctx, t0.Add(29*time.Minute), time.Minute, 10)) {
		if g.ID == all[1].ID {
			t.Fatalf("claimed a released entry before its due time: %+v", g)
		}
	}
	if got := must(s.ClaimQueue(ctx, t0.Add(30*time.Minute), time.Minute, 10)); !slices.ContainsFunc(got, func(e store.QueueEntry) bool {
		return e.ID == all[1].ID && e.Attempts == 1
	}) {
		t.Fatalf("claim at its due time %+v", got)
	}

	// The body outlives its Sent copy while an entry refers to it, and
	// goes with the last reference.
	sent := must(s.Mailbox(ctx, alice.ID, store.Sent))
	msgs := must(s.Messages(ctx, alice.ID, sent.ID))
	must(0, s.Expunge(ctx, alice.ID, sent.ID, []int64{msgs[0].ID}))
	must(s.Purge(ctx, t0.AddDate(1, 0, 0), t0, 100))
	if got := readBody(t, s, alice.ID, e.BodyID); string(got) != string(raw) {
		t.Fatalf("queued body after purge of its copy: %q", got)
	}
	// Deleted once the claim's lease ran out (a leased entry is being
	// delivered, and stays).
	if n := must(s.DeleteQueue(ctx, store.QueueQuery{DomainIDs: []int64{alice.DomainID}}, []int64{all[1].ID}, t0.Add(31*time.Minute), "")); n != 1 {
		t.Fatalf("deleted %d", n)
	}
	if _, err := s.Body(ctx, alice.ID, e.BodyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("body after its last reference: %v, want ErrNotFound", err)
	}

	// A settle may come with a notification to the sender: one Deliver.
	dsn := store.NewDelivery(Raw("bounce", "failed"), t0)
	dsn.Copies = []store.Copy{{AccountID: carol.ID, Mailbox: store.Inbox}}
	dsn.Settle = []store.QueueSettle{{ID: all[2].ID, Outcome: store.QueueFailed}}
	must(s.Deliver(ctx, dsn))
	if st := must(s.QueueStats(ctx)); st.Entries != 0 || !st.Oldest.IsZero() {
		t.Fatalf("stats of an empty queue %+v", st)
	}
}

func testDKIMKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	setup(t, s, "alice@example.org")
	if _, err := s.DKIMKey(ctx, "example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key before one is set: %v, want ErrNotFound", err)
	}
	k := store.DKIMKey{Selector: "s1", Algorithm: "ed25519", PrivateKey: []byte{1, 2, 3}}
	if err := s.SetDKIMKey(ctx, "missing.test", k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key for unknown domain: %v", err)
	}
	if err := s.SetDKIMKey(ctx, "example.org", store.DKIMKey{Selector: "s1", Algorithm: "dsa", PrivateKey: []byte{1}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad algorithm: %v", err)
	}
	must(0, s.SetDKIMKey(ctx, "Example.ORG", k))
	k.Selector, k.Algorithm, k.PrivateKey = "s2", "rsa", []byte{4, 5}
	must(0, s.SetDKIMKey(ctx, "example.org", k))
	got := must(s.DKIMKey(ctx, "example.org"))
	if got.Selector != "s2" || got.Algorithm != "rsa" || string(got.PrivateKey) != "\x04\x05" || got.DomainID == 0 || got.Created.IsZero() {
		t.Fatalf("key %+v", got)
	}
}

// testDKIMRotation: a pending key does not replace the domain's key until
// activated by its selector; activation moves it and retires the old
// key; a pending key replaced meanwhile is not activated under the old
// selector.
func testDKIMRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	setup(t, s, "alice@example.org")
	must(s.CreateDomain(ctx, "other.org", 0))
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if ks := must(s.PendingDKIMKeys(ctx, "")); len(ks) != 0 {
		t.Fatalf("pending keys of a new store: %+v", ks)
	}
	if err := s.SetPendingDKIMKey(ctx, "missing.test", store.DKIMKey{Selector: "p", Algorithm: "rsa", PrivateKey: []byte{1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending key for unknown domain: %v", err)
	}
	if err := s.ActivateDKIMKey(ctx, "example.org", "p1", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("activate without a pending key: %v", err)
	}
	must(0, s.SetDKIMKey(ctx, "example.org", store.DKIMKey{Selector: "old", Algorithm: "rsa", PrivateKey: []byte{9}}))
	must(0, s.SetPendingDKIMKey(ctx, "example.org", store.DKIMKey{Selector: "p1", Algorithm: "ed25519", PrivateKey: []byte{1}}))
	must(0, s.SetPendingDKIMKey(ctx, "example.org", store.DKIMKey{Selector: "p2", Algorithm: "ed25519", PrivateKey: []byte{2}}))
	must(0, s.SetPendingDKIMKey(ctx, "other.org", store.DKIMKey{Selector: "o1", Algorithm: "rsa", PrivateKey: []byte{3}}))
	if k := must(s.DKIMKey(ctx, "example.org")); k.Selector != "old" {
		t.Fatalf("a pending key replaced the domain's key: %+v", k)
	}
	all := must(s.PendingDKIMKeys(ctx, ""))
	if len(all) != 2 || all[0].Domain != "example.org" || all[0].Selector != "p2" || all[1].Domain != "other.org" || all[0].DomainID == 0 {
		t.Fatalf("pending keys %+v", all)
	}
	if one := must(s.PendingDKIMKeys(ctx, "Other.ORG")); len(one) != 1 || one[0].Selector != "o1" || string(one[0].PrivateKey) != "\x03" {
		t.Fatalf("pending keys of other.org %+v", one)
	}
	// p1 was replaced by p2: its record seen in DNS activates nothing.
	if err := s.ActivateDKIMKey(ctx, "example.org", "p1", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("activate a replaced pending key: %v", err)
	}
	must(0, s.ActivateDKIMKey(ctx, "example.org", "p2", at))
	if k := must(s.DKIMKey(ctx, "example.org")); k.Selector != "p2" || k.Algorithm != "ed25519" || string(k.PrivateKey) != "\x02" {
		t.Fatalf("activated key %+v", k)
	}
	if ks := must(s.PendingDKIMKeys(ctx, "example.org")); len(ks) != 0 {
		t.Fatalf("still pending after activation: %+v", ks)
	}
	if r := must(s.RetiredDKIMKeys(ctx, "example.org")); len(r) != 1 || r[0].Selector != "old" || !r[0].Retired.Equal(at) {
		t.Fatalf("retired keys %+v", r)
	}
	// A first key retires nothing.
	must(0, s.ActivateDKIMKey(ctx, "other.org", "o1", at))
	if r := must(s.RetiredDKIMKeys(ctx, "other.org")); len(r) != 0 {
		t.Fatalf("retired keys of a domain's first key %+v", r)
	}
}
