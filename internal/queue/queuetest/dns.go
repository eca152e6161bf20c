package queuetest

import (
	"net"
	"slices"
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
	fail    map[string][]uint16 // names answered SERVFAIL, for these types (nil: all)
}

// StartDNS serves records (zone-file lines) until the test ends.
func StartDNS(t testing.TB, records ...string) *DNS {
	t.Helper()
	d := &DNS{zone: map[string][]dns.RR{}, queries: map[string]int{}, fail: map[string][]uint16{}}
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

// Fail answers questions about name (a trailing dot is added) of the
// types given (dns.TypeMX...), or of every type without any, with
// SERVFAIL, as a broken or unreachable authoritative server does.
func (d *DNS) Fail(name string, qtypes ...uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if qtypes == nil {
		qtypes = []uint16{}
	}
	d.fail[strings.ToLower(dns.Fqdn(name))] = qtypes
}

// serve answers as a recursive resolver would: a CNAME is followed
// (within 8 steps) and its records come first in the answer, the name's
// absence is NXDOMAIN and a name without records of the type asked an
// empty answer (NODATA).
func (d *DNS) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	d.mu.Lock()
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		d.queries[name]++
		for range 8 {
			if f, ok := d.fail[name]; ok && (len(f) == 0 || slices.Contains(f, q.Qtype)) {
				m.Rcode = dns.RcodeServerFailure
				m.Answer = nil
				break
			}
			rrs, ok := d.zone[name]
			if !ok {
				m.Rcode = dns.RcodeNameError
				break
			}
			var cname string
			for _, rr := range rrs {
				switch {
				case rr.Header().Rrtype == q.Qtype:
					m.Answer = append(m.Answer, rr)
				case rr.Header().Rrtype == dns.TypeCNAME:
					cname = strings.ToLower(rr.(*dns.CNAME).Target)
					m.Answer = append(m.Answer, rr)
				}
			}
			if cname == "" || q.Qtype == dns.TypeCNAME {
				break
			}
			name = cname
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
