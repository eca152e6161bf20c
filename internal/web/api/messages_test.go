package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// sent is a message of an address: stored, deleted from its INBOX, and
// one copy queued to an outside recipient.
type sent struct {
	mid     string // Message-ID
	deleted int64  // the deleted message's id
	queue   int64  // the queue entry's id
}

func seedMessage(t *testing.T, w *world, address, mid string) sent {
	t.Helper()
	return seed(t, w, address, mid, true)
}

// seed is seedMessage, with an outbound copy or without one: a queue in
// relay mode may deliver that copy before the test can look for it.
func seed(t *testing.T, w *world, address, mid string, outbound bool) sent {
	t.Helper()
	ctx := context.Background()
	acc, err := w.srv.Store.Account(ctx, address)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: " + address + "\r\nTo: someone@elsewhere.example\r\nSubject: Figures\r\nMessage-ID: <" + mid + ">\r\n\r\nHello.\r\n")
	d := store.NewDelivery(raw, time.Now())
	d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Inbox}}
	if outbound {
		d.Outbound = []store.Outbound{{AccountID: acc.ID, MailFrom: address, Rcpt: "someone@elsewhere.example"}}
	}
	d.Events = []store.LogEvent{{Time: time.Now(), Status: msglog.Stored, MessageID: mid, Subject: "Figures",
		MailFrom: address, Rcpt: address, DomainID: acc.DomainID}}
	delivered, err := w.srv.Store.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.srv.Store.Expunge(ctx, acc.ID, delivered[0].MailboxID, []int64{delivered[0].MessageID}); err != nil {
		t.Fatal(err)
	}
	m := sent{mid: mid, deleted: delivered[0].MessageID}
	if !outbound {
		return m
	}
	qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{AccountID: acc.ID})
	if err != nil || len(qs) == 0 {
		t.Fatalf("queue of %s: %v %v", address, qs, err)
	}
	m.queue = qs[len(qs)-1].ID
	return m
}

