package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	c := NewCache(2*time.Minute, 100)
	const h1, h2 = "$argon2id$hash-one", "$argon2id$hash-two"

	if c.Lookup("alice@example.com", "pw", h1, t0) {
		t.Fatal("hit on empty cache")
	}
	c.Store("alice@example.com", "pw", h1, t0)

	tests := []struct {
		name           string
		user, pw, hash string
		at             time.Duration
		want           bool
	}{
		{"same everything", "alice@example.com", "pw", h1, time.Minute, true},
		{"other password", "alice@example.com", "pw2", h1, time.Minute, false},
		{"other user", "bob@example.com", "pw", h1, time.Minute, false},
		{"hash changed", "alice@example.com", "pw", h2, time.Minute, false},
		{"just before expiry", "alice@example.com", "pw", h1, 2*time.Minute - time.Nanosecond, true},
		{"at expiry", "alice@example.com", "pw", h1, 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Lookup(tt.user, tt.pw, tt.hash, t0.Add(tt.at)); got != tt.want {
				t.Errorf("Lookup = %v, want %v", got, tt.want)
			}
		})
	}
	if n := c.Len(); n != 0 {
		t.Errorf("Len after expiry = %d, want 0 (expired entry dropped on lookup)", n)
	}
}

func TestCacheForget(t *testing.T) {
	t0 := time.Now()
	c := NewCache(0, 0)
	c.Store("alice", "pw1", "h", t0)
	c.Store("alice", "pw2", "h", t0)
	c.Store("bob", "pw1", "h", t0)
	c.Forget("alice")
	if c.Lookup("alice", "pw1", "h", t0) || c.Lookup("alice", "pw2", "h", t0) {
		t.Error("hit after Forget")
	}
	if !c.Lookup("bob", "pw1", "h", t0) {
		t.Error("Forget(alice) dropped bob")
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

// TestCacheNoPassword checks the cache holds no plaintext password.
func TestCacheNoPassword(t *testing.T) {
	c := NewCache(0, 0)
	c.Store("alice", "very-secret", "h", time.Now())
	if s := fmt.Sprintf("%#v", c.users); strings.Contains(s, "very-secret") {
		t.Errorf("cache contents mention the password: %s", s)
	}
}

func TestCacheBounded(t *testing.T) {
	t0 := time.Now()
	const max = 64
	c := NewCache(time.Minute, max)
	for i := range 1000 {
		c.Store(fmt.Sprintf("user%d", i), "pw", "h", t0)
		if n := c.Len(); n > max {
			t.Fatalf("after %d stores Len = %d > %d", i+1, n, max)
		}
	}
	if !c.Lookup("user999", "pw", "h", t0) {
		t.Error("latest entry evicted")
	}
	// Expired entries go first: after the TTL, one store keeps the rest.
	later := t0.Add(2 * time.Minute)
	c.Store("fresh", "pw", "h", later)
	if n := c.Len(); n != 1 {
		t.Errorf("Len after storing past TTL = %d, want 1", n)
	}
}
