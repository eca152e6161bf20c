package dkim

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/store/sqlite"
	"github.com/xtramail/xtramail/internal/store/sqlite/sqlitetest"
)

// countedStore is a real store whose DKIM key reads are counted; the
// store it reads can be swapped (for one closed, then reopened).
type countedStore struct {
	st    atomic.Pointer[sqlite.Store]
	reads atomic.Int64
}

func (c *countedStore) DKIMKey(ctx context.Context, domain string) (store.DKIMKey, error) {
	c.reads.Add(1)
	return c.st.Load().DKIMKey(ctx, domain)
}

func openStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	return sqlitetest.Open(t, dir, sqlite.Options{})
}

// TestKeysParsedOnceAndRefreshed: a domain's key is read and parsed once
// per TTL; a key read again unchanged keeps its parsed signer; a new key
// is used after the TTL; a domain without a key is remembered as such
// for the TTL, then its new key is found; a failed read is not
// remembered.
func TestKeysParsedOnceAndRefreshed(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	ctx := context.Background()
	for _, d := range []string{"example.org", "other.org"} {
		if _, err := st.CreateDomain(ctx, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	counted := &countedStore{}
	counted.st.Store(st)
	a, err := GenerateKey("ed25519", "a", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetDKIMKey(ctx, "example.org", a); err != nil {
		t.Fatal(err)
	}
	keys := NewKeys(counted, time.Minute, clock)
	first, err := keys.Signer(ctx, "example.org")
	if err != nil || first == nil || first.Selector() != "a" {
		t.Fatalf("signer %v %v", first, err)
	}
	for range 50 {
		if s, err := keys.Signer(ctx, "example.org"); err != nil || s != first {
			t.Fatalf("signer within the TTL: %p %v, want %p", s, err, first)
		}
	}
	if n := counted.reads.Load(); n != 1 {
		t.Fatalf("%d reads within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	if s, _ := keys.Signer(ctx, "example.org"); s != first || counted.reads.Load() != 2 {
		t.Fatalf("unchanged key after the TTL: %p (want the same %p), %d reads", s, first, counted.reads.Load())
	}
	b, err := GenerateKey("rsa", "b", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetDKIMKey(ctx, "example.org", b); err != nil {
		t.Fatal(err)
	}
	if s, _ := keys.Signer(ctx, "example.org"); s != first {
		t.Fatal("changed key used before the TTL passed")
	}
	now = now.Add(time.Minute)
	s, err := keys.Signer(ctx, "example.org")
	if err != nil || s == nil || s.Selector() != "b" {
		t.Fatalf("changed key after the TTL: %v %v", s, err)
	}
	if _, err := s.Sign(strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}

	// No key: remembered for the TTL, then the new key is found.
	reads := counted.reads.Load()
	for range 5 {
		if s, err := keys.Signer(ctx, "other.org"); s != nil || err != nil {
			t.Fatalf("domain without key: %v %v", s, err)
		}
	}
	if n := counted.reads.Load() - reads; n != 1 {
		t.Fatalf("%d reads for a domain without key, want 1", n)
	}
	if err := st.SetDKIMKey(ctx, "other.org", a); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if s, err := keys.Signer(ctx, "other.org"); err != nil || s == nil || s.Selector() != "a" {
		t.Fatalf("key added to other.org, after the TTL: %v %v", s, err)
	}

	// A failed read (the store closed) is an error, not "no key", and
	// the next call reads again.
	now = now.Add(2 * time.Minute)
	st.Close()
	if s, err := keys.Signer(ctx, "example.org"); err == nil {
		t.Fatalf("read from a closed store: %v, no error", s)
	}
	st2 := openStore(t, dir)
	defer st2.Close()
	counted.st.Store(st2)
	if s, err := keys.Signer(ctx, "example.org"); err != nil || s == nil || s.Selector() != "b" {
		t.Fatalf("after a failed read: %v %v", s, err)
	}
}
