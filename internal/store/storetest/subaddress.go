package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// testSubAddresses: a domain's recipient delimiter (RFC 5233) is "+"
// when created, round-trips through its settings and refuses characters
// outside store.RecipientDelimiterChars; RecipientAccount over the
// backend's Account finds an address's own account first and its base
// address's otherwise; a log record of a sub-address is found by a
// search for the address it stands for, and keeps the one written.
func testSubAddresses(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "alice@sub.test", "alice+x@sub.test")
	alice, exact := accts[0], accts[1]
	if d := must(s.CreateDomain(ctx, "new.test", 0)); d.RecipientDelimiter != store.DefaultRecipientDelimiter {
		t.Errorf("CreateDomain returned delimiter %q", d.RecipientDelimiter)
	}
	d := must(s.Domain(ctx, "sub.test"))
	if d.RecipientDelimiter != store.DefaultRecipientDelimiter || d.Settings().RecipientDelimiter != "+" {
		t.Fatalf("new domain's delimiter %q, want %q", d.RecipientDelimiter, store.DefaultRecipientDelimiter)
	}
	for _, delim := range []string{"+-", "", "-", "=_"} {
		set := d.Settings()
		set.RecipientDelimiter = delim
		must(0, s.SetDomainSettings(ctx, store.AllScope(), "sub.test", set))
		if got := must(s.Domain(ctx, "sub.test")); got.RecipientDelimiter != delim {
			t.Errorf("delimiter %q read back as %q", delim, got.RecipientDelimiter)
		}
	}
	for _, bad := range []string{".", "++", "+a", "@", " ", "+-_=+"} {
		set := d.Settings()
		set.RecipientDelimiter = bad
		if err := s.SetDomainSettings(ctx, store.AllScope(), "sub.test", set); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("delimiter %q: %v, want ErrInvalid", bad, err)
		}
	}

	for addr, want := range map[string]int64{
		"alice@sub.test":        alice.ID,
		"alice+news@sub.test":   alice.ID,
		"alice+x@sub.test":      exact.ID, // its own account wins
		"alice+x+y@sub.test":    alice.ID, // the first delimiter splits
		"alice-news@sub.test":   0,        // not a delimiter here
		"nobody+news@sub.test":  0,
		"+alice@sub.test":       0,
		"alice+news@other.test": 0,
	} {
		a, err := store.RecipientAccount(ctx, s.Account, "+", addr)
		switch {
		case want == 0 && !errors.Is(err, store.ErrNotFound):
			t.Errorf("RecipientAccount(%s) = %+v, %v; want ErrNotFound", addr, a, err)
		case want != 0 && (err != nil || a.ID != want):
			t.Errorf("RecipientAccount(%s) = %d, %v; want account %d", addr, a.ID, err, want)
		}
	}

	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	must(0, s.AppendLog(ctx,
		store.LogEvent{Time: at, Status: msglog.Stored, MessageID: "t@x", MailFrom: "s@out.test", Rcpt: "Alice+News@sub.test",
			Account: "Alice@sub.test", DomainID: alice.DomainID, Detail: "INBOX"},
		store.LogEvent{Time: at, Status: msglog.Stored, MessageID: "u@x", MailFrom: "alice+x@sub.test", Rcpt: "s@out.test",
			DomainID: exact.DomainID, Detail: "Sent"}))
	got := must(s.SearchLog(ctx, store.LogQuery{Address: "ALICE@sub.test"}))
	if len(got) != 1 || got[0].MessageID != "t@x" || got[0].Rcpt != "alice+news@sub.test" || got[0].Account != "alice@sub.test" {
		t.Fatalf("search by the base address: %+v", got)
	}
	if got := must(s.SearchLog(ctx, store.LogQuery{Address: "alice+news@sub.test"})); len(got) != 1 || got[0].MessageID != "t@x" {
		t.Errorf("search by the sub-address as written: %+v", got)
	}
	if got := must(s.SearchLog(ctx, store.LogQuery{Address: "alice+x@sub.test"})); len(got) != 1 || got[0].MessageID != "u@x" || got[0].Account != "" {
		t.Errorf("search by an exact account's address: %+v", got)
	}
}
