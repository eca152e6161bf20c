package queue

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	xdkim "github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

// countingKeys is the real store, counting its DKIM key reads.
type countingKeys struct {
	store.Store
	reads atomic.Int64
}

func (c *countingKeys) DKIMKey(ctx context.Context, domain string) (store.DKIMKey, error) {
	c.reads.Add(1)
	return c.Store.DKIMKey(ctx, domain)
}

// TestDKIMKeyReadOnceAndChangedKeyUsed guards the per-domain DKIM key
// cache (issue 13, speed): ten messages are signed with one read of the
// key; after the key is replaced in the store, messages are signed with
// the new key once the cache's TTL has passed, and each signature
// verifies against its own key's TXT record.
func TestDKIMKeyReadOnceAndChangedKeyUsed(t *testing.T) {
	s := newMX(t)
	ctx := context.Background()
	st := &countingKeys{Store: s.st}
	keyA, err := xdkim.GenerateKey("rsa", "first", t0)
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := xdkim.GenerateKey("ed25519", "second", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetDKIMKey(ctx, "example.org", keyA); err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, k := range []store.DKIMKey{keyA, keyB} {
		rec, err := xdkim.Record(k)
		if err != nil {
			t.Fatal(err)
		}
		records[xdkim.RecordName(k, "example.org")] = rec
	}
	cfg := s.cfg
	cfg.DKIMKeyTTL = time.Minute
	w := New(cfg, st, nil, nil)
	// selectors returns the selector of each message the sink got since
	// the last call, checking that its signature verifies.
	seen := 0
	selectors := func() []string {
		t.Helper()
		var out []string
		got := s.sink.received()
		for _, m := range got[seen:] {
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.data), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
				if r, ok := records[name]; ok {
					return []string{r}, nil
				}
				return nil, fmt.Errorf("no record %s", name)
			}})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("dkim verification %v %+v", err, vs)
			}
			sel := string(m.data[strings.Index(string(m.data), " s=")+3:])
			out = append(out, sel[:strings.IndexByte(sel, ';')])
		}
		seen = len(got)
		return out
	}
	send := func(at time.Time, ids ...string) {
		t.Helper()
		s.clock.Set(at)
		for _, id := range ids {
			enqueue(t, s.st, s.acc, at, id, "bob@example.net")
		}
		if n := runOnce(t, w); n != len(ids) {
			t.Fatalf("took %d entries, want %d", n, len(ids))
		}
	}
	var ten []string
	for i := range 10 {
		ten = append(ten, fmt.Sprintf("a%d", i))
	}
	send(t0, ten...)
	if got := selectors(); len(got) != 10 || strings.Count(strings.Join(got, ","), "first") != 10 {
		t.Fatalf("selectors %v, want first ×10", got)
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("key read %d times for 10 messages, want once", n)
	}

	if err := s.st.SetDKIMKey(ctx, "example.org", keyB); err != nil {
		t.Fatal(err)
	}
	send(t0.Add(30*time.Second), "b1") // within the TTL: the key as read
	if got := selectors(); len(got) != 1 || got[0] != "first" {
		t.Fatalf("within the TTL: selectors %v, want first", got)
	}
	send(t0.Add(2*time.Minute), "b2", "b3")
	if got := selectors(); len(got) != 2 || got[0] != "second" || got[1] != "second" {
		t.Fatalf("after the key changed and the TTL passed: selectors %v, want second ×2", got)
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("key read %d times, want 2", n)
	}
}
