package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMTASTSCache covers the MTA-STS policy cache: absent until set, kept
// per domain without regard to case, replaced whole (a refresh under a new
// TXT id), an expired policy still returned (the caller decides), bad
// input refused, and concurrent refreshes of one domain leaving one whole
// row.
func testMTASTSCache(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.MTASTSPolicy(ctx, "example.net"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("policy before one is set: %v, want ErrNotFound", err)
	}
	t0 := time.UnixMilli(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).UnixMilli())
	p := store.MTASTSPolicy{Domain: "Example.NET.", ID: "20261205", Policy: []byte("version: STSv1\nmode: enforce\n"),
		Fetched: t0, Expires: t0.Add(24 * time.Hour)}
	must(0, s.SetMTASTSPolicy(ctx, p))
	got := must(s.MTASTSPolicy(ctx, "example.net."))
	if got.Domain != "example.net" || got.ID != p.ID || string(got.Policy) != string(p.Policy) ||
		!got.Fetched.Equal(t0) || !got.Expires.Equal(p.Expires) {
		t.Fatalf("policy %+v", got)
	}
	if _, err := s.MTASTSPolicy(ctx, "other.net"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another domain's policy: %v, want ErrNotFound", err)
	}
	// A refresh replaces every field; an expired policy is still read back.
	p2 := store.MTASTSPolicy{Domain: "example.net", ID: "2", Policy: []byte("version: STSv1\nmode: testing\n"),
		Fetched: t0.Add(-48 * time.Hour), Expires: t0.Add(-24 * time.Hour)}
	must(0, s.SetMTASTSPolicy(ctx, p2))
	got = must(s.MTASTSPolicy(ctx, "EXAMPLE.net"))
	if got.ID != "2" || string(got.Policy) != string(p2.Policy) || !got.Expires.Equal(p2.Expires) || !got.Fetched.Equal(p2.Fetched) {
		t.Fatalf("refreshed policy %+v", got)
	}
	for name, bad := range map[string]store.MTASTSPolicy{
		"domain":    {Domain: "not a domain", ID: "1", Policy: []byte("x"), Fetched: t0, Expires: t0},
		"no id":     {Domain: "example.net", Policy: []byte("x"), Fetched: t0, Expires: t0},
		"no policy": {Domain: "example.net", ID: "1", Fetched: t0, Expires: t0},
	} {
		if err := s.SetMTASTSPolicy(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Concurrent refreshes (several workers or nodes): the last write
	// wins whole, never a mix of two policies' fields.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(100 + i)
			err := s.SetMTASTSPolicy(ctx, store.MTASTSPolicy{Domain: "example.net", ID: id, Policy: []byte("policy " + id),
				Fetched: t0, Expires: t0.Add(time.Duration(i) * time.Hour)})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got = must(s.MTASTSPolicy(ctx, "example.net"))
	var i int
	if _, err := fmt.Sscan(got.ID, &i); err != nil || string(got.Policy) != "policy "+got.ID || !got.Expires.Equal(t0.Add(time.Duration(i-100)*time.Hour)) {
		t.Fatalf("after concurrent refreshes: %+v", got)
	}
}