// exerciseMessages drives the message and queue routes once each, for
// TestEveryRouteAgainstOpenAPI.
func exerciseMessages(t *testing.T, w *world) {
	c1 := w.c.as(w.c1)
	m := seedMessage(t, w, "alice@one.test", "ex-1@one.test")
	tl := c1.want(200, "GET", "/log/"+url.PathEscape("<"+m.mid+">"), nil)
	if evs := tl["events"].([]any); tl["message_id"] != m.mid || len(evs) == 0 {
		t.Errorf("timeline: %v", tl)
	}
	del := c1.want(200, "GET", "/addresses/alice@one.test/messages?deleted=true", nil)["items"].([]any)
	if len(del) != 1 || int64(del[0].(map[string]any)["id"].(float64)) != m.deleted {
		t.Errorf("deleted messages: %v", del)
	}
	res := c1.want(200, "POST", "/addresses/alice@one.test/messages/restore", map[string]any{"ids": []int64{m.deleted}})
	if n := len(res["restored"].([]any)); n != 1 {
		t.Errorf("restored: %v", res)
	}
	live := c1.want(200, "GET", "/addresses/alice@one.test/messages", nil)["items"].([]any)
	if len(live) != 1 || live[0].(map[string]any)["deleted"] != false {
		t.Errorf("live messages after the restore: %v", live)
	}
	// Redeliver: without a relay host on the domain there is nowhere to
	// send it (TestRedeliverGoesToDomainRelayOnce delivers one).
	c1.want(409, "POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}})
	q := c1.want(200, "GET", "/queue", nil)["items"].([]any)
	if len(q) != 1 || int64(q[0].(map[string]any)["id"].(float64)) != m.queue {
		t.Errorf("queue: %v", q)
	}
	c1.want(204, "POST", fmt.Sprintf("/queue/%d/retry", m.queue), nil)
	c1.want(204, "DELETE", fmt.Sprintf("/queue/%d", m.queue), nil)
	c1.want(404, "DELETE", fmt.Sprintf("/queue/%d", m.queue), nil)
}

// TestMessagesAndQueueCrossTenant: another customer's or reseller's
// timeline, messages and queue entries are 404, nothing changes, and
// lists show only the own subtree.
func TestMessagesAndQueueCrossTenant(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := seedMessage(t, w, "bob@two.test", "bob-1@two.test")
	carol := seedMessage(t, w, "carol@three.test", "carol-1@three.test")
	c1, r1 := w.c.as(w.c1), w.c.as(w.r1)
	for _, tc := range []struct {
		who          *client
		name         string
		method, path string
		body         any
	}{
		{c1, "c1 reads c2's timeline", "GET", "/log/" + bob.mid, nil},
		{c1, "c1 lists c2's address's messages", "GET", "/addresses/bob@two.test/messages?deleted=true", nil},
		{c1, "c1 restores c2's message", "POST", "/addresses/bob@two.test/messages/restore", map[string]any{"ids": []int64{bob.deleted}}},
		{c1, "c1 restores c2's message through its own address", "POST", "/addresses/alice@one.test/messages/restore", map[string]any{"ids": []int64{bob.deleted}}},
		{c1, "c1 retries c2's queue entry", "POST", fmt.Sprintf("/queue/%d/retry", bob.queue), nil},
		{c1, "c1 deletes c2's queue entry", "DELETE", fmt.Sprintf("/queue/%d", bob.queue), nil},
		{r1, "r1 reads r2's timeline", "GET", "/log/" + carol.mid, nil},
		{r1, "r1 lists r2's address's messages", "GET", "/addresses/carol@three.test/messages", nil},
		{r1, "r1 restores r2's message", "POST", "/addresses/carol@three.test/messages/restore", map[string]any{"ids": []int64{carol.deleted}}},
		{r1, "r1 retries r2's queue entry", "POST", fmt.Sprintf("/queue/%d/retry", carol.queue), nil},
		{r1, "r1 deletes r2's queue entry", "DELETE", fmt.Sprintf("/queue/%d", carol.queue), nil},
		{c1, "a Message-ID nobody has", "GET", "/log/nobody@nowhere.test", nil},
	} {
		if st, m := tc.who.do(tc.method, tc.path, tc.body); st != 404 {
			t.Errorf("%s: %d %v, want 404", tc.name, st, m)
		}
	}
	// Nothing changed: both queue entries are there, both messages still
	// deleted.
	qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{})
	if err != nil || len(qs) != 2 {
		t.Errorf("queue after the attempts: %d entries (%v), want 2", len(qs), err)
	}
	for _, addr := range []string{"bob@two.test", "carol@three.test"} {
		del := w.c.as(w.provider).want(200, "GET", "/addresses/"+addr+"/messages?deleted=true", nil)["items"].([]any)
		if len(del) != 1 {
			t.Errorf("%s has %d deleted messages, want still 1", addr, len(del))
		}
	}
	// Lists: c1's queue is empty, r1's has bob's only; the provider sees both.
	if q := c1.want(200, "GET", "/queue", nil)["items"].([]any); len(q) != 0 {
		t.Errorf("c1 sees queue entries of others: %v", q)
	}
	q := r1.want(200, "GET", "/queue", nil)["items"].([]any)
	if len(q) != 1 || q[0].(map[string]any)["mail_from"] != "bob@two.test" {
		t.Errorf("r1's queue: %v", q)
	}
	if q := w.c.as(w.provider).want(200, "GET", "/queue?limit=1", nil); len(q["items"].([]any)) != 1 || q["next"] == "" {
		t.Errorf("provider's first queue page of 1: %v", q)
	}
	// r1 does reach its own customer's (c2's) objects.
	r1.want(200, "GET", "/log/"+bob.mid, nil)
	r1.want(200, "POST", "/addresses/bob@two.test/messages/restore", map[string]any{"ids": []int64{bob.deleted}})
	r1.want(204, "POST", fmt.Sprintf("/queue/%d/retry", bob.queue), nil)
	// The attempts are audited.
	au := w.c.as(w.provider).want(200, "GET", "/audit?action=denied&limit=1000", nil)
	if n := len(au["items"].([]any)); n < 8 {
		t.Errorf("%d denied attempts audited, want at least 8", n)
	}
	// Each foreign queue id is audited by id, once per attempt (retry,
	// delete), as the store's one scope check finds it; an id that is no
	// entry at all is a 404 and no cross-tenant attempt.
	c1.want(404, "POST", fmt.Sprintf("/queue/%d/retry", bob.queue+carol.queue+1000), nil)
	for _, e := range []int64{bob.queue, carol.queue, bob.queue + carol.queue + 1000} {
		recs, err := w.srv.Store.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Object: fmt.Sprintf("queue %d", e)})
		want := 2
		if e > carol.queue {
			want = 0
		}
		if err != nil || len(recs) != want {
			t.Errorf("queue %d: %d denied records (%v), want %d: %+v", e, len(recs), err, want, recs)
		}
	}
}

