package dkim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// txtMap answers TXT look-ups from a map; a name without records is
// NXDOMAIN, the name "fail" a server failure.
type txtMap map[string][]string

func (m txtMap) LookupTXT(_ context.Context, name string) ([]string, error) {
	if name == "s._domainkey.fail.test" {
		return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	if r, ok := m[name]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// TestPublished: a key is published when a DKIM record at its name
// carries its public key, in either form RSA keys are published in;
// not when the name has no record, another key, a revoked key (empty
// p=) or no DKIM record; a DNS failure is an error of its own.
func TestPublished(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	k, err := GenerateKey("rsa", "s", now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey("rsa", "s", now)
	rec, _ := Record(k)
	otherRec, _ := Record(other)
	priv, _ := parse(k)
	pkcs1 := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&priv.(*rsa.PrivateKey).PublicKey))
	name := "s._domainkey.example.org"
	for _, tc := range []struct {
		what    string
		txt     []string
		publish bool
	}{
		{"its record", []string{rec}, true},
		{"its record, p= in PKCS #1 with spaces", []string{pkcs1[:60] + " " + pkcs1[60:]}, true},
		{"an SPF record beside it", []string{"v=spf1 -all", rec}, true},
		{"no record", nil, false},
		{"another key", []string{otherRec}, false},
		{"revoked", []string{"v=DKIM1; k=rsa; p="}, false},
		{"not DKIM", []string{"v=spf1 -all"}, false},
	} {
		m := txtMap{}
		if tc.txt != nil {
			m[name] = tc.txt
		}
		err := Published(ctx, m, k, "example.org")
		if tc.publish && err != nil || !tc.publish && !errors.Is(err, ErrNotPublished) {
			t.Errorf("%s: %v", tc.what, err)
		}
	}
	if err := Published(ctx, txtMap{}, k, "fail.test"); err == nil || errors.Is(err, ErrNotPublished) {
		t.Errorf("DNS failure: %v, want an error that is not ErrNotPublished", err)
	}
}

// TestActivatePendingForce: without its record a pending key stays
// pending unless forced; forced, it signs at once.
func TestActivatePendingForce(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CreateDomain(ctx, "example.org", 0); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	k, err := GenerateKey("ed25519", "f1", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPendingDKIMKey(ctx, "example.org", k); err != nil {
		t.Fatal(err)
	}
	checks, err := ActivatePending(ctx, st, txtMap{}, "example.org", false, now)
	if err != nil || len(checks) != 1 || checks[0].Activated || !errors.Is(checks[0].Err, ErrNotPublished) {
		t.Fatalf("without the record: %+v %v", checks, err)
	}
	if _, err := st.DKIMKey(ctx, "example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key signs without its record: %v", err)
	}
	checks, err = ActivatePending(ctx, st, txtMap{}, "example.org", true, now)
	if err != nil || len(checks) != 1 || !checks[0].Activated {
		t.Fatalf("forced: %+v %v", checks, err)
	}
	if cur, err := st.DKIMKey(ctx, "example.org"); err != nil || cur.Selector != "f1" {
		t.Fatalf("forced key %+v %v", cur, err)
	}
}
