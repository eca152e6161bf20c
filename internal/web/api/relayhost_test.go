package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// TestDomainRelayHostChecked: a domain's relay_host is a host name or IP
// address (an IPv6 one in brackets) with an optional port of 1 to 65535;
// a PATCH with anything else is 400 naming the field, and the value kept
// before stands. An accepted one is kept in the form the queue reads.
// Before, "mx.example:notaport", ":99999", "mx.example:-1" and
// "mx.example:" were answered 200 and stored, and the queue then tried a
// host named "mx.example:notaport" on port 25 (probe 38c).
func TestDomainRelayHostChecked(t *testing.T) {
	w := newWorld(t)
	c1 := w.c.as(w.c1)
	for _, tc := range []struct{ in, stored string }{
		{"mx.example", "mx.example"},
		{" MX.Example:2525 ", "mx.example:2525"},
		{"mx.example:25", "mx.example:25"},
		{"mx.example:65535", "mx.example:65535"},
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:587", "192.0.2.1:587"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"[2001:db8::1]:2525", "[2001:db8::1]:2525"},
		{"bücher.example:25", "xn--bcher-kva.example:25"},
		{"", ""},
	} {
		d := c1.want(200, "PATCH", "/domains/one.test", map[string]any{"relay_host": tc.in})
		if d["relay_host"] != tc.stored {
			t.Errorf("relay_host %q: stored %q, want %q", tc.in, d["relay_host"], tc.stored)
		}
		// What was stored is taken back as it is (the console's form
		// sends it again).
		if tc.stored != "" {
			c1.want(200, "PATCH", "/domains/one.test", map[string]any{"relay_host": d["relay_host"]})
		}
	}
	const kept = "primary.one.test:2525"
	c1.want(200, "PATCH", "/domains/one.test", map[string]any{"relay_host": kept})
	for _, bad := range []string{
		"mx.example:notaport", "mx.example:99999", "mx.example:65536", "mx.example:0", "mx.example:-1", "mx.example:+25",
		"mx.example:", ":99999", ":25", "mx.example:25:25", "2001:db8::1", "[2001:db8::1", "[192.0.2.1]:25",
		"[2001:db8::1]x", "mx example", "mx_1.example", "192.0.2.300", "-mx.example", "mx.example:smtp",
	} {
		status, body := c1.do("PATCH", "/domains/one.test", map[string]any{"relay_host": bad})
		if detail, _ := body["detail"].(string); status != 400 || body["field"] != "relay_host" || !strings.Contains(detail, fmt.Sprintf("%q", bad)) {
			t.Errorf("relay_host %q: %d %v, want 400 naming relay_host and the value", bad, status, body)
		}
	}
	if d := c1.want(200, "GET", "/domains/one.test", nil); d["relay_host"] != kept {
		t.Errorf("after the refused PATCHes relay_host is %q, want %q", d["relay_host"], kept)
	}
}

// TestRedeliverStoredBadRouteFails: a relay host stored before it was
// checked, whose port is no port, is not tried as a host named by the
// whole value on port 25: the redelivery fails at once, and the message
// log says why.
func TestRedeliverStoredBadRouteFails(t *testing.T) {
	w, _ := relayWorld(t, nil)
	ctx := context.Background()
	const route = "primary.one.test:notaport"
	d, err := w.srv.Store.Domain(ctx, "one.test")
	if err != nil {
		t.Fatal(err)
	}
	set := d.Settings()
	set.RelayHost = route
	if err := w.srv.Store.SetDomainSettings(ctx, admin.CLI().Scope(), "one.test", set); err != nil {
		t.Fatal(err)
	}
	m := seed(t, w, "alice@one.test", "redeliver-badroute@one.test", false)
	c1 := w.c.as(w.c1)
	c1.want(200, "POST", "/addresses/alice@one.test/messages/redeliver", map[string]any{"ids": []int64{m.deleted}})
	acc, _ := w.srv.Store.Account(ctx, "alice@one.test")
	waitUntil(t, "the redelivery to fail", func() bool {
		qs, err := w.srv.Store.QueueEntries(ctx, store.QueueQuery{AccountID: acc.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.Route == route {
				if q.Attempts > 0 {
					t.Fatalf("the route was tried and the entry waits: %q", q.LastError)
				}
				return false
			}
		}
		return true
	})
	items := c1.want(200, "GET", "/log?address=alice@one.test&status=bounced", nil)["items"].([]any)
	found := false
	for _, it := range items {
		if detail := fmt.Sprint(it.(map[string]any)["detail"]); strings.Contains(detail, "notaport") && strings.Contains(detail, "not a number") {
			found = true
		}
	}
	if !found {
		t.Errorf("no bounced record saying the relay host's port is no number: %v", items)
	}
}
