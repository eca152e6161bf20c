package mtasts

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/tlsutil"
)

const good = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.backup.example.net.\r\nmax_age: 86400\r\n"

func TestParse(t *testing.T) {
	p, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != Enforce || p.MaxAge != 24*time.Hour || len(p.MX) != 2 || p.MX[1] != "*.backup.example.net" {
		t.Fatalf("policy %+v", p)
	}
	// LF line ends, unknown keys, spaces around values, huge max_age.
	p, err = Parse([]byte("version: STSv1\nmode:testing\nextension: whatever\nmx: MX.example.net\nmax_age: 999999999\n"))
	if err != nil || p.Mode != Testing || p.MX[0] != "mx.example.net" || p.MaxAge != maxMaxAge*time.Second {
		t.Fatalf("policy %+v, %v", p, err)
	}
	if p, err = Parse([]byte("version: STSv1\nmode: none\nmax_age: 0\n")); err != nil || p.Mode != None {
		t.Fatalf("mode none without mx: %+v %v", p, err)
	}
	for name, bad := range map[string]string{
		"version":     "version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
		"no version":  "mode: enforce\nmx: a.test\nmax_age: 1\n",
		"mode":        "version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
		"no mx":       "version: STSv1\nmode: enforce\nmax_age: 1\n",
		"no max_age":  "version: STSv1\nmode: enforce\nmx: a.test\n",
		"bad max_age": "version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
		"bad mx":      "version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
		"inner star":  "version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1\n",
		"no colon":    "version: STSv1\nmode enforce\nmx: a.test\nmax_age: 1\n",
		"html":        "<html><body>hi</body></html>",
		"empty":       "",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: %v, want ErrSyntax", name, err)
		}
	}
}

func TestMatch(t *testing.T) {
	p, _ := Parse([]byte(good))
	for host, want := range map[string]bool{
		"mx1.example.net":           true,
		"MX1.Example.NET.":          true,
		"a.backup.example.net":      true,
		"backup.example.net":        false, // the wildcard needs a label
		"a.b.backup.example.net":    false, // and only one
		"mx2.example.net":           false,
		"mx1.example.net.evil.test": false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("version: STSv1\nmode: testing\nmx: *.mail.example.com\nmax_age: 604800\n"))
	f.Add([]byte("version: STSv1\r\nmode: none\r\nmax_age: 0\r\n"))
	f.Add([]byte("mx:\n:\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if p != nil || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v with policy %+v", err, p)
			}
			return
		}
		if p.MaxAge < 0 || p.MaxAge > maxMaxAge*time.Second || (p.Mode != None && len(p.MX) == 0) {
			t.Fatalf("accepted policy %+v", p)
		}
		for _, pat := range p.MX {
			if !p.Match(strings.Replace(pat, "*", "x", 1)) {
				t.Fatalf("pattern %q does not match its own instance", pat)
			}
		}
	})
}

type txtResolver struct {
	mu   sync.Mutex
	txt  map[string][]string
	fail bool
}

func (r *txtResolver) set(name string, v ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txt[name] = v
}

func (r *txtResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return nil, &net.DNSError{Err: "server failure", Name: name, IsTemporary: true}
	}
	if v, ok := r.txt[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// policyServer serves a policy over HTTPS as mta-sts.example.net, with a
// certificate clients of the returned transport trust.
func policyServer(t *testing.T, handler http.HandlerFunc) http.RoundTripper {
	srvTLS, roots, err := tlsutil.NewTestPairFor("mta-sts.example.net")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = srvTLS
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "mta-sts.example.net:443" {
				return nil, errors.New("dial to unexpected " + addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
}

func TestLookupCachesAndRefreshes(t *testing.T) {
	var fetches atomic.Int32
	var mode atomic.Value
	mode.Store("enforce")
	tr := policyServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("version: STSv1\nmode: " + mode.Load().(string) + "\nmx: mx.example.net\nmax_age: 3600\n"))
	})
	res := &txtResolver{txt: map[string][]string{}}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	c := NewClient(res, tr, func() time.Time { return now })
	ctx := context.Background()

	if p, err := c.Lookup(ctx, "example.net"); p != nil || err != nil {
		t.Fatalf("without a record: %+v, %v", p, err)
	}
	res.set("_mta-sts.example.net", "v=STSv1; id=1")
	p, err := c.Lookup(ctx, "Example.NET")
	if err != nil || p == nil || p.Mode != Enforce || !p.Match("mx.example.net") {
		t.Fatalf("policy %+v, %v", p, err)
	}
	// Same id: cached, not fetched again.
	mode.Store("testing")
	if p, _ := c.Lookup(ctx, "example.net"); p.Mode != Enforce || fetches.Load() != 1 {
		t.Fatalf("same id: mode %s after %d fetches", p.Mode, fetches.Load())
	}
	// DNS fails or the record vanishes: the cached policy still holds.
	res.mu.Lock()
	res.fail = true
	res.mu.Unlock()
	if p, err := c.Lookup(ctx, "example.net"); err != nil || p == nil || p.Mode != Enforce {
		t.Fatalf("DNS failure with a cached policy: %+v, %v", p, err)
	}
	res.mu.Lock()
	res.fail = false
	res.mu.Unlock()
	// A new id refetches.
	res.set("_mta-sts.example.net", "v=STSv1; id=2")
	if p, _ := c.Lookup(ctx, "example.net"); p.Mode != Testing || fetches.Load() != 2 {
		t.Fatalf("new id: mode %s after %d fetches", p.Mode, fetches.Load())
	}
	// After max_age the cache is gone: no record means no policy.
	res.set("_mta-sts.example.net")
	now = now.Add(2 * time.Hour)
	if p, err := c.Lookup(ctx, "example.net"); p != nil || err != nil {
		t.Fatalf("expired, no record: %+v, %v", p, err)
	}
}

func TestLookupRefusesBadFetches(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.test/policy", http.StatusFound)
		},
		"content type": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(good))
		},
		"not found": http.NotFound,
		"syntax": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("version: STSv1\nmode: enforce\n"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=7"}}}
			c := NewClient(res, policyServer(t, h), time.Now)
			if p, err := c.Lookup(context.Background(), "example.net"); err == nil || p != nil {
				t.Fatalf("got %+v, %v; want an error", p, err)
			}
		})
	}
	// A certificate not for mta-sts.<domain> fails the fetch (3.3).
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=7"}}}
	srvTLS, roots, err := tlsutil.NewTestPairFor("other.example.net")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(good))
	}))
	srv.TLS = srvTLS
	srv.StartTLS()
	defer srv.Close()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	if p, err := NewClient(res, tr, time.Now).Lookup(context.Background(), "example.net"); err == nil || p != nil {
		t.Fatalf("wrong certificate: %+v, %v", p, err)
	}
}

func TestLookupIgnoresAmbiguousRecords(t *testing.T) {
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=1", "v=STSv1; id=2"}}}
	c := NewClient(res, http.DefaultTransport, time.Now)
	if p, err := c.Lookup(context.Background(), "example.net"); p != nil || err != nil {
		t.Fatalf("two records: %+v, %v", p, err)
	}
}
