package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Rotation. A new key is made pending (store.SetPendingDKIMKey): the
// domain's key, if any, keeps signing, and the new one takes over only
// once its TXT record is seen in DNS with its public key. A key that
// signed before its record reached the verifiers' resolvers would fail
// every signature until then (RFC 6376 6.1.2: no key, permfail). The
// queue worker checks pending keys in the background (DefaultCheckEvery);
// `xtramail domain dkim activate` checks one domain at once, or with
// --force activates without looking.

// DefaultCheckEvery is how often the queue worker looks for the records
// of pending keys: publishing a record and its reaching resolvers takes
// minutes, and a key activated a little later costs nothing.
const DefaultCheckEvery = 5 * time.Minute

// RetiredRecordKeep is how long a replaced key's TXT record stays
// published: mail signed with it may still be on its way (a relay's
// queue keeps retrying for up to 5 days) and is verified on arrival.
const RetiredRecordKeep = 7 * 24 * time.Hour

// Resolver looks up TXT records; *net.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ResolverAt returns a resolver that asks only the name server at addr
// (host:port): the domain's authoritative server, to see a record as
// soon as it is published there. It asks over UDP, and over TCP for an
// answer too long for UDP, as any resolver does.
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// RotationStore is what activation needs of the store.
type RotationStore interface {
	PendingDKIMKeys(ctx context.Context, domain string) ([]store.DKIMKey, error)
	ActivateDKIMKey(ctx context.Context, domain, selector string, now time.Time) error
}

// ErrNotPublished: a pending key's record is missing from DNS, or
// publishes another public key.
var ErrNotPublished = errors.New("dkim record not published")

// Published reports whether the TXT record of k is in DNS with k's
// public key: nil, or an error wrapping ErrNotPublished that says what
// was found instead (or the lookup's error, when DNS did not answer).
func Published(ctx context.Context, r Resolver, k store.DKIMKey, domain string) error {
	name := RecordName(k, domain)
	priv, err := parse(k)
	if err != nil {
		return err
	}
	txts, err := r.LookupTXT(ctx, name)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("%w: no TXT record at %s", ErrNotPublished, name)
	case err != nil:
		return fmt.Errorf("look up %s: %w", name, err)
	}
	other := false
	for _, txt := range txts {
		p, ok := publicKeyTag(txt)
		if ok && samePublicKey(priv.Public(), p) {
			return nil
		}
		other = other || ok
	}
	if !other {
		return fmt.Errorf("%w: no DKIM key record at %s", ErrNotPublished, name)
	}
	return fmt.Errorf("%w: %s publishes another public key", ErrNotPublished, name)
}

// publicKeyTag returns the p= tag of a DKIM key record (RFC 6376 3.6.1),
// white space removed; ok false when the record is not a DKIM key
// record.
func publicKeyTag(txt string) (string, bool) {
	var p string
	ok := false
	for i, tag := range strings.Split(txt, ";") {
		k, v, has := strings.Cut(tag, "=")
		if !has {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.Join(strings.Fields(v), "")
		switch {
		case k == "v" && i == 0 && v != "DKIM1":
			return "", false
		case k == "p":
			p, ok = v, true
		}
	}
	return p, ok
}

// samePublicKey reports whether a record's p= value (base64) is pub: the
// raw 32 bytes for ed25519 (RFC 8463), a SubjectPublicKeyInfo or, as
// some publish it, a PKCS #1 RSAPublicKey for RSA.
func samePublicKey(pub crypto.PublicKey, p string) bool {
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil || len(der) == 0 {
		return false // an empty p= is a revoked key (RFC 6376 3.6.1)
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return pub.Equal(ed25519.PublicKey(der))
	case *rsa.PublicKey:
		if k, err := x509.ParsePKIXPublicKey(der); err == nil {
			return pub.Equal(k)
		}
		if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
			return pub.Equal(k)
		}
	}
	return false
}

// Check is what ActivatePending found for one pending key.
type Check struct {
	Domain    string
	Key       store.DKIMKey
	Activated bool
	// Err says why the key stays pending: an error wrapping
	// ErrNotPublished, or the lookup's or the store's.
	Err error
}

// ActivatePending looks up the records of the pending keys, of domain or
// of every domain when domain is "", and makes each key whose record is
// published with its public key the domain's signing key; force
// activates without looking. A key replaced by a newer pending one while
// its record was looked up is not activated.
func ActivatePending(ctx context.Context, st RotationStore, r Resolver, domain string, force bool, now time.Time) ([]Check, error) {
	keys, err := st.PendingDKIMKeys(ctx, domain)
	if err != nil {
		return nil, err
	}
	out := make([]Check, 0, len(keys))
	for _, k := range keys {
		c := Check{Domain: k.Domain, Key: k}
		if !force {
			c.Err = Published(ctx, r, k, k.Domain)
		}
		if c.Err == nil {
			c.Err = st.ActivateDKIMKey(ctx, k.Domain, k.Selector, now)
			c.Activated = c.Err == nil
		}
		out = append(out, c)
	}
	return out, nil
}
