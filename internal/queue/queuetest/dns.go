package queuetest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/xtramail/xtramail/internal/dkim"
)

// DNS is an authoritative DNS server on a loopback UDP port: the public
// DNS, mocked. Records can be added while it runs (a TXT record
// published mid-test).
type DNS struct {
	// Addr is its host:port, for a resolver or a command's --nameserver.
	Addr string

	mu      sync.Mutex
	zone    map[string][]dns.RR
	queries map[string]int
}

// StartDNS serves records (zone-file lines) until the test ends.
func StartDNS(t testing.TB, records ...string) *DNS {
	t.Helper()
	d := &DNS{zone: map[string][]dns.RR{}, queries: map[string]int{}}
	d.Add(t, records...)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	d.Addr = pc.LocalAddr().String()
	return d
}

// Add serves more records (zone-file lines).
func (d *DNS) Add(t testing.TB, records ...string) {
	t.Helper()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.mu.Lock()
		d.zone[name] = append(d.zone[name], rr)
		d.mu.Unlock()
	}
}

// SetTXT serves a TXT record at name (a trailing dot is added) in place
// of those there, its value split into strings of at most 255 bytes (RFC
// 1035 3.3.14), as a DKIM RSA key's record is.
func (d *DNS) SetTXT(t testing.TB, name, value string) {
	t.Helper()
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	fq := dns.Fqdn(name)
	key := strings.ToLower(fq)
	d.mu.Lock()
	defer d.mu.Unlock()
	var rrs []dns.RR
	for _, rr := range d.zone[key] {
		if rr.Header().Rrtype != dns.TypeTXT {
			rrs = append(rrs, rr)
		}
	}
	d.zone[key] = append(rrs, &dns.TXT{Hdr: dns.RR_Header{Name: fq, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: parts})
}

func (d *DNS) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	d.mu.Lock()
	for _, q := range req.Question {
		d.queries[strings.ToLower(q.Name)]++
		rrs, ok := d.zone[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	d.mu.Unlock()
	w.WriteMsg(m)
}

// Queries returns how many questions about name (a trailing dot is
// added) d was asked.
func (d *DNS) Queries(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[strings.ToLower(dns.Fqdn(name))]
}

// Resolver returns a resolver that asks only d.
func (d *DNS) Resolver() *net.Resolver {
	return dkim.ResolverAt(d.Addr)
}
