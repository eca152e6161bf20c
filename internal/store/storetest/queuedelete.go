package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testQueueDeleteLogged: deleting queue entries writes one "cancelled"
// record per entry deleted, with its sender, recipient, message and
// tenant, saying who deleted it, so that a recipient's last record is no
// longer "queued" or "deferred"; ids of no entry, entries deleted before
// and entries out of scope get none; the sender's delivery status says
// the recipient was cancelled.
func testQueueDeleteLogged(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org", "carol@other.test")
	alice, carol := accs[0], accs[1]
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())

	raw := Raw("dropped", "x")
	d := store.NewDelivery(raw, t0)
	d.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	for _, r := range []string{"bob@remote.test", "dave@far.test", "eve@far.test"} {
		d.Outbound = append(d.Outbound, store.Outbound{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: r})
	}
	must(s.Deliver(ctx, d))
	byRcpt := map[string]store.QueueEntry{}
	for _, e := range must(s.QueueEntries(ctx, store.QueueQuery{})) {
		byRcpt[e.Rcpt] = e
	}
	bob, dave := byRcpt["bob@remote.test"], byRcpt["dave@far.test"]
	t1 := t0.Add(time.Minute)
	must(0, s.SettleQueue(ctx, []store.QueueSettle{{ID: dave.ID, Outcome: store.QueueDeferred, Next: t1, Error: "451 later"}}))

	// Out of scope: nothing deleted, nothing logged.
	if n := must(s.DeleteQueue(ctx, store.QueueQuery{DomainIDs: []int64{carol.DomainID}}, []int64{bob.ID}, t1, "")); n != 0 {
		t.Fatalf("deleted %d entries of another tenant", n)
	}
	if evs := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Cancelled})); len(evs) != 0 {
		t.Fatalf("records of a delete that deleted nothing: %+v", evs)
	}
	// bob's twice, and an id of no entry.
	n := must(s.DeleteQueue(ctx, store.QueueQuery{DomainIDs: []int64{alice.DomainID}}, []int64{bob.ID, dave.ID, 1 << 40, bob.ID},
		t1, "an administrator on the command line"))
	if n != 2 {
		t.Fatalf("deleted %d entries, want 2", n)
	}
	if n := must(s.DeleteQueue(ctx, store.QueueQuery{}, []int64{bob.ID, dave.ID}, t1.Add(time.Second), "")); n != 0 {
		t.Fatalf("deleted %d entries deleted before", n)
	}
	evs := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Cancelled}))
	if len(evs) != 2 {
		t.Fatalf("%d cancelled records, want one per entry deleted: %+v", len(evs), evs)
	}
	got := map[string]store.LogEvent{}
	for _, e := range evs {
		got[e.Rcpt] = e
	}
	for rcpt, when := range map[string]string{"bob@remote.test": "before its first attempt", "dave@far.test": "after 1 attempt"} {
		e, ok := got[rcpt]
		if !ok || e.MailFrom != alice.Address || e.MessageID != "dropped@example.org" || e.Subject != "dropped" ||
			e.Size != int64(len(raw)) || e.DomainID != alice.DomainID || !e.Time.Equal(t1) ||
			!strings.Contains(e.Detail, "deleted from the queue by an administrator on the command line "+when) ||
			!strings.Contains(e.Detail, "not delivered") {
			t.Errorf("record for %s: %+v", rcpt, e)
		}
	}
	// Searching the recipient's log ends with the delete.
	if last := must(s.SearchLog(ctx, store.LogQuery{Address: "dave@far.test", Limit: 1})); len(last) != 1 || last[0].Status != msglog.Cancelled {
		t.Errorf("dave's last record: %+v", last)
	}
	if left := must(s.QueueEntries(ctx, store.QueueQuery{})); len(left) != 1 || left[0].Rcpt != "eve@far.test" {
		t.Errorf("queue after the delete: %+v", left)
	}
	// A delete that names no one says an administrator did it.
	must(s.DeleteQueue(ctx, store.QueueQuery{}, []int64{byRcpt["eve@far.test"].ID}, t1, ""))
	if e := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Cancelled, Address: "eve@far.test"})); len(e) != 1 ||
		!strings.Contains(e[0].Detail, "deleted from the queue by an administrator before") {
		t.Errorf("eve's record: %+v", e)
	}
	// The sender's delivery status of the message says so too.
	status := must(s.DeliveryStatus(ctx, alice.ID, "dropped@example.org"))
	if len(status) != 3 {
		t.Errorf("delivery status of %d recipients, want 3: %+v", len(status), status)
	}
	for _, r := range status {
		if r.State != store.RecipientCancelled || !r.Time.Equal(t1) {
			t.Errorf("delivery status of %s: %+v, want cancelled at %v", r.Rcpt, r, t1)
		}
	}
}

