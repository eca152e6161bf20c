package capture

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// sendCopy sends one message to rcpts over a raw session and returns the
// RCPT replies' prefixes.
func sendCopy(t *testing.T, addr, from string, rcpts ...string) []string {
	t.Helper()
	cv := dialRaw(t, addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<"+from+">", "250 ")
	var got []string
	accepted := 0
	for _, r := range rcpts {
		cv.send("RCPT TO:<" + r + ">\r\n")
		rep := cv.reply()
		got = append(got, rep[:min(9, len(rep))])
		if strings.HasPrefix(rep, "250") {
			accepted++
		}
	}
	if accepted > 0 {
		cv.cmd("DATA", "354 ")
		cv.send("Subject: whole domain\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@up.test>\r\n\r\nbody\r\n.\r\n")
		cv.expect("250 ")
	}
	cv.cmd("QUIT", "221 ")
	return got
}

// TestWholeDomain: a domain with continuity for the whole domain accepts
// a copy for any of its addresses, creating the account (audited); an
// address an administrator disabled stays refused; other domains still
// refuse unknown addresses.
func TestWholeDomain(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	all := store.AllScope()
	if _, err := e.st.CreateDomain(ctx, "whole.test", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetDomainSettings(ctx, all, "whole.test", store.DomainSettings{RetentionDays: 30, WholeDomain: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateAccount(ctx, "off@whole.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetEnabled(ctx, "off@whole.test", false); err != nil {
		t.Fatal(err)
	}
	got := sendCopy(t, e.addr, "sender@outside.test", "New.Person@whole.test", "off@whole.test", "nobody@example.test")
	if !strings.HasPrefix(got[0], "250") || !strings.HasPrefix(got[1], "550 5.1.1") || !strings.HasPrefix(got[2], "550 5.1.1") {
		t.Fatalf("RCPT replies %q", got)
	}
	a, err := e.st.Account(ctx, "new.person@whole.test")
	if err != nil || !a.Enabled || a.PasswordHash != "" {
		t.Fatalf("account created at first copy: %+v %v", a, err)
	}
	if in := e.inbox(t, a); len(in) != 1 || !strings.Contains(in[0], "Subject: whole domain") {
		t.Fatalf("inbox of the new address: %q", in)
	}
	recs, err := e.st.SearchAudit(ctx, all, store.AuditQuery{Actor: "capture"})
	if err != nil || len(recs) != 1 || recs[0].Object != "address new.person@whole.test" || recs[0].CustomerID != store.DefaultCustomerID {
		t.Fatalf("audit %+v %v", recs, err)
	}
	// Concurrent first copies for one new address: one account, every
	// copy kept.
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendCopy(t, e.addr, "sender@outside.test", "racer@whole.test")
		}()
	}
	wg.Wait()
	r, err := e.st.Account(ctx, "racer@whole.test")
	if err != nil {
		t.Fatal(err)
	}
	if in := e.inbox(t, r); len(in) != 6 {
		t.Fatalf("racer has %d copies, want 6", len(in))
	}
	// Turned off again: new addresses are refused, created ones stay.
	if err := e.st.SetDomainSettings(ctx, all, "whole.test", store.DomainSettings{RetentionDays: 30}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(accountTTL + 100*time.Millisecond) // the settings cache
	got = sendCopy(t, e.addr, "sender@outside.test", "another@whole.test", "new.person@whole.test")
	if !strings.HasPrefix(got[0], "550 5.1.1") || !strings.HasPrefix(got[1], "250") {
		t.Fatalf("after turning it off: %q", got)
	}
}

// TestDomainAllowedIPs: a domain's upstream allow-list refuses its copies
// from other addresses with 550 5.7.1 (logged), and accepts them from a
// listed one; other domains are not affected.
func TestDomainAllowedIPs(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	all := store.AllScope()
	if err := e.st.SetDomainSettings(ctx, all, "example.test", store.DomainSettings{RetentionDays: 30, AllowedIPs: []string{"192.0.2.0/24"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateDomain(ctx, "free.test", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateAccount(ctx, "carl@free.test", ""); err != nil {
		t.Fatal(err)
	}
	got := sendCopy(t, e.addr, "sender@outside.test", "bob@example.test", "carl@free.test")
	if !strings.HasPrefix(got[0], "550 5.7.1") || !strings.HasPrefix(got[1], "250") {
		t.Fatalf("RCPT replies %q", got)
	}
	evs, err := e.st.SearchLog(ctx, store.LogQuery{Status: msglog.Refused, Address: "bob@example.test"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "upstream 127.0.0.1 not allowed for example.test") || evs[0].DomainID == 0 {
		t.Fatalf("refusal log %+v %v", evs, err)
	}
	// A journaled copy from the restricted domain's sender is not kept
	// in its Sent folder either.
	got = sendCopy(t, e.addr, "alice@example.test", "carl@free.test")
	alice, _ := e.st.Account(ctx, "alice@example.test")
	sent, _ := e.st.Mailbox(ctx, alice.ID, store.Sent)
	if !strings.HasPrefix(got[0], "250") || sent.Messages != 0 {
		t.Fatalf("journaled copy from a refused upstream: %q, Sent has %d", got, sent.Messages)
	}
	if err := e.st.SetDomainSettings(ctx, all, "example.test", store.DomainSettings{RetentionDays: 30, AllowedIPs: []string{"192.0.2.0/24", "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(accountTTL + 100*time.Millisecond)
	if got := sendCopy(t, e.addr, "sender@outside.test", "bob@example.test"); !strings.HasPrefix(got[0], "250") {
		t.Fatalf("from a listed upstream: %q", got)
	}
	if in := e.inbox(t, e.bob); len(in) != 1 {
		t.Fatalf("bob has %d copies", len(in))
	}
}

func TestUpstreamAllowed(t *testing.T) {
	d := store.Domain{AllowedIPs: []string{"192.0.2.0/24", "2001:db8::1"}}
	for ip, want := range map[string]bool{"192.0.2.9": true, "::ffff:192.0.2.9": true, "192.0.3.1": false, "2001:db8::1": true, "2001:db8::2": false, "junk": false} {
		if got := upstreamAllowed(d, ip); got != want {
			t.Errorf("upstreamAllowed(%s) = %t", ip, got)
		}
	}
	if !upstreamAllowed(store.Domain{}, "203.0.113.1") {
		t.Error("a domain without a list refuses")
	}
}
