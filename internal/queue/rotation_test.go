package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

// TestDKIMRotation: a generated key is pending and does not sign until
// its TXT record is in DNS with its public key. Without any key the
// domain's mail goes unsigned, also while a record with another public
// key is published at the new selector; once the right record is there,
// the worker's check activates the key and the next message is signed
// with it. A second key leaves the first signing until its own record
// is published, then takes over, and the first is listed as retired.
// Every signature is verified with go-msgauth against the test DNS
// server the worker resolves with, over a real SMTP session to the MX.
func TestDKIMRotation(t *testing.T) {
	s := newMX(t)
	ctx := context.Background()
	w := New(s.cfg, s.st, nil, nil)
	seen, n := 0, 0
	// next sends one message and returns the selector that signed it
	// ("" for none), having verified the signature against the DNS.
	next := func() string {
		t.Helper()
		n++
		enqueue(t, s.st, s.acc, s.clock.Now(), fmt.Sprintf("rot%d", n), "bob@example.net")
		if got := runOnce(t, w); got != 1 {
			t.Fatalf("took %d entries", got)
		}
		got := s.sink.received()
		if len(got) != seen+1 {
			t.Fatalf("the MX has %d messages, want %d", len(got), seen+1)
		}
		data := got[seen].data
		seen++
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			return s.cfg.Resolver.LookupTXT(ctx, name)
		}})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(vs) == 0:
			return ""
		case len(vs) > 1:
			t.Fatalf("%d signatures", len(vs))
		case vs[0].Err != nil:
			t.Fatalf("the signature does not verify against the published record: %v", vs[0].Err)
		}
		m := regexp.MustCompile(`\bs=([a-z0-9]+)`).FindSubmatch(bytes.ReplaceAll(data, []byte("\r\n "), nil))
		if m == nil {
			t.Fatalf("no s= in the signature:\n%s", data)
		}
		return string(m[1])
	}
	activate := func() []xdkim.Check {
		t.Helper()
		checks, err := w.ActivateDKIM(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return checks
	}
	pending := func(alg, sel string) store.DKIMKey {
		t.Helper()
		k, err := xdkim.GenerateKey(alg, sel, s.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.st.SetPendingDKIMKey(ctx, "example.org", k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	publish := func(k store.DKIMKey) {
		t.Helper()
		rec, err := xdkim.Record(k)
		if err != nil {
			t.Fatal(err)
		}
		s.dns.SetTXT(t, xdkim.RecordName(k, "example.org"), rec)
	}

	first := pending("ed25519", "x20261205")
	if sel := next(); sel != "" {
		t.Fatalf("a pending key signed (s=%s) before its record was published", sel)
	}
	if c := activate(); len(c) != 1 || c[0].Activated || !errors.Is(c[0].Err, xdkim.ErrNotPublished) {
		t.Fatalf("check without a record: %+v", c)
	}
	// A record at the selector with another public key.
	other, err := xdkim.GenerateKey("ed25519", first.Selector, t0)
	if err != nil {
		t.Fatal(err)
	}
	publish(other)
	if c := activate(); len(c) != 1 || c[0].Activated || !errors.Is(c[0].Err, xdkim.ErrNotPublished) {
		t.Fatalf("check with another public key published: %+v", c)
	}
	if sel := next(); sel != "" {
		t.Fatalf("signed (s=%s) while the record publishes another public key", sel)
	}
	publish(first)
	if c := activate(); len(c) != 1 || !c[0].Activated {
		t.Fatalf("check with the record published: %+v", c)
	}
	if sel := next(); sel != first.Selector {
		t.Fatalf("after publication signed by %q, want %s", sel, first.Selector)
	}

	// Rotation: the first key signs until the second's record is there.
	s.clock.Advance(24 * time.Hour)
	second := pending("rsa", "x20261206")
	if sel := next(); sel != first.Selector {
		t.Fatalf("before the new record: signed by %q, want the old key %s", sel, first.Selector)
	}
	activate()
	if sel := next(); sel != first.Selector {
		t.Fatalf("after a check without the new record: signed by %q, want %s", sel, first.Selector)
	}
	publish(second)
	if c := activate(); len(c) != 1 || !c[0].Activated || c[0].Key.Selector != second.Selector {
		t.Fatalf("check with the new record: %+v", c)
	}
	if sel := next(); sel != second.Selector {
		t.Fatalf("after the new record: signed by %q, want %s", sel, second.Selector)
	}
	r, err := s.st.RetiredDKIMKeys(ctx, "example.org")
	if err != nil || len(r) != 1 || r[0].Selector != first.Selector || !r[0].Retired.Equal(s.clock.Now()) {
		t.Fatalf("retired keys %+v %v", r, err)
	}
	if c := activate(); len(c) != 0 {
		t.Fatalf("checks with nothing pending: %+v", c)
	}
}

// TestDKIMActivatedInBackground: Run looks up pending keys' records by
// itself, every DKIMCheck, and activates a key once its record appears.
func TestDKIMActivatedInBackground(t *testing.T) {
	s := newMX(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := s.cfg
	cfg.DKIMCheck = 20 * time.Millisecond
	w := New(cfg, s.st, nil, nil)
	k, err := xdkim.GenerateKey("ed25519", "bg1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetPendingDKIMKey(ctx, "example.org", k); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	active := func() bool {
		cur, err := s.st.DKIMKey(ctx, "example.org")
		return err == nil && cur.Selector == k.Selector
	}
	// Three checks pass without the record: nothing is activated.
	name := xdkim.RecordName(k, "example.org")
	deadline := time.Now().Add(10 * time.Second)
	for s.dns.Queries(name) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the background check asked for %s %d times in 10 s", name, s.dns.Queries(name))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if active() {
		t.Fatal("activated without its record")
	}
	rec, err := xdkim.Record(k)
	if err != nil {
		t.Fatal(err)
	}
	s.dns.SetTXT(t, name, rec)
	deadline = time.Now().Add(10 * time.Second)
	for !active() {
		if time.Now().After(deadline) {
			t.Fatal("the published key was not activated by the background check within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDKIMForcedSignsAtOnce: a pending key activated with force (the
// command's --force) signs the next message though its record is not
// published yet; once it is, the signature verifies.
func TestDKIMForcedSignsAtOnce(t *testing.T) {
	s := newMX(t)
	ctx := context.Background()
	w := New(s.cfg, s.st, nil, nil)
	k, err := xdkim.GenerateKey("ed25519", "forced", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetPendingDKIMKey(ctx, "example.org", k); err != nil {
		t.Fatal(err)
	}
	if checks, err := xdkim.ActivatePending(ctx, s.st, s.cfg.Resolver, "example.org", true, t0); err != nil || len(checks) != 1 || !checks[0].Activated {
		t.Fatalf("forced activation %+v %v", checks, err)
	}
	enqueue(t, s.st, s.acc, t0, "forced1", "bob@example.net")
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("took %d entries", n)
	}
	got := s.sink.received()
	if len(got) != 1 {
		t.Fatalf("the MX has %d messages", len(got))
	}
	rec, err := xdkim.Record(k)
	if err != nil {
		t.Fatal(err)
	}
	s.dns.SetTXT(t, xdkim.RecordName(k, "example.org"), rec)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got[0].data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		return s.cfg.Resolver.LookupTXT(ctx, name)
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.org" {
		t.Fatalf("forced key's signature: %v %+v", err, vs)
	}
}