// testQueueDeleteLeavesLeased: an entry leased when a delete comes is
// being delivered, its outcome unknown; the delete leaves it, names it in
// a *store.SendingError and logs no "cancelled" record for it (one saying
// "not delivered" could be followed by its delivery), deletes the others
// all the same, and deletes it once its lease has run out. The attempt's
// outcome is then the recipient's last record.
func testQueueDeleteLeavesLeased(t *testing.T, s store.Store) {
	ctx := context.Background()
	accs := setup(t, s, "alice@example.org")
	alice := accs[0]
	t0 := time.UnixMilli(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC).UnixMilli())

	d := store.NewDelivery(Raw("in flight", "x"), t0)
	d.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	for _, r := range []string{"bob@remote.test", "dave@far.test"} {
		d.Outbound = append(d.Outbound, store.Outbound{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: r})
	}
	must(s.Deliver(ctx, d))
	claimed := must(s.ClaimQueue(ctx, t0, 15*time.Minute, 1))
	if len(claimed) != 1 {
		t.Fatalf("claimed %d entries, want 1", len(claimed))
	}
	leased := claimed[0]
	var other store.QueueEntry
	for _, e := range must(s.QueueEntries(ctx, store.QueueQuery{})) {
		if e.ID != leased.ID {
			other = e
		}
	}

	t1 := t0.Add(time.Minute)
	n, err := s.DeleteQueue(ctx, store.QueueQuery{DomainIDs: []int64{alice.DomainID}}, []int64{leased.ID, other.ID}, t1, "")
	var sending *store.SendingError
	if !errors.As(err, &sending) || !errors.Is(err, store.ErrSending) || len(sending.IDs) != 1 || sending.IDs[0] != leased.ID {
		t.Fatalf("delete of a leased entry and another: err %v, want a SendingError naming %d", err, leased.ID)
	}
	if n != 1 {
		t.Fatalf("deleted %d entries, want the one not leased", n)
	}
	if left := must(s.QueueEntries(ctx, store.QueueQuery{})); len(left) != 1 || left[0].ID != leased.ID {
		t.Fatalf("queue after the delete: %+v, want only the leased entry", left)
	}
	if evs := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Cancelled})); len(evs) != 1 || evs[0].Rcpt != other.Rcpt {
		t.Fatalf("cancelled records %+v, want one for %s", evs, other.Rcpt)
	}

	// The attempt ends: delivered, and that is the last word.
	must(0, s.SettleQueue(ctx, []store.QueueSettle{{ID: leased.ID, Outcome: store.QueueDelivered}},
		store.LogEvent{Time: t1.Add(time.Second), Status: msglog.Delivered, MailFrom: alice.Address, Rcpt: leased.Rcpt, DomainID: alice.DomainID}))
	if last := must(s.SearchLog(ctx, store.LogQuery{Address: leased.Rcpt, Limit: 1})); len(last) != 1 || last[0].Status != msglog.Delivered {
		t.Errorf("%s's last record: %+v, want delivered", leased.Rcpt, last)
	}

	// A lease that ran out (its worker died) no longer holds a delete back.
	d2 := store.NewDelivery(Raw("stuck", "y"), t0)
	d2.Copies = []store.Copy{{AccountID: alice.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	d2.Outbound = []store.Outbound{{AccountID: alice.ID, MailFrom: alice.Address, Rcpt: "eve@far.test"}}
	must(s.Deliver(ctx, d2))
	stuck := must(s.ClaimQueue(ctx, t1, time.Minute, 10))
	if len(stuck) != 1 {
		t.Fatalf("claimed %d entries, want 1", len(stuck))
	}
	if n, err := s.DeleteQueue(ctx, store.QueueQuery{}, []int64{stuck[0].ID}, t1.Add(30*time.Second), ""); !errors.Is(err, store.ErrSending) || n != 0 {
		t.Fatalf("delete within the lease: %d, %v", n, err)
	}
	if n, err := s.DeleteQueue(ctx, store.QueueQuery{}, []int64{stuck[0].ID}, t1.Add(time.Minute), ""); err != nil || n != 1 {
		t.Fatalf("delete once the lease ran out: %d, %v, want 1 deleted", n, err)
	}
}
