package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/storetest"
	"github.com/xtramail/xtramail/internal/tlsutil"
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
				if n := len(storetest.Inbox(t, s.st, s.acc)); n != 0 {
					t.Fatalf("%d notifications for a first deferral", n)
				}
			case store.QueueFailed:
				if len(q) != 0 {
					t.Fatalf("queue %+v, want the entry failed at the first attempt", q)
				}
				b := events(t, s.st, msglog.Bounced)
				n := storetest.Inbox(t, s.st, s.acc)
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

// mxHosts are MX hosts on loopback addresses that share one port, as
// Config.MXPort is one for every host: each address has a behaviour of
// its own, and what each address was asked is counted.
type mxHosts struct {
	port int

	mu    sync.Mutex
	conns map[string]int // connections accepted, by address
	quits map[string]int // QUITs greet's hosts read, by address
	sinks map[string]*sink
	open  []net.Conn // greet's connections, closed when the test ends
}

func newMXHosts(t *testing.T) *mxHosts {
	h := &mxHosts{conns: map[string]int{}, quits: map[string]int{}, sinks: map[string]*sink{}}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.open {
			c.Close()
		}
	})
	return h
}

// listen listens on ip at the hosts' port (the first call picks it).
func (h *mxHosts) listen(t *testing.T, ip string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(h.port)))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	h.port = ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { ln.Close() })
	return ln
}

// good serves a sink at ip, with STARTTLS.
func (h *mxHosts) good(t *testing.T, ip string, configure func(*smtp.Server)) *sink {
	t.Helper()
	srvTLS, _, err := tlsutil.NewTestPairFor("mx.test")
	if err != nil {
		t.Fatal(err)
	}
	s := serveSink(t, h.listen(t, ip), srvTLS, false, configure)
	h.mu.Lock()
	h.sinks[ip] = s
	h.mu.Unlock()
	return s
}

// greet serves at ip a host that greets with lines (a refusal; none: it
// says nothing) and hangs up once the client has said QUIT, after a
// minute of silence, or when the test ends.
func (h *mxHosts) greet(t *testing.T, ip string, lines ...string) {
	t.Helper()
	ln := h.listen(t, ip)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns[ip]++
			h.open = append(h.open, nc)
			h.mu.Unlock()
			go func() {
				defer nc.Close()
				if len(lines) > 0 {
					io.WriteString(nc, strings.Join(lines, "\r\n")+"\r\n")
				}
				nc.SetReadDeadline(time.Now().Add(time.Minute))
				br := bufio.NewReader(nc)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToUpper(l), "QUIT") {
						h.mu.Lock()
						h.quits[ip]++
						h.mu.Unlock()
						io.WriteString(nc, "221 bye\r\n")
						return
					}
					io.WriteString(nc, "503 5.5.1 no\r\n")
				}
			}()
		}
	}()
}

// busyHosts gives domain n MX hosts, of increasing preference, at
// 127.0.0.2 onwards, that greet with 421, and makes them s's MX port.
func busyHosts(t *testing.T, s *mxSetup, domain string, n int) *mxHosts {
	h := newMXHosts(t)
	for i := range n {
		ip := fmt.Sprintf("127.0.0.%d", 2+i)
		s.dns.Add(t, fmt.Sprintf("%s. 300 IN MX %d mx%d.%[1]s.", domain, i, i), fmt.Sprintf("mx%d.%s. 300 IN A %s", i, domain, ip))
		h.greet(t, ip, "421 4.3.2 busy")
	}
	s.cfg.MXPort = h.port
	return h
}

// total returns how many connections greet's hosts accepted.
func (h *mxHosts) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.conns {
		n += c
	}
	return n
}

// reached returns how many connections ip accepted.
func (h *mxHosts) reached(ip string) int {
	h.mu.Lock()
	s, n := h.sinks[ip], h.conns[ip]
	h.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		n = len(s.conns)
		s.mu.Unlock()
	}
	return n
}

