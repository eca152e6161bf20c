package admin

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/store"
)

// TestSignInLinkLimits: sign-in link mails are limited per alternate
// address (5 an hour, from any administrator) and per administrator (50
// an hour, to any addresses). Over a limit nothing is queued and the
// error says which limit and when one more fits; another Service on the
// same store (a restart, a second node) refuses too; once the wait has
// passed one more goes.
func TestSignInLinkLimits(t *testing.T) {
	clk := clocktest.New(time.Now())
	w := newWorld(t)
	w.svc.now = clk.Now
	w.svc.opts.SystemSender = "continuity@provider.test"
	ctx := context.Background()
	link := func(tok string) string { return "https://mail.provider.test/login/link?token=" + tok }
	acc, err := w.st.Account(ctx, w.one.address)
	check(t, err)
	queued := func() int {
		t.Helper()
		qs, err := w.st.QueueEntries(ctx, store.QueueQuery{AccountID: acc.ID})
		check(t, err)
		return len(qs)
	}
	limited := func(err error, perAdmin bool) *SignInLinkLimitError {
		t.Helper()
		var le *SignInLinkLimitError
		if !errors.As(err, &le) || !errors.Is(err, ErrSignInLinkLimit) || le.PerAdmin != perAdmin {
			t.Fatalf("got %v, want the limit per %s", err, map[bool]string{true: "administrator", false: "address"}[perAdmin])
		}
		return le
	}

	for i := range signInLinksPerAddress {
		if _, err := w.svc.SendSignInLink(ctx, w.c1, w.one.address, "Home@Personal.example", link); err != nil {
			t.Fatalf("link %d: %v", i+1, err)
		}
	}
	_, err = w.svc.SendSignInLink(ctx, w.c1, w.one.address, "home@personal.example", link)
	le := limited(err, false)
	if per := signInLinkWindow / signInLinksPerAddress; le.RetryAfter <= 0 || le.RetryAfter > per || le.RetrySeconds() != fmt.Sprint(int(le.RetryAfter.Seconds())) {
		t.Errorf("retry after %v (%s s), want up to %v", le.RetryAfter, le.RetrySeconds(), per)
	}
	if n := queued(); n != signInLinksPerAddress {
		t.Errorf("%d mails queued, want %d", n, signInLinksPerAddress)
	}
	// Another administrator, and another node on the same store, are
	// refused for that address too.
	other := New(w.st, w.svc.opts)
	other.now = clk.Now
	if _, err := other.SendSignInLink(ctx, w.provider, w.one.address, "home@personal.example", link); err == nil {
		t.Fatal("another node sent a 6th link to the address")
	} else {
		limited(err, false)
	}
	// Another address still gets one.
	if _, err := w.svc.SendSignInLink(ctx, w.c1, w.one.address, "work@elsewhere.example", link); err != nil {
		t.Errorf("link to another address: %v", err)
	}
	// Once the wait has passed, one more, and then none.
	clk.Advance(le.RetryAfter)
	if _, err := w.svc.SendSignInLink(ctx, w.c1, w.one.address, "home@personal.example", link); err != nil {
		t.Fatalf("link after the wait: %v", err)
	}
	_, err = w.svc.SendSignInLink(ctx, w.c1, w.one.address, "home@personal.example", link)
	limited(err, false)

	// The administrator's limit: 50 to ten addresses, then a fresh
	// address is refused for this administrator and not for another.
	for i := range signInLinksPerAdmin {
		to := fmt.Sprintf("u%d@personal.example", i%10)
		if _, err := w.svc.SendSignInLink(ctx, w.provider, w.one.address, to, link); err != nil {
			t.Fatalf("provider's link %d: %v", i+1, err)
		}
	}
	_, err = w.svc.SendSignInLink(ctx, w.provider, w.one.address, "fresh@personal.example", link)
	limited(err, true)
	if _, err := w.svc.SendSignInLink(ctx, w.c1, w.one.address, "fresh@personal.example", link); err != nil {
		t.Errorf("another administrator's link: %v", err)
	}
}
