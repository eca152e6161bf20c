package queue

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// TestMXLookupOutcomes drives MX delivery through DNS answers of every
// kind: what is delivered, what fails at once with a notification (and
// which status), and what waits, with no connection made where none
// should be. The recipient domain's only host is newMX's sink.
func TestMXLookupOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		domain  string
		records []string
		fail    map[string][]uint16 // names answered SERVFAIL, by type
		outcome store.QueueOutcome
		status  string // of a failure's notification, or what a deferral's reason says
	}{
		// RFC 7505: no connection, an immediate failure, as Postfix.
		{name: "null MX", domain: "null.test", records: []string{"null.test. 300 IN MX 0 ."},
			outcome: store.QueueFailed, status: "5.1.10"},
		// RFC 7505 3 forbids the mix; the usable host is used.
		{name: "null MX among others", domain: "mixed.test",
			records: []string{"mixed.test. 300 IN MX 0 .", "mixed.test. 300 IN MX 10 mx.example.net."},
			outcome: store.QueueDelivered},
		// RFC 5321 5.1: the domain is its own host.
		{name: "no MX, an address", domain: "plain.test", records: []string{"plain.test. 300 IN A 127.0.0.1"},
			outcome: store.QueueDelivered},
		// NXDOMAIN: the domain does not exist; not retried for 5 days.
		{name: "domain does not exist", domain: "nowhere.test",
			outcome: store.QueueFailed, status: "5.1.2"},
		{name: "domain has neither MX nor address", domain: "bare.test",
			records: []string{`bare.test. 300 IN TXT "v=spf1 -all"`},
			outcome: store.QueueFailed, status: "5.1.2"},
		// A failed MX lookup says nothing of the domain's MX records:
		// no fall back to its address.
		{name: "MX lookup SERVFAIL defers", domain: "servfail.test",
			records: []string{"servfail.test. 300 IN A 127.0.0.1"},
			fail:    map[string][]uint16{"servfail.test": {dns.TypeMX}},
			outcome: store.QueueDeferred, status: "MX lookup for servfail.test"},
		{name: "MX host's address SERVFAIL defers", domain: "hostfail.test",
			records: []string{"hostfail.test. 300 IN MX 10 mx.hostfail.test."},
			fail:    map[string][]uint16{"mx.hostfail.test": nil},
			outcome: store.QueueDeferred, status: "address of mx.hostfail.test"},
		{name: "MX host without an address", domain: "gone.test",
			records: []string{"gone.test. 300 IN MX 10 mx.gone.test."},
			outcome: store.QueueFailed, status: "5.4.4"},
		{name: "domain is a CNAME", domain: "alias.test",
			records: []string{"alias.test. 300 IN CNAME example.net."},
			outcome: store.QueueDelivered},
		{name: "MX host through a CNAME chain", domain: "chain.test",
			records: []string{"chain.test. 300 IN MX 10 a.chain.test.", "a.chain.test. 300 IN CNAME b.chain.test.",
				"b.chain.test. 300 IN CNAME mx.example.net."},
			outcome: store.QueueDelivered},
		// An MX names a host; an address there is not followed (RFC
		// 5321 5.1), as Postfix does not.
		{name: "MX host is an IP address", domain: "ip.test", records: []string{"ip.test. 300 IN MX 10 127.0.0.1."},
			outcome: store.QueueFailed, status: "5.4.4"},
		{name: "MX host is an IP address beside a name", domain: "ip2.test",
			records: []string{"ip2.test. 300 IN MX 5 127.0.0.1.", "ip2.test. 300 IN MX 10 mx.example.net."},
			outcome: store.QueueDelivered},
		{name: "MX host is localhost", domain: "lh.test", records: []string{"lh.test. 300 IN MX 10 localhost."},
			outcome: store.QueueFailed, status: "5.4.6"},
		// Go's resolver drops a malformed record and errs; the others
		// still serve.
		{name: "malformed MX beside a good one", domain: "bad.test",
			records: []string{`bad.test. 300 IN MX 5 bad\032host.test.`, "bad.test. 300 IN MX 10 mx.example.net."},
			outcome: store.QueueDelivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newMX(t, tc.records...)
			for name, types := range tc.fail {
				s.dns.Fail(name, types...)
			}
			w := New(s.cfg, s.st, nil, nil)
			rcpt := "bob@" + tc.domain
			enqueue(t, s.st, s.acc, t0, "m1", rcpt)
			runOnce(t, w)
			got := s.sink.received()
			q := queued(t, s.st)
			switch tc.outcome {
			case store.QueueDelivered:
				if len(got) != 1 || len(q) != 0 || got[0].rcpts[0] != rcpt {
					t.Fatalf("not delivered: sink %+v, queue %+v", got, q)
				}
				return
			case store.QueueDeferred:
				if len(q) != 1 || !strings.Contains(q[0].LastError, tc.status) {
					t.Fatalf("queue %+v, want the entry deferred", q)
				}
				if n := len(inbox(t, s.st, s.acc)); n != 0 {
					t.Fatalf("%d notifications for a first deferral", n)
				}
			case store.QueueFailed:
				if len(q) != 0 {
					t.Fatalf("queue %+v, want the entry failed at the first attempt", q)
				}
				b := events(t, s.st, msglog.Bounced)
				n := inbox(t, s.st, s.acc)
				if len(b) != 1 || len(n) != 1 {
					t.Fatalf("%d bounced events, %d notifications; want one each", len(b), len(n))
				}
				if err := contains(n[0], "Final-Recipient: rfc822; "+rcpt, "Action: failed", "Status: "+tc.status); err != nil {
					t.Fatalf("notification %v:\n%s", err, n[0])
				}
			}
			if len(got) != 0 || len(s.sink.conns) != 0 {
				t.Fatalf("the sink was reached (%d connections)", len(s.sink.conns))
			}
		})
	}
}
