package storetest

import (
	"context"
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
