package queue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
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
// 4.4), a Stamp as 4.4's grammar has it: FROM the client's EHLO name
// (a random one, "unknown" when it is no domain), the webmail or, for a
// message the service made, our own name; BY our name; WITH ESMTPSA for
// SMTP submission (RFC 3848); the entry's id, its one recipient and when
// it was accepted. The stored message follows unchanged, and the whole
// reads as a message whose first field is that Received. The names are
// logged with their seed.
func TestTraceField(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	label := func() string {
		const ldh = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
		b := []byte{ldh[rng.IntN(62)]}
		for range rng.IntN(12) {
			b = append(b, ldh[rng.IntN(len(ldh))])
		}
		return string(append(b, ldh[rng.IntN(62)]))
	}
	domain := label()
	for range rng.IntN(4) {
		domain += "." + label()
	}
	st, acc := newStore(t)
	sk := startSink(t, nil, false)
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		origin store.Origin
		from   string // the FROM clause's domain
		with   string
	}{
		{store.Origin{Client: domain, With: "ESMTPSA"}, domain, "ESMTPSA"},
		{store.Origin{Client: "[127.0.0.1]", With: "ESMTPSA"}, "unknown", "ESMTPSA"},
		{store.Origin{Client: label() + "_" + label(), With: "ESMTPSA"}, "unknown", "ESMTPSA"},
		{store.Origin{Client: "webmail"}, "webmail", ""},
		{store.Origin{}, "queue.example.org", ""},
	} {
		t.Run(c.from+" "+c.with, func(t *testing.T) {
			id := fmt.Sprintf("trace%d", rng.Uint64())
			d := store.NewDelivery(rawMessage(id, "subject "+id, "bob@remote.test"), t0)
			d.Copies = []store.Copy{{AccountID: acc.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
			d.Outbound, d.Events = Outbound(acc.ID, acc.DomainID, acc.Address, []string{"bob@remote.test"}, d.Info, d.Size, t0)
			d.Outbound[0].Origin = c.origin
			if _, err := st.Deliver(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			w := relayWorker(t, st, sk.port, func() time.Time { return t0 })
			if n := runOnce(t, w); n != 1 {
				t.Fatalf("took %d entries", n)
			}
			got := sk.received()
			data := string(got[len(got)-1].data)
			field, rest, ok := strings.Cut(data, "\r\n")
			for ok && (strings.HasPrefix(rest, "\t") || strings.HasPrefix(rest, " ")) {
				var more string
				more, rest, ok = strings.Cut(rest, "\r\n")
				field += "\r\n" + more
			}
			name, value, _ := strings.Cut(field, ":")
			if name != "Received" {
				t.Fatalf("first field is not Received:\n%q", data)
			}
			stamp, err := parseStamp(value)
			if err != nil {
				t.Fatalf("the Received field is no Stamp (RFC 5321 4.4): %v\n%q", err, field)
			}
			if stamp.from != c.from || stamp.by != "queue.example.org" || stamp.with != c.with || stamp.id == "" ||
				stamp.rcpt != "<bob@remote.test>" || !stamp.date.Equal(t0) {
				t.Errorf("the Received field reads %+v:\n%q", stamp, field)
			}
			if stored := string(rawMessage(id, "subject "+id, "bob@remote.test")); rest != stored {
				t.Errorf("after the trace field\n%q\nwant the stored message\n%q", rest, stored)
			}
			if m, err := mail.ReadMessage(strings.NewReader(data)); err != nil || m.Header.Get("Subject") != "subject "+id {
				t.Errorf("read back: %v, %v", m, err)
			}
		})
	}
}

// stamp is what parseStamp reads of a Received field.
type stamp struct {
	from, by, with, id, rcpt string
	date                     time.Time
}

// parseStamp reads the value of a Received field by RFC 5321 4.4's
// grammar: Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS
// date-time, with From-domain = "FROM" FWS Extended-Domain, By-domain =
// CFWS "BY" FWS Extended-Domain, Opt-info = [Via] [With] [ID] [For]
// [Additional-Registered-Clauses], each clause led by CFWS. Comments
// (CFWS) are taken where the grammar has them, unnested. An
// Extended-Domain is read as a Domain (the form with TCP-info is not
// expected from us).
func parseStamp(v string) (stamp, error) {
	var st stamp
	// Unfolding (RFC 5322 2.2.3): CRLF before white space goes.
	v = strings.ReplaceAll(v, "\r\n", "")
	head, date, ok := strings.Cut(v, ";")
	if !ok {
		return st, errors.New(`no ";" before the date`)
	}
	var err error
	if st.date, err = mail.ParseDate(strings.TrimSpace(date)); err != nil || !strings.HasPrefix(date, " ") {
		return st, fmt.Errorf("date-time %q: %v", date, err)
	}
	toks, err := stampTokens(head)
	if err != nil {
		return st, err
	}
	domain := regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
	atom := regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
	path := regexp.MustCompile(`^<[^<>\s]+@[^<>\s]+>$`)
	clauses := []struct {
		key      string
		required bool
		value    *regexp.Regexp
		to       *string
	}{
		{"from", true, domain, &st.from}, {"by", true, domain, &st.by}, {"via", false, atom, new(string)},
		{"with", false, atom, &st.with}, {"id", false, atom, &st.id}, {"for", false, path, &st.rcpt},
	}
	i := 0
	for _, c := range clauses {
		if i+1 < len(toks) && strings.EqualFold(toks[i], c.key) {
			if !c.value.MatchString(toks[i+1]) {
				return st, fmt.Errorf("%s clause %q", c.key, toks[i+1])
			}
			*c.to = toks[i+1]
			i += 2
			continue
		}
		if c.required {
			return st, fmt.Errorf("no %s clause at %q", strings.ToUpper(c.key), toks[i:])
		}
	}
	if i != len(toks) {
		return st, fmt.Errorf("left over: %q", toks[i:])
	}
	return st, nil
}

// stampTokens splits the part of a Stamp before ";" into words, taking
// out the comments (RFC 5322 3.2.2 CFWS) that stand between clauses or
// after a clause's value; a comment anywhere else, or one left open, is
// an error.
func stampTokens(s string) ([]string, error) {
	var toks []string
	afterValue := false // a comment may follow: the next clause's CFWS
	for s = strings.TrimLeft(s, " \t"); s != ""; s = strings.TrimLeft(s, " \t") {
		if s[0] == '(' {
			end := strings.IndexByte(s, ')')
			if end < 0 || strings.ContainsAny(s[1:end], "(\\") || !afterValue {
				return nil, fmt.Errorf("comment out of place at %q", s)
			}
			s = s[end+1:]
			continue
		}
		n := strings.IndexAny(s, " \t(")
		if n < 0 {
			n = len(s)
		}
		toks = append(toks, s[:n])
		afterValue = len(toks)%2 == 0
		s = s[n:]
	}
	return toks, nil
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