func TestMessagesBadInput(t *testing.T) {
	w := newWorld(t)
	m := seedMessage(t, w, "alice@one.test", "bad-1@one.test")
	c1 := w.c.as(w.c1)
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/addresses/alice@one.test/messages/restore", map[string]any{"ids": []int64{}}, "ids"},
		{"POST", "/addresses/alice@one.test/messages/restore", `{"ids": ["x"]}`, "ids"},
		{"POST", "/addresses/alice@one.test/messages/restore", `{"id": 1}`, "id"},
		{"GET", "/addresses/alice@one.test/messages?deleted=maybe", nil, "deleted"},
		{"GET", "/addresses/alice@one.test/messages?cursor=!!", nil, "cursor"},
		{"GET", "/queue?limit=5000", nil, "limit"},
		{"POST", "/queue/abc/retry", nil, "id"},
		{"DELETE", "/queue/0", nil, "id"},
		{"GET", "/log/%3C%3E", nil, "message_id"},
	} {
		st, resp := c1.do(tc.method, tc.path, tc.body)
		if st != 400 || resp["field"] != tc.field {
			t.Errorf("%s %s %v: %d %v, want 400 naming %q", tc.method, tc.path, tc.body, st, resp, tc.field)
		}
	}
	// A live message is not restorable: 400 naming ids, nothing done.
	c1.want(200, "POST", "/addresses/alice@one.test/messages/restore", map[string]any{"ids": []int64{m.deleted}})
	live := c1.want(200, "GET", "/addresses/alice@one.test/messages", nil)["items"].([]any)
	id := int64(live[0].(map[string]any)["id"].(float64))
	if st, resp := c1.do("POST", "/addresses/alice@one.test/messages/restore", map[string]any{"ids": []int64{id}}); st != 400 || resp["field"] != "ids" {
		t.Errorf("restoring a live message: %d %v", st, resp)
	}
}

// TestQueuePagedByCursor: GET /queue pages by cursor in the store's
// query: every entry of the token's domains exactly once, in id order,
// and none of another customer's.
func TestQueuePagedByCursor(t *testing.T) {
	w := newWorld(t)
	var want []int64
	for i := range 5 {
		want = append(want, seedMessage(t, w, "alice@one.test", fmt.Sprintf("page-%d@one.test", i)).queue)
	}
	seedMessage(t, w, "carol@three.test", "page-c@three.test")
	c1 := w.c.as(w.c1)
	var got []int64
	path := "/queue?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		pg := c1.want(200, "GET", path, nil)
		items := pg["items"].([]any)
		if len(items) > 2 {
			t.Fatalf("page of %d entries, asked for 2", len(items))
		}
		for _, it := range items {
			got = append(got, int64(it.(map[string]any)["id"].(float64)))
		}
		path = ""
		if next, _ := pg["next"].(string); next != "" {
			path = "/queue?limit=2&cursor=" + url.QueryEscape(next)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged ids %v, want %v", got, want)
	}
	if st, pb := c1.do("GET", "/queue?cursor=bm90LWEtbnVtYmVy", nil); st != 400 || pb["field"] != "cursor" {
		t.Errorf("bad cursor: %d %v", st, pb)
	}
}

// TestDeleteQueueEntryBeingDelivered: an entry leased by an attempt in
// progress is not deleted: 409, saying why, the entry still queued and no
// "cancelled" record that its delivery could then contradict.
func TestDeleteQueueEntryBeingDelivered(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	m := seedMessage(t, w, "alice@one.test", "busy-1@one.test")
	if claimed, err := w.srv.Store.ClaimQueue(ctx, time.Now(), 15*time.Minute, 100); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	res := w.c.as(w.c1).want(409, "DELETE", fmt.Sprintf("/queue/%d", m.queue), nil)
	if d, _ := res["detail"].(string); !strings.Contains(d, "being delivered") {
		t.Errorf("409 says %v", res)
	}
	if qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{}); err != nil || len(qs) != 1 || qs[0].ID != m.queue {
		t.Errorf("queue after the refused delete: %v %v", qs, err)
	}
	if evs, err := w.srv.Store.SearchLog(ctx, store.LogQuery{Status: msglog.Cancelled}); err != nil || len(evs) != 0 {
		t.Errorf("cancelled records: %v %v", evs, err)
	}
}