// TestMXHostsTriedInOrder is randomized (the seed is logged): a domain
// with MX hosts of random preferences, each with one or two addresses
// that accept mail, greet with 421 or 554 (one line or several), or
// refuse the connection. The message goes to a host of the lowest
// preference with an accepting address after every address of every host
// preferred to it was tried (none after); with no accepting address it
// is deferred, every address tried, the reason kept a host's reply when
// one gave any. Equal preferences come in both orders across attempts.
func TestMXHostsTriedInOrder(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	behaviours := []string{"good", "421", "554", "421 multiline", "refused"}
	for round := range 12 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			s := newMX(t)
			s.cfg.Rand = rnd.Float64
			h := newMXHosts(t)
			type address struct{ ip, behaviour string }
			type host struct {
				name  string
				pref  int
				addrs []address
			}
			var hosts []host
			next := 2 // 127.0.0.2 onwards
			for i := range 1 + rnd.IntN(4) {
				hs := host{name: fmt.Sprintf("mx%d.multi.test", i), pref: 10 * (1 + rnd.IntN(3))}
				for range 1 + rnd.IntN(2) {
					hs.addrs = append(hs.addrs, address{fmt.Sprintf("127.0.0.%d", next), behaviours[rnd.IntN(len(behaviours))]})
					next++
				}
				hosts = append(hosts, hs)
			}
			for _, hs := range hosts {
				s.dns.Add(t, fmt.Sprintf("multi.test. 300 IN MX %d %s.", hs.pref, hs.name))
				for _, a := range hs.addrs {
					s.dns.Add(t, fmt.Sprintf("%s. 300 IN A %s", hs.name, a.ip))
					switch a.behaviour {
					case "good":
						h.good(t, a.ip, nil)
					case "421":
						h.greet(t, a.ip, "421 4.3.2 "+a.ip+" busy")
					case "554":
						h.greet(t, a.ip, "554 5.7.1 "+a.ip+" does not take mail from you")
					case "421 multiline":
						h.greet(t, a.ip, "421-4.3.2 "+a.ip+" is", "421-4.3.2 far too", "421 4.3.2 busy")
					}
				}
			}
			if h.port == 0 {
				h.listen(t, "127.0.0.250") // every address refuses: a port taken only elsewhere
			}
			for _, hs := range hosts {
				for _, a := range hs.addrs {
					if a.behaviour == "refused" {
						if ln, err := net.Listen("tcp", net.JoinHostPort(a.ip, strconv.Itoa(h.port))); err == nil {
							ln.Close() // nothing listens there, surely
						}
					}
				}
			}
			t.Logf("hosts %+v", hosts)
			s.cfg.MXPort = h.port
			enqueue(t, s.st, s.acc, t0, "m1", "bob@multi.test")
			runOnce(t, New(s.cfg, s.st, nil, nil))

			best := 0 // the lowest preference with an accepting address
			for _, hs := range hosts {
				for _, a := range hs.addrs {
					if a.behaviour == "good" && (best == 0 || hs.pref < best) {
						best = hs.pref
					}
				}
			}
			delivered := 0
			for _, hs := range hosts {
				for _, a := range hs.addrs {
					n := h.reached(a.ip)
					if a.behaviour == "good" && h.sinks[a.ip] != nil {
						delivered += len(h.sinks[a.ip].received())
					}
					switch {
					case a.behaviour == "refused":
					case best == 0 || hs.pref < best:
						if n != 1 {
							t.Errorf("%s (%s, preference %d) reached %d times, want once", a.ip, a.behaviour, hs.pref, n)
						}
					case hs.pref > best:
						if n != 0 {
							t.Errorf("%s (preference %d) reached though preference %d delivers", a.ip, hs.pref, best)
						}
					}
				}
			}
			q := queued(t, s.st)
			if best != 0 {
				if delivered != 1 || len(q) != 0 {
					t.Fatalf("delivered %d times, queue %+v; want once", delivered, q)
				}
				return
			}
			if delivered != 0 || len(q) != 1 {
				t.Fatalf("delivered %d times, queue %+v; want the entry deferred", delivered, q)
			}
			replied := false
			for _, hs := range hosts {
				for _, a := range hs.addrs {
					replied = replied || a.behaviour != "refused"
				}
			}
			if gotReply := strings.Contains(q[0].LastError, " 4.3.2 ") || strings.Contains(q[0].LastError, "554 5.7.1"); gotReply != replied {
				t.Fatalf("reason kept %q; a host replied: %v", q[0].LastError, replied)
			}
		})
	}

	t.Run("equal preferences in random order", func(t *testing.T) {
		s := newMX(t, "even.test. 300 IN MX 10 a.even.test.", "even.test. 300 IN MX 10 b.even.test.",
			"a.even.test. 300 IN A 127.0.0.2", "b.even.test. 300 IN A 127.0.0.3")
		s.cfg.Rand = rnd.Float64
		h := newMXHosts(t)
		a, b := h.good(t, "127.0.0.2", nil), h.good(t, "127.0.0.3", nil)
		s.cfg.MXPort = h.port
		for i := range 16 {
			enqueue(t, s.st, s.acc, t0, fmt.Sprint("m", i), "bob@even.test")
			runOnce(t, New(s.cfg, s.st, nil, nil))
		}
		if na, nb := len(a.received()), len(b.received()); na+nb != 16 || na == 0 || nb == 0 {
			t.Fatalf("a got %d messages and b %d: want 16 spread over both", na, nb)
		}
	})
}

