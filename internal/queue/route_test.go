package queue

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
)

// TestRouteAllowed: an entry's own route reaches public addresses, and
// special ones (loopback, private, link-local, shared, unspecified,
// multicast, IPv4 in IPv6 of those) only in the operator's networks.
func TestRouteAllowed(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128")}
	for _, c := range []struct {
		ip          string
		bare, inNet bool
	}{
		{"192.0.2.10", true, true}, {"203.0.113.5", true, true}, {"2001:db8::25", true, true},
		{"127.0.0.1", false, false}, {"::1", false, true}, {"::ffff:127.0.0.1", false, false},
		{"10.1.2.3", false, true}, {"10.2.0.1", false, false}, {"::ffff:10.1.0.9", false, true},
		{"172.16.0.1", false, false}, {"192.168.1.1", false, false}, {"169.254.169.254", false, false},
		{"100.64.0.1", false, false}, {"0.0.0.0", false, false}, {"::", false, false},
		{"fd00::1", false, false}, {"fe80::1", false, false}, {"224.0.0.1", false, false}, {"ff02::1", false, false},
	} {
		ip := netip.MustParseAddr(c.ip)
		if got := routeAllowed(ip, nil); got != c.bare {
			t.Errorf("routeAllowed(%s) = %t, want %t", ip, got, c.bare)
		}
		if got := routeAllowed(ip, nets); got != c.inNet {
			t.Errorf("routeAllowed(%s, %v) = %t, want %t", ip, nets, got, c.inNet)
		}
	}
}

// loopback is where the tests' MX hosts listen: Config.RouteNetworks must
// name it for MX delivery to reach them.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// TestMXConfined: a recipient domain's MX that resolves to a loopback or
// private address (whoever owns the domain's DNS chooses) is not dialled:
// the entry is deferred with the reason, nothing reaches the host, and
// the same MX is reached once the operator lists its network.
func TestMXConfined(t *testing.T) {
	s := newMX(t)
	s.cfg.RouteNetworks = nil
	enqueue(t, s.st, s.acc, t0, "m1", "bob@example.net")
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if got := s.sink.received(); len(got) != 0 {
		t.Fatalf("an MX on loopback got %d messages", len(got))
	}
	d := events(t, s.st, msglog.Deferred)
	if len(d) != 1 || !strings.Contains(d[0].Detail, "127.0.0.1 is not a public address nor in queue.route_networks") {
		t.Fatalf("deferred %+v", d)
	}

	s.cfg.RouteNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s.clock.Advance(time.Hour)
	runOnce(t, New(s.cfg, s.st, nil, nil))
	if got := s.sink.received(); len(got) != 1 {
		t.Fatalf("with its network listed, the MX got %d messages", len(got))
	}
}

// TestTraceField: what goes out starts with our Received field (RFC 5321
// 4.4): our name, the entry's id, its one recipient and when it was
// accepted; the stored message follows unchanged, and the whole reads as
// a message whose first field is that Received.
func TestTraceField(t *testing.T) {
	st, acc := newStore(t)
	sk := startSink(t, nil, false)
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	enqueue(t, st, acc, t0, "trace1", "bob@remote.test")
	w := relayWorker(t, st, sk.port, func() time.Time { return t0 })
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("took %d entries", n)
	}
	got := sk.received()
	if len(got) != 1 {
		t.Fatalf("sink got %d messages", len(got))
	}
	want := "Received: by queue.example.org (xtramail) id "
	data := string(got[0].data)
	first, rest, ok := strings.Cut(data, "\r\n\tfor <bob@remote.test>; Sat, 05 Dec 2026 08:00:00 +0000\r\n")
	if !ok || !strings.HasPrefix(first, want) || strings.ContainsAny(first[len(want):], " \r\n") {
		t.Fatalf("trace field missing or malformed:\n%q", data)
	}
	if stored := string(rawMessage("trace1", "subject trace1", "bob@remote.test")); rest != stored {
		t.Errorf("after the trace field\n%q\nwant the stored message\n%q", rest, stored)
	}
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil || !strings.HasPrefix(m.Header.Get("Received"), "by queue.example.org (xtramail) id ") || m.Header.Get("Subject") != "subject trace1" {
		t.Errorf("read back: %v, %v", m, err)
	}
}

// TestPolicyTransportConfined: the MTA-STS policy fetch, whose host a
// recipient domain's owner names, does not connect to a loopback address
// unless the operator lists its network, as MX hosts do not.
func TestPolicyTransportConfined(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "version: STSv1\n")
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	get := func(networks []netip.Prefix) error {
		tr := PolicyTransport(networks)
		tr.Proxy = nil // the test's own, whatever the environment says
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/.well-known/mta-sts.txt")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(nil); err == nil || !strings.Contains(err.Error(), "is not a public address nor in queue.route_networks") {
		t.Fatalf("fetch from loopback without it listed: %v", err)
	}
	if err := get(loopback); err != nil {
		t.Fatalf("fetch from loopback listed: %v", err)
	}
}
