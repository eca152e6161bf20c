package dkim

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// KeyStore is where Keys reads the domains' keys.
type KeyStore interface {
	// DKIMKey returns a domain's key, store.ErrNotFound without one.
	DKIMKey(ctx context.Context, domain string) (store.DKIMKey, error)
}

// DefaultKeyTTL is how long Keys uses a domain's key (or its having
// none) before it reads the store again.
const DefaultKeyTTL = time.Minute

// Keys caches each sender domain's parsed signing key, so that the queue
// neither reads nor parses it for every message (issue 13, speed: an RSA
// key's parse costs more than many messages' other work). A key changed
// in the store is used within the TTL, on every node and whichever
// process changed it (the console or the command line): the new key's
// TXT record needs at least as long to reach the verifiers' resolvers,
// and until it does the old selector is the one that verifies. A key
// read again unchanged is not parsed again. It is safe for concurrent
// use.
type Keys struct {
	st  KeyStore
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]*cachedKey
}

// cachedKey is a domain's key as last read; signer nil means none.
type cachedKey struct {
	row    store.DKIMKey
	signer *Signer
	read   time.Time
}

// NewKeys returns a cache over st; ttl 0 means DefaultKeyTTL, now nil
// time.Now.
func NewKeys(st KeyStore, ttl time.Duration, now func() time.Time) *Keys {
	if ttl <= 0 {
		ttl = DefaultKeyTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Keys{st: st, ttl: ttl, now: now, m: make(map[string]*cachedKey)}
}

// Signer returns the domain's signer, nil when it has no key.
func (k *Keys) Signer(ctx context.Context, domain string) (*Signer, error) {
	now := k.now()
	k.mu.Lock()
	c := k.m[domain]
	k.mu.Unlock()
	if c != nil && now.Sub(c.read) < k.ttl && !now.Before(c.read) {
		return c.signer, nil
	}
	row, err := k.st.DKIMKey(ctx, domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		row = store.DKIMKey{}
	case err != nil:
		return nil, fmt.Errorf("dkim key of %s: %w", domain, err)
	}
	next := &cachedKey{row: row, read: now}
	switch {
	case row.Selector == "":
	case c != nil && c.signer != nil && sameKey(c.row, row):
		next.signer = c.signer
	default:
		if next.signer, err = NewSigner(row, domain); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	k.m[domain] = next
	k.mu.Unlock()
	return next.signer, nil
}

// Forget drops what is cached of a domain's key, so that the next
// Signer reads it again: after a pending key was activated here.
func (k *Keys) Forget(domain string) {
	k.mu.Lock()
	delete(k.m, domain)
	k.mu.Unlock()
}

func sameKey(a, b store.DKIMKey) bool {
	return a.Selector == b.Selector && a.Algorithm == b.Algorithm && a.Created.Equal(b.Created) &&
		bytes.Equal(a.PrivateKey, b.PrivateKey)
}

// Signer signs for one domain with one parsed key. It is safe for
// concurrent use.
type Signer struct {
	domain   string
	selector string
	key      crypto.Signer
	// bufs holds the buffers that carry messages into go-msgauth's
	// signer: io.Copy made one of 32 KiB for every message signed (the
	// signer has no ReadFrom, a stored body no WriteTo of its own), more
	// than all else the queue allocates for it.
	bufs sync.Pool
}

// signBuf is the size of the buffers of Signer.bufs.
const signBuf = 32 << 10

// NewSigner parses k to sign for domain.
func NewSigner(k store.DKIMKey, domain string) (*Signer, error) {
	priv, err := parse(k)
	if err != nil {
		return nil, err
	}
	return &Signer{domain: domain, selector: k.Selector, key: priv}, nil
}

// Selector names the signer's key in DNS.
func (s *Signer) Selector() string { return s.selector }

// Sign reads a whole message and returns the DKIM-Signature header field,
// CRLF-terminated, to put before it.
func (s *Signer) Sign(msg io.Reader) (string, error) {
	buf, ok := s.bufs.Get().(*[]byte)
	if !ok {
		b := make([]byte, signBuf)
		buf = &b
	}
	defer s.bufs.Put(buf)
	return sign(s.key, s.selector, s.domain, msg, *buf)
}