// TestMXEveryAddressOfAHost: a host with an IPv6 and an IPv4 address,
// one of which refuses with a 421 greeting: the other takes the message,
// whichever the resolver lists first.
func TestMXEveryAddressOfAHost(t *testing.T) {
	for _, bad := range []string{"::1", "127.0.0.2"} {
		t.Run("bad "+bad, func(t *testing.T) {
			s := newMX(t, "dual.test. 300 IN MX 10 mx.dual.test.", "mx.dual.test. 300 IN AAAA ::1",
				"mx.dual.test. 300 IN A 127.0.0.2")
			h := newMXHosts(t)
			good := "127.0.0.2"
			if bad == good {
				good = "::1"
			}
			h.greet(t, bad, "421 4.3.2 not now")
			sk := h.good(t, good, nil)
			s.cfg.MXPort = h.port
			enqueue(t, s.st, s.acc, t0, "m1", "bob@dual.test")
			runOnce(t, New(s.cfg, s.st, nil, nil))
			if got := sk.received(); len(got) != 1 {
				t.Fatalf("the good address got %d messages; the bad one was reached %d times", len(got), h.reached(bad))
			}
		})
	}
}

// TestMXAddressesBounded: a domain with 14 MX hosts that all greet with
// 421 is tried at 10 of them per attempt, each told QUIT, and deferred.
func TestMXAddressesBounded(t *testing.T) {
	s := newMX(t)
	h := busyHosts(t, s, "many.test", 14)
	enqueue(t, s.st, s.acc, t0, "m1", "bob@many.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if q, total := queued(t, s.st), h.total(); total != maxAddresses || len(q) != 1 || !strings.Contains(q[0].LastError, "421 4.3.2 busy") {
		t.Fatalf("%d connections, queue %+v; want %d and the entry deferred with the 421", total, q, maxAddresses)
	}
	// RFC 5321 3.1: a host that refuses in its greeting waits for QUIT,
	// which reaches it after the attempt ended.
	quits := func() (n int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, q := range h.quits {
			n += q
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); quits() < maxAddresses && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if n := quits(); n != maxAddresses {
		t.Errorf("%d QUITs for %d connections", n, maxAddresses)
	}
}

// TestMXSilentHostTimesOut: an MX that accepts the connection and never
// greets is given up after the command timeout (RFC 5321 4.5.3.2.1), and
// the next one takes the message: it held the attempt for good.
func TestMXSilentHostTimesOut(t *testing.T) {
	s := newMX(t, "quiet.test. 300 IN MX 10 mx1.quiet.test.", "quiet.test. 300 IN MX 20 mx2.quiet.test.",
		"mx1.quiet.test. 300 IN A 127.0.0.2", "mx2.quiet.test. 300 IN A 127.0.0.3")
	h := newMXHosts(t)
	h.greet(t, "127.0.0.2")
	sk := h.good(t, "127.0.0.3", nil)
	s.cfg.MXPort = h.port
	s.cfg.CommandTimeout = time.Second
	enqueue(t, s.st, s.acc, t0, "m1", "bob@quiet.test")
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(s.cfg, s.st, nil, nil).RunOnce(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the attempt still waits for a greeting after 20 s")
	}
	if got := sk.received(); len(got) != 1 || h.reached("127.0.0.2") != 1 {
		t.Fatalf("the second MX got %d messages, the silent one %d connections", len(got), h.reached("127.0.0.2"))
	}
}

// TestRecipientsSettledEachOnTheirOwn: one message to six recipients of
// a domain whose MX takes at most two per transaction (go-smtp's
// MaxRecipients, which it announces as LIMITS RCPTMAX=2, RFC 9422, and
// enforces with 452 4.5.3) and answers some with 450 or 550: the
// recipients go two by two over one session, each is settled by its own
// reply, and the sender gets one notification naming both failed
// recipients. (TestTooManyRecipientsOneAtATime and
// TestPostfixMXRecipientLimit meet servers that only say 452.)
func TestRecipientsSettledEachOnTheirOwn(t *testing.T) {
	s := newMX(t)
	h := newMXHosts(t)
	sk := h.good(t, "127.0.0.2", func(srv *smtp.Server) { srv.MaxRecipients = 2 })
	s.dns.Add(t, "limit.test. 300 IN MX 10 mx.limit.test.", "mx.limit.test. 300 IN A 127.0.0.2")
	s.cfg.MXPort = h.port
	sk.set(func() {
		sk.rcptHook = func(rcpt string) error {
			switch rcpt {
			case "b@limit.test":
				return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "b is busy"}
			case "c@limit.test", "e@limit.test":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + rcpt}
			}
			return nil
		}
	})
	enqueue(t, s.st, s.acc, t0, "m1", "a@limit.test", "b@limit.test", "c@limit.test", "d@limit.test", "e@limit.test", "f@limit.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))

	var got []string
	for _, m := range sk.received() {
		got = append(got, strings.Join(m.rcpts, ","))
	}
	if strings.Join(got, " ") != "a@limit.test d@limit.test f@limit.test" || h.reached("127.0.0.2") != 1 {
		t.Fatalf("transactions %q over %d connections; want a (of a and b), d (of c and d), f (of e and f) over one", got, h.reached("127.0.0.2"))
	}
	if q := queued(t, s.st); len(q) != 1 || q[0].Rcpt != "b@limit.test" || !strings.Contains(q[0].LastError, "450 4.2.1") {
		t.Fatalf("queue %+v; want b deferred", q)
	}
	n := storetest.Inbox(t, s.st, s.acc)
	if len(n) != 1 {
		t.Fatalf("%d notifications, want one for the message", len(n))
	}
	if err := contains(n[0], "Final-Recipient: rfc822; c@limit.test", "Final-Recipient: rfc822; e@limit.test",
		"no such user e@limit.test"); err != nil {
		t.Fatalf("notification %v:\n%s", err, n[0])
	}
	if strings.Contains(string(n[0]), "Final-Recipient: rfc822; b@limit.test") {
		t.Fatalf("the notification names b, which is only deferred:\n%s", n[0])
	}
	if d := events(t, s.st, msglog.Delivered); len(d) != 3 {
		t.Fatalf("%d delivered events, want 3", len(d))
	}
}

