package mtasts

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/mtasts/mtaststest"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
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

// openCache opens the SQLite store in dir, the cache production uses.
func openCache(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st := sqlitetest.Open(t, dir, sqlite.Options{})
	t.Cleanup(func() { st.Close() })
	return st
}

func policy(mode string) string {
	return "version: STSv1\nmode: " + mode + "\nmx: mx.example.net\nmax_age: 3600\n"
}

func TestLookupCachesAndRefreshes(t *testing.T) {
	srv := mtaststest.Serve(t, "example.net", policy("enforce"))
	res := &txtResolver{txt: map[string][]string{}}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	c := NewClient(res, srv.Transport, openCache(t, t.TempDir()), func() time.Time { return now })
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
	srv.SetPolicy(policy("testing"))
	if p, _ := c.Lookup(ctx, "example.net"); p.Mode != Enforce || srv.Fetches() != 1 {
		t.Fatalf("same id: mode %s after %d fetches", p.Mode, srv.Fetches())
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
	if p, _ := c.Lookup(ctx, "example.net"); p.Mode != Testing || srv.Fetches() != 2 {
		t.Fatalf("new id: mode %s after %d fetches", p.Mode, srv.Fetches())
	}
	// After max_age the cache is gone: no record means no policy.
	res.set("_mta-sts.example.net")
	now = now.Add(2 * time.Hour)
	if p, err := c.Lookup(ctx, "example.net"); p != nil || err != nil {
		t.Fatalf("expired, no record: %+v, %v", p, err)
	}
}

// TestCachedPolicySurvivesRestart: a policy fetched before a restart is
// enforced after it without a fetch while its id stands, and also when an
// attacker then blocks the policy host and drops the TXT record, until
// max_age runs out (RFC 8461 5.1, 10.2). A new id after the restart
// refreshes it; a refresh that fails keeps the cached one.
func TestCachedPolicySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv := mtaststest.Serve(t, "example.net", policy("enforce"))
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=1"}}}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := context.Background()

	st := openCache(t, dir)
	if p, err := NewClient(res, srv.Transport, st, clock).Lookup(ctx, "example.net"); err != nil || p.Mode != Enforce {
		t.Fatalf("first lookup: %+v, %v", p, err)
	}
	st.Close()

	// Restart: a new client over the reopened store.
	st = openCache(t, dir)
	c := NewClient(res, srv.Transport, st, clock)
	now = now.Add(30 * time.Minute)
	srv.SetPolicy(policy("testing"))
	if p, err := c.Lookup(ctx, "example.net"); err != nil || p.Mode != Enforce || srv.Fetches() != 1 {
		t.Fatalf("after restart, same id: %+v, %v, %d fetches", p, err, srv.Fetches())
	}
	// A new id with the policy host unreachable: the cached policy holds.
	res.set("_mta-sts.example.net", "v=STSv1; id=2")
	broken := NewClient(res, mtaststest.Start(t, "mta-sts.example.net", "other.example.net", http.NotFoundHandler()).Transport, st, clock)
	if p, err := broken.Lookup(ctx, "example.net"); err != nil || p == nil || p.Mode != Enforce {
		t.Fatalf("failed refresh: %+v, %v", p, err)
	}
	// The new id is fetched once the host answers, and replaces the cache.
	if p, err := c.Lookup(ctx, "example.net"); err != nil || p.Mode != Testing || srv.Fetches() != 2 {
		t.Fatalf("new id: %+v, %v, %d fetches", p, err, srv.Fetches())
	}
	got, err := st.MTASTSPolicy(ctx, "example.net")
	if err != nil || got.ID != "2" || !got.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("cached %+v, %v", got, err)
	}
	// The attacker's case: host blocked and record gone, after a restart.
	res.set("_mta-sts.example.net")
	srv.Close()
	st.Close()
	st = openCache(t, dir)
	c = NewClient(res, srv.Transport, st, clock)
	now = now.Add(59 * time.Minute)
	if p, err := c.Lookup(ctx, "example.net"); err != nil || p == nil || p.Mode != Testing {
		t.Fatalf("blocked after restart: %+v, %v", p, err)
	}
	now = now.Add(time.Minute)
	if p, err := c.Lookup(ctx, "example.net"); err != nil || p != nil {
		t.Fatalf("expired, blocked: %+v, %v; want no policy", p, err)
	}
}

// brokenCache fails every read.
type brokenCache struct{ Cache }

func (brokenCache) MTASTSPolicy(context.Context, string) (store.MTASTSPolicy, error) {
	return store.MTASTSPolicy{}, errors.New("disk on fire")
}

// TestLookupCacheFailureIsAnError: when the cache cannot be read, whether
// a policy applies is unknown; Lookup says so rather than "no policy".
func TestLookupCacheFailureIsAnError(t *testing.T) {
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=1"}}}
	c := NewClient(res, http.DefaultTransport, brokenCache{}, time.Now)
	if p, err := c.Lookup(context.Background(), "example.net"); !errors.Is(err, ErrCache) || p != nil {
		t.Fatalf("got %+v, %v; want ErrCache", p, err)
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
		// RFC 8461 3.3: senders may limit the policy's size; past 64
		// KiB (a valid policy padded with unknown keys) it is refused.
		"larger than 64 KiB": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(good + strings.Repeat("x-padding: "+strings.Repeat("a", 1000)+"\n", 66)))
		},
		"syntax": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("version: STSv1\nmode: enforce\n"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=7"}}}
			srv := mtaststest.Start(t, "mta-sts.example.net", "mta-sts.example.net", h)
			c := NewClient(res, srv.Transport, openCache(t, t.TempDir()), time.Now)
			if p, err := c.Lookup(context.Background(), "example.net"); err == nil || p != nil {
				t.Fatalf("got %+v, %v; want an error", p, err)
			}
		})
	}
	// A certificate not for mta-sts.<domain> fails the fetch (3.3).
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=7"}}}
	srv := mtaststest.Start(t, "mta-sts.example.net", "other.example.net", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(good))
	}))
	if p, err := NewClient(res, srv.Transport, openCache(t, t.TempDir()), time.Now).Lookup(context.Background(), "example.net"); err == nil || p != nil {
		t.Fatalf("wrong certificate: %+v, %v", p, err)
	}
}

func TestLookupIgnoresAmbiguousRecords(t *testing.T) {
	res := &txtResolver{txt: map[string][]string{"_mta-sts.example.net": {"v=STSv1; id=1", "v=STSv1; id=2"}}}
	c := NewClient(res, http.DefaultTransport, openCache(t, t.TempDir()), time.Now)
	if p, err := c.Lookup(context.Background(), "example.net"); p != nil || err != nil {
		t.Fatalf("two records: %+v, %v", p, err)
	}
}
