package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestMessagesPagedByCursor pages through a mailbox of over 5,000
// messages over the API: every message comes exactly once, in id order,
// in pages no longer than asked, for every mailbox or one. The store
// reads one page per request (store MessagesByID; the query plan is
// checked in the sqlite package): before, each page read the whole
// mailbox and sliced it.
func TestMessagesPagedByCursor(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	st := w.srv.Store
	acc, err := st.Account(ctx, "alice@one.test")
	if err != nil {
		t.Fatal(err)
	}
	arch, err := st.CreateMailbox(ctx, acc.ID, "Archive", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d := store.NewDelivery([]byte(fmt.Sprintf("From: x@outside.test\r\nSubject: m%d\r\n\r\nbody\r\n", i)), time.Now())
		d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Inbox}, {AccountID: acc.ID, Mailbox: "Archive"}}
		if _, err := st.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	in, err := st.Mailbox(ctx, acc.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	// Doubling the INBOX nine times: 5,120 messages, with Archive copies
	// between so that the two mailboxes' ids mix.
	for range 9 {
		uids, err := st.UIDs(ctx, acc.ID, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Copy(ctx, acc.ID, in.ID, uids, in.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Copy(ctx, acc.ID, arch.ID, uids[:1], arch.ID); err != nil {
			t.Fatal(err)
		}
	}
	idsOf := func(mbs ...int64) []int64 {
		var out []int64
		for _, mb := range mbs {
			ms, err := st.Messages(ctx, acc.ID, mb)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				out = append(out, m.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	c1 := w.c.as(w.c1)
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"", idsOf(in.ID, arch.ID)},
		{"mailbox=INBOX&", idsOf(in.ID)},
		{"mailbox=Archive&", idsOf(arch.ID)},
	} {
		if len(c.want) < 19 {
			t.Fatalf("set-up: %d messages", len(c.want))
		}
		var got []int64
		path := "/addresses/alice@one.test/messages?" + c.query + "limit=1000"
		for pages := 0; path != ""; pages++ {
			if pages > len(c.want)/1000+1 {
				t.Fatalf("%s: the pages never end", c.query)
			}
			pg := c1.want(200, "GET", path, nil)
			items := pg["items"].([]any)
			if len(items) > 1000 {
				t.Fatalf("%s: page of %d messages, asked for 1000", c.query, len(items))
			}
			for _, it := range items {
				got = append(got, int64(it.(map[string]any)["id"].(float64)))
			}
			path = ""
			if next, _ := pg["next"].(string); next != "" {
				path = "/addresses/alice@one.test/messages?" + c.query + "limit=1000&cursor=" + url.QueryEscape(next)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %d ids, want the %d in id order, each once", c.query, len(got), len(c.want))
		}
	}
}