// TestRecipientsRandomReplies is randomized (the seed is logged): one
// message to up to 8 recipients, each answered 250, 450, 550 or 552
// 5.2.2, by an MX that takes 1 to 4 per transaction (LIMITS RCPTMAX). Every recipient ends as its own reply says, each accepted one
// is delivered once, and one notification names every failed one.
func TestRecipientsRandomReplies(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(uint64(seed), 1))
	for round := range 10 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			s := newMX(t)
			h := newMXHosts(t)
			limit := 1 + rnd.IntN(4)
			sk := h.good(t, "127.0.0.2", func(srv *smtp.Server) { srv.MaxRecipients = limit })
			s.dns.Add(t, "rnd.test. 300 IN MX 10 mx.rnd.test.", "mx.rnd.test. 300 IN A 127.0.0.2")
			s.cfg.MXPort = h.port
			replies := map[string]int{}
			var rcpts []string
			for i := range 1 + rnd.IntN(8) {
				r := fmt.Sprintf("r%d@rnd.test", i)
				rcpts = append(rcpts, r)
				replies[r] = []int{250, 250, 450, 550, 552}[rnd.IntN(5)]
			}
			t.Logf("at most %d per transaction, replies %v", limit, replies)
			sk.set(func() {
				sk.rcptHook = func(rcpt string) error {
					switch c := replies[rcpt]; c {
					case 450:
						return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "busy"}
					case 550:
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
					case 552:
						return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}
					}
					return nil
				}
			})
			enqueue(t, s.st, s.acc, t0, "m1", rcpts...)
			runOnce(t, New(s.cfg, s.st, nil, nil))

			deliveredTo := map[string]int{}
			for _, m := range sk.received() {
				for _, r := range m.rcpts {
					deliveredTo[r]++
				}
			}
			deferred := map[string]bool{}
			for _, e := range queued(t, s.st) {
				deferred[e.Rcpt] = true
			}
			n := storetest.Inbox(t, s.st, s.acc)
			failed := 0
			for _, r := range rcpts {
				named := len(n) > 0 && strings.Contains(string(n[0]), "Final-Recipient: rfc822; "+r+"\r\n")
				switch replies[r] {
				case 250:
					if deliveredTo[r] != 1 || deferred[r] || named {
						t.Errorf("%s (250): delivered %d times, deferred %v, in the notification %v", r, deliveredTo[r], deferred[r], named)
					}
				case 450:
					if deliveredTo[r] != 0 || !deferred[r] || named {
						t.Errorf("%s (450): delivered %d times, deferred %v, in the notification %v", r, deliveredTo[r], deferred[r], named)
					}
				default:
					failed++
					if deliveredTo[r] != 0 || deferred[r] || !named {
						t.Errorf("%s (%d): delivered %d times, deferred %v, in the notification %v", r, replies[r], deliveredTo[r], deferred[r], named)
					}
				}
			}
			if want := min(failed, 1); len(n) != want {
				t.Errorf("%d notifications, want %d", len(n), want)
			}
		})
	}
}

