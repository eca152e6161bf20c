package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/dkim"
	"github.com/xtramail/xtramail/internal/store"
)

// dkimStates is a key list in short form: "signing sel, pending sel".
func dkimStates(ks []DKIM) string {
	var b []string
	for _, k := range ks {
		b = append(b, string(k.State)+" "+k.Selector)
	}
	return strings.Join(b, ", ")
}

// TestDKIMKeysRotation walks a domain through two key rotations: the list
// shows each key with the record it needs, the signing key first, and a
// replaced key's record may go dkim.RetiredRecordKeep after it was
// retired (the console's domain page showed one record only, and an
// administrator removed the signing key's while a new one waited).
func TestDKIMKeysRotation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dom := w.one.domain
	keys := func() []DKIM {
		t.Helper()
		return ok[[]DKIM](t)(w.svc.DKIMKeys(ctx, w.c1, dom))
	}
	activate := func(selector string, at time.Time) {
		t.Helper()
		check(t, w.st.ActivateDKIMKey(ctx, dom, selector, at))
	}
	if ks := keys(); len(ks) != 0 {
		t.Fatalf("a domain without keys lists %s", dkimStates(ks))
	}

	first := ok[DKIM](t)(w.svc.GenerateDKIM(ctx, w.c1, dom, "ed25519", "one"))
	if got := dkimStates(keys()); got != "pending one" {
		t.Fatalf("after generating: %s", got)
	}
	activate(first.Selector, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	ks := keys()
	if got := dkimStates(ks); got != "signing one" {
		t.Fatalf("after activation: %s", got)
	}
	if k := ks[0]; k.Record != first.Record || k.RecordName != "one._domainkey."+dom || k.Algorithm != "ed25519" || k.Created.IsZero() {
		t.Errorf("signing key %+v, want the generated key's record %q", k, first.Record)
	}

	second := ok[DKIM](t)(w.svc.GenerateDKIM(ctx, w.c1, dom, "rsa", "two"))
	ks = keys()
	if got := dkimStates(ks); got != "signing one, pending two" {
		t.Fatalf("during the rotation: %s", got)
	}
	if ks[0].Record != first.Record || ks[1].Record != second.Record || ks[1].Algorithm != "rsa" || !strings.Contains(ks[1].Record, "k=rsa") {
		t.Errorf("during the rotation each key must show its own record: %+v", ks)
	}

	retired := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	activate(second.Selector, retired)
	ks = keys()
	if got := dkimStates(ks); got != "signing two, retired one" {
		t.Fatalf("after the rotation: %s", got)
	}
	old := ks[1]
	if !old.Retired.Equal(retired) || !old.RemoveAfter.Equal(retired.Add(dkim.RetiredRecordKeep)) || old.RecordName != "one._domainkey."+dom {
		t.Errorf("retired key %+v, want retired %s, removable %s later, its record's name", old, retired, dkim.RetiredRecordKeep)
	}
	if old.Record != "" || old.Algorithm != "" {
		t.Errorf("a retired key's record to publish is shown: %+v", old)
	}

	// A third key: the retired ones are listed newest first.
	third := ok[DKIM](t)(w.svc.GenerateDKIM(ctx, w.c1, dom, "ed25519", "three"))
	activate(third.Selector, retired.Add(24*time.Hour))
	if got := dkimStates(keys()); got != "signing three, retired two, retired one" {
		t.Fatalf("after a second rotation: %s", got)
	}
}

// TestDKIMKeysScope: a domain's keys are listed to the administrators
// above it only; another tenant's domain is ErrNotFound, as if it did not
// exist, and the attempt is audited.
func TestDKIMKeysScope(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, f := range []tenantFixture{w.one, w.two} {
		ok[DKIM](t)(w.svc.GenerateDKIM(ctx, CLI(), f.domain, "ed25519", "s-"+strings.TrimSuffix(f.domain, ".test")))
	}
	c2 := ok[Principal](t)(w.svc.PrincipalByID(ctx, w.two.admin.ID))
	for _, c := range []struct {
		who    string
		p      Principal
		domain string
		sees   bool
	}{
		{"provider", w.provider, w.one.domain, true},
		{"provider", w.provider, w.two.domain, true},
		{"reseller", w.r1, w.one.domain, true},
		{"reseller", w.r1, w.two.domain, false},
		{"customer", w.c1, w.one.domain, true},
		{"customer", w.c1, w.two.domain, false},
		{"other customer", c2, w.two.domain, true},
		{"other customer", c2, w.one.domain, false},
	} {
		t.Run(fmt.Sprintf("%s/%s", c.who, c.domain), func(t *testing.T) {
			denied := func() int {
				return len(ok[[]store.AuditRecord](t)(w.st.SearchAudit(ctx, store.AllScope(), store.AuditQuery{Action: "denied", Limit: 1000})))
			}
			before := denied()
			ks, err := w.svc.DKIMKeys(ctx, c.p, c.domain)
			if !c.sees {
				if !errors.Is(err, store.ErrNotFound) || len(ks) != 0 {
					t.Fatalf("another tenant's keys: %v, %s; want ErrNotFound", err, dkimStates(ks))
				}
				if denied() != before+1 {
					t.Errorf("the attempt was not audited as denied")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := "pending s-" + strings.TrimSuffix(c.domain, ".test")
			if got := dkimStates(ks); got != want {
				t.Errorf("keys %s, want %s", got, want)
			}
		})
	}
}