// TestSessionEndsBetweenMessages: an MX that takes one message per
// session, then answers the next MAIL with 421 or hangs up after its 250,
// gets every message in one attempt over new sessions, with and without
// PIPELINING; and a session carries at most Config.SessionMessages.
func TestSessionEndsBetweenMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		ext  []string
		end  string // "421" at the next MAIL, or "close" after the 250
	}{
		{"421 pipelined", []string{"PIPELINING"}, "421"},
		{"421 one command at a time", nil, "421"},
		{"close pipelined", []string{"PIPELINING"}, "close"},
		{"close one command at a time", nil, "close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[int]int{} // messages by connection
			raw := startRawSMTP(t, tc.ext, func(s *rawSession) error {
				n := 0
				return s.relay(func(string) (string, bool) {
					if n > 0 && tc.end == "421" {
						return "421 4.7.0 one message per session, come back", true
					}
					return "250 2.1.0 ok", false
				}, func([]byte) bool {
					n++
					mu.Lock()
					got[s.n]++
					mu.Unlock()
					if tc.end == "close" {
						s.say("250 2.0.0 queued")
						s.nc.Close()
					}
					return tc.end == "close"
				})
			})
			s := newMX(t, "one.test. 300 IN MX 10 mx.one.test.", "mx.one.test. 300 IN A 127.0.0.1")
			s.cfg.MXPort = raw.port
			for i := range 4 {
				enqueue(t, s.st, s.acc, t0, fmt.Sprint("m", i), "bob@one.test")
			}
			runOnce(t, New(s.cfg, s.st, nil, nil))
			raw.check(t)
			if q := queued(t, s.st); len(q) != 0 {
				t.Fatalf("queue %+v, want all delivered", q)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 4 {
				t.Fatalf("messages by connection %v, want one on each of 4", got)
			}
		})
	}
	t.Run("session limit", func(t *testing.T) {
		s := newMX(t)
		s.cfg.SessionMessages = 2
		for i := range 5 {
			enqueue(t, s.st, s.acc, t0, fmt.Sprint("m", i), "bob@example.net")
		}
		runOnce(t, New(s.cfg, s.st, nil, nil))
		if got, n := len(s.sink.received()), len(s.sink.conns); got != 5 || n != 3 {
			t.Fatalf("%d messages over %d connections, want 5 over 3", got, n)
		}
	})
}

// TestLoopingMessageReturned: a message that already carries 50 Received
// fields (Postfix's hopcount_limit) is returned to its sender with 5.4.6
// and not sent; one with 49 goes (each behind a field of 5000 bytes).
func TestLoopingMessageReturned(t *testing.T) {
	s := newMX(t)
	for _, hops := range []int{49, 50} {
		var b strings.Builder
		// A field longer than the reader's buffer comes first (with
		// spaces, where the queue folds it for the sink).
		b.WriteString("X-Long:" + strings.Repeat(" word", 1000) + "\r\n")
		for i := range hops {
			// Field names are case-insensitive, and a field may be folded.
			name := []string{"Received", "received", "RECEIVED"}[i%3]
			fmt.Fprintf(&b, "%s: from hop%d.test by hop%d.test;\r\n\tSat, 05 Dec 2026 07:00:00 +0000\r\n", name, i, i+1)
		}
		raw := b.String() + string(rawMessage(fmt.Sprint("hops", hops), "loop", "bob@example.net"))
		d := store.NewDelivery([]byte(raw), t0)
		d.Copies = []store.Copy{{AccountID: s.acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
		d.Outbound, d.Events = Outbound(s.acc.ID, s.acc.DomainID, s.acc.Address, []string{"bob@example.net"}, d.Info, d.Size, t0)
		if _, err := s.st.Deliver(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	runOnce(t, New(s.cfg, s.st, nil, nil))
	got := s.sink.received()
	if len(got) != 1 || !strings.Contains(string(got[0].data), "hops49@") {
		t.Fatalf("sink got %d messages, want the one with 49 hops; queue %+v, bounced %+v", len(got), queued(t, s.st), events(t, s.st, msglog.Bounced))
	}
	n := storetest.Inbox(t, s.st, s.acc)
	if len(n) != 1 {
		t.Fatalf("%d notifications, want one", len(n))
	}
	if err := contains(n[0], "Status: 5.4.6", "50 Received fields", "hops50@"); err != nil {
		t.Fatalf("notification %v:\n%s", err, n[0])
	}
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
}

// TestMultilineReplies: an MX whose every reply runs over several lines
// (RFC 5321 4.2.1), with its enhanced code repeated on each: a refused
// recipient's notification carries each line's text, the other
// recipient is delivered; a 552 to the data fails the message. With and
// without PIPELINING.
func TestMultilineReplies(t *testing.T) {
	for _, ext := range [][]string{{"PIPELINING"}, nil} {
		t.Run(fmt.Sprint(ext), func(t *testing.T) {
			raw := startRawSMTP(t, ext, func(s *rawSession) error {
				for {
					l, err := s.line()
					if err != nil {
						return nil
					}
					switch {
					case strings.HasPrefix(l, "MAIL FROM:"), l == "RSET":
						s.say("250-2.1.0 sender", "250 2.1.0 ok")
					case strings.HasPrefix(l, "RCPT TO:<gone@"):
						s.say("550-5.1.1 the mailbox gone is", "550-5.1.1 no longer here:", "550 5.1.1 it moved away")
					case strings.HasPrefix(l, "RCPT TO:"):
						s.say("250-2.1.5 recipient", "250 2.1.5 ok")
					case l == "DATA":
						s.say("354-go", "354 ahead")
						msg, err := s.data()
						if err != nil {
							return err
						}
						if strings.Contains(string(msg), "Subject: subject big") {
							s.say("552-5.3.4 this message is", "552 5.3.4 too big for us")
						} else {
							s.say("250-2.0.0 queued", "250 2.0.0 as X1")
						}
					case l == "QUIT":
						s.say("221-2.0.0 bye", "221 2.0.0 bye")
						return nil
					default:
						return fmt.Errorf("unexpected %q", l)
					}
				}
			})
			s := newMX(t, "ml.test. 300 IN MX 10 mx.ml.test.", "mx.ml.test. 300 IN A 127.0.0.1")
			s.cfg.MXPort = raw.port
			enqueue(t, s.st, s.acc, t0, "m1", "bob@ml.test", "gone@ml.test")
			enqueue(t, s.st, s.acc, t0, "big", "bob@ml.test")
			runOnce(t, New(s.cfg, s.st, nil, nil))
			raw.check(t)
			if d := events(t, s.st, msglog.Delivered); len(d) != 1 || d[0].Rcpt != "bob@ml.test" || !strings.Contains(d[0].Detail, "as X1") {
				t.Fatalf("delivered %+v", d)
			}
			n := storetest.Inbox(t, s.st, s.acc)
			if len(n) != 2 {
				t.Fatalf("%d notifications, want 2", len(n))
			}
			// Unfolded (notification lines are folded at 78 octets).
			all := strings.Join(strings.Fields(string(n[0])+string(n[1])), " ")
			if err := contains([]byte(all), "Final-Recipient: rfc822; gone@ml.test", "Status: 5.1.1",
				"the mailbox gone is no longer here: it moved away", "Status: 5.3.4", "this message is too big for us"); err != nil {
				t.Fatalf("notifications %v:\n%s", err, all)
			}
			if q := queued(t, s.st); len(q) != 0 {
				t.Fatalf("queue %+v", q)
			}
		})
	}
}

// TestOneNotificationAcrossDomains: a message to recipients at four
// domains, each delivered over a session of its own, two of which refuse
// theirs with 550, one of which has a null MX: the sender gets one
// notification naming the three failed recipients; the fourth is
// delivered.
func TestOneNotificationAcrossDomains(t *testing.T) {
	s := newMX(t, "one.test. 300 IN MX 10 mx.example.net.", "two.test. 300 IN MX 10 mx.example.net.",
		"three.test. 300 IN MX 10 mx.example.net.", "null.test. 300 IN MX 0 .")
	s.sink.set(func() {
		s.sink.rcptHook = func(rcpt string) error {
			if rcpt != "c@three.test" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + rcpt}
			}
			return nil
		}
	})
	enqueue(t, s.st, s.acc, t0, "m1", "a@one.test", "b@two.test", "c@three.test", "d@null.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if got := s.sink.received(); len(got) != 1 || got[0].rcpts[0] != "c@three.test" {
		t.Fatalf("sink %+v", got)
	}
	n := storetest.Inbox(t, s.st, s.acc)
	if len(n) != 1 {
		t.Fatalf("%d notifications, want one for the message", len(n))
	}
	if err := contains(n[0], "Final-Recipient: rfc822; a@one.test", "Final-Recipient: rfc822; b@two.test",
		"Final-Recipient: rfc822; d@null.test", "Status: 5.1.10", "no such user b@two.test"); err != nil {
		t.Fatalf("notification %v:\n%s", err, n[0])
	}
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
	if b := events(t, s.st, msglog.Bounced); len(b) != 3 {
		t.Fatalf("%d bounced events, want 3", len(b))
	}
}

// TestMXHostListedTwice: a host an MX record set lists at two
// preferences (and in another case) is tried once.
func TestMXHostListedTwice(t *testing.T) {
	s := newMX(t, "dup.test. 300 IN MX 10 mx.dup.test.", "dup.test. 300 IN MX 20 MX.Dup.Test.", "mx.dup.test. 300 IN A 127.0.0.2")
	h := newMXHosts(t)
	h.greet(t, "127.0.0.2", "421 4.3.2 busy")
	s.cfg.MXPort = h.port
	enqueue(t, s.st, s.acc, t0, "m1", "bob@dup.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if n := h.reached("127.0.0.2"); n != 1 {
		t.Fatalf("the host was reached %d times, want once", n)
	}
}

// TestMXSlowHostsBoundedByLease: MX hosts that each take four minutes
// to refuse (the clock moves as each is reached) are tried only while a
// third of the attempt's 15-minute lease is left: three of them, not
// ten, so that the attempt ends before its lease does.
func TestMXSlowHostsBoundedByLease(t *testing.T) {
	s := newMX(t)
	h := busyHosts(t, s, "slow.test", 10)
	clock := s.clock
	s.cfg.Now = func() time.Time {
		// Every look at the clock after the claim sees the time the
		// hosts reached so far took.
		return clock.Now().Add(time.Duration(h.total()) * 4 * time.Minute)
	}
	enqueue(t, s.st, s.acc, t0, "m1", "bob@slow.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if q, total := queued(t, s.st), h.total(); total != 3 || len(q) != 1 {
		t.Fatalf("%d hosts reached, queue %+v; want 3 and the entry deferred", total, q)
	}
}

// TestOneDelayNoticeAcrossDomains: a message queued five hours ago to
// recipients at two domains, both still answering 450, gives one delay
// notification naming both.
func TestOneDelayNoticeAcrossDomains(t *testing.T) {
	s := newMX(t, "one.test. 300 IN MX 10 mx.example.net.", "two.test. 300 IN MX 10 mx.example.net.")
	s.sink.set(func() { s.sink.rcptHook = func(string) error { return errTemp } })
	enqueue(t, s.st, s.acc, t0.Add(-5*time.Hour), "m1", "a@one.test", "b@two.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	n := storetest.Inbox(t, s.st, s.acc)
	if len(n) != 1 {
		t.Fatalf("%d notifications, want one delay notice for the message", len(n))
	}
	if err := contains(n[0], "Action: delayed", "Final-Recipient: rfc822; a@one.test", "Final-Recipient: rfc822; b@two.test"); err != nil {
		t.Fatalf("notification %v:\n%s", err, n[0])
	}
	if q := queued(t, s.st); len(q) != 2 || !q[0].DelayNotified || !q[1].DelayNotified {
		t.Fatalf("queue %+v; want both deferred, their delay told", q)
	}
}

// txnServer is a raw server that records the recipients it accepted in
// each transaction, by connection; rcpt gives its reply to a RCPT, given
// those the transaction has so far.
type txnServer struct {
	*rawSMTP
	mu   sync.Mutex
	txns map[int][]string
}

func startTxnServer(t *testing.T, ext []string, rcpt func(have []string) string) *txnServer {
	ts := &txnServer{txns: map[int][]string{}}
	ts.rawSMTP = startRawSMTP(t, ext, func(s *rawSession) error {
		var rcpts []string
		for {
			l, err := s.line()
			if err != nil {
				return nil
			}
			switch {
			case strings.HasPrefix(l, "MAIL FROM:"), l == "RSET":
				rcpts = nil
				s.say("250 2.1.0 ok")
			case strings.HasPrefix(l, "RCPT TO:"):
				reply := rcpt(rcpts)
				if strings.HasPrefix(reply, "250") {
					rcpts = append(rcpts, strings.TrimPrefix(l, "RCPT TO:"))
				}
				s.say(reply)
			case l == "DATA":
				s.say("354 go ahead")
				if _, err := s.data(); err != nil {
					return err
				}
				ts.mu.Lock()
				ts.txns[s.n] = append(ts.txns[s.n], strings.Join(rcpts, ","))
				ts.mu.Unlock()
				s.say("250 2.0.0 queued")
			case l == "QUIT":
				s.say("221 bye")
				return nil
			default:
				return fmt.Errorf("unexpected %q", l)
			}
		}
	})
	return ts
}

// transactions returns the transactions' recipients by connection.
func (ts *txnServer) transactions() map[int][]string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return maps.Clone(ts.txns)
}

// TestTooManyRecipientsOneAtATime: the 452 split without PIPELINING, by
// a server that takes one recipient per transaction.
func TestTooManyRecipientsOneAtATime(t *testing.T) {
	ts := startTxnServer(t, nil, func(have []string) string {
		if len(have) > 0 {
			return "452 4.5.3 one recipient per message, please"
		}
		return "250 2.1.5 ok"
	})
	s := newMX(t, "one.test. 300 IN MX 10 mx.one.test.", "mx.one.test. 300 IN A 127.0.0.1")
	s.cfg.MXPort = ts.port
	enqueue(t, s.st, s.acc, t0, "m1", "a@one.test", "b@one.test", "c@one.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	ts.check(t)
	if txns := ts.transactions(); len(txns) != 1 || strings.Join(txns[1], " ") != "<a@one.test> <b@one.test> <c@one.test>" {
		t.Fatalf("transactions %v, want one per recipient over one session", txns)
	}
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
}

// TestServerLimits: a server announcing LIMITS RCPTMAX=2 MAILMAX=2 (RFC
// 9422) gets no transaction with more than two recipients and no session
// with more than two transactions; every recipient of two messages, one
// to five of them, is delivered in one attempt.
func TestServerLimits(t *testing.T) {
	ts := startTxnServer(t, []string{"PIPELINING", "LIMITS RCPTMAX=2 MAILMAX=2"}, func([]string) string { return "250 2.1.5 ok" })
	s := newMX(t, "lim.test. 300 IN MX 10 mx.lim.test.", "mx.lim.test. 300 IN A 127.0.0.1")
	s.cfg.MXPort = ts.port
	enqueue(t, s.st, s.acc, t0, "m1", "a@lim.test", "b@lim.test", "c@lim.test", "d@lim.test", "e@lim.test")
	enqueue(t, s.st, s.acc, t0, "m2", "f@lim.test")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	ts.check(t)
	if q := queued(t, s.st); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
	txns := ts.transactions()
	n := 0
	for _, c := range txns {
		for _, rcpts := range c {
			n += len(strings.Split(rcpts, ","))
			if len(c) > 2 || strings.Count(rcpts, ",") > 1 {
				t.Fatalf("transactions by connection %v: over the limits", txns)
			}
		}
	}
	if n != 6 {
		t.Fatalf("transactions by connection %v: %d recipients, want 6", txns, n)
	}
}
