package capture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// transact sends msg to rcpts in one raw transaction and returns the
// RCPT replies and the reply to the message ("" when no RCPT was
// accepted).
func transact(t *testing.T, addr, from, msg string, rcpts ...string) (rcptReplies []string, dataReply string) {
	t.Helper()
	cv := dialRaw(t, addr)
	cv.cmd("EHLO up.test", "250 ")
	cv.cmd("MAIL FROM:<"+from+">", "250 ")
	accepted := 0
	for _, r := range rcpts {
		cv.send("RCPT TO:<" + r + ">\r\n")
		rep := cv.reply()
		rcptReplies = append(rcptReplies, rep)
		if strings.HasPrefix(rep, "250") {
			accepted++
		}
	}
	if accepted > 0 {
		cv.cmd("DATA", "354 ")
		cv.send(msg + ".\r\n")
		dataReply = cv.reply()
	}
	cv.cmd("QUIT", "221 ")
	return rcptReplies, dataReply
}

// mailbox returns the Message-IDs of an account's mailbox.
func (e *testEnv) mailbox(t *testing.T, acct store.Account, name string) []string {
	t.Helper()
	var ids []string
	for _, m := range e.messages(t, acct, name) {
		ids = append(ids, m.MessageID)
	}
	return ids
}

// account returns the account of an address.
func (e *testEnv) account(t *testing.T, addr string) store.Account {
	t.Helper()
	a, err := e.st.Account(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// randomCase writes s in a random mix of upper and lower case.
func randomCase(r *rand.Rand, s string) string {
	b := []rune(s)
	for i := range b {
		if r.IntN(2) == 0 {
			b[i] = []rune(strings.ToUpper(string(b[i])))[0]
		}
	}
	return string(b)
}

// TestSubAddressCopies (RFC 5233): a copy for a sub-address of a
// protected address (any tag, any case, the domain in either IDN form)
// is stored in that address's INBOX as for the address itself and
// logged with the recipient as written, found by a search for the
// protected address; an address with an account of its own keeps its
// mail; a tag on an unprotected address and any tag at a domain with the
// delimiter off are refused 550 5.1.1; a domain's own delimiter is the
// one that counts.
func TestSubAddressCopies(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	all := store.AllScope()
	alice := e.account(t, "alice@example.test")
	exact, err := e.st.CreateAccount(ctx, "alice+exact@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	// One of its own, disabled: refused, not taken as alice@'s.
	if _, err := e.st.CreateAccount(ctx, "alice+off@example.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetEnabled(ctx, "alice+off@example.test", false); err != nil {
		t.Fatal(err)
	}
	// off.test: no sub-addresses; dash.test: "-" only; bücher.test: "+".
	for name, delim := range map[string]string{"off.test": "", "dash.test": "-", "xn--bcher-kva.test": "+"} {
		d, err := e.st.CreateDomain(ctx, name, 0)
		if err != nil {
			t.Fatal(err)
		}
		set := d.Settings()
		set.RecipientDelimiter = delim
		if err := e.st.SetDomainSettings(ctx, all, name, set); err != nil {
			t.Fatal(err)
		}
	}
	carol, err := e.st.CreateAccount(ctx, "carol@off.test", "")
	if err != nil {
		t.Fatal(err)
	}
	dave, err := e.st.CreateAccount(ctx, "dave@dash.test", "")
	if err != nil {
		t.Fatal(err)
	}
	anna, err := e.st.CreateAccount(ctx, "anna@xn--bcher-kva.test", "")
	if err != nil {
		t.Fatal(err)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	const tagChars = "abcdefghijklmnopqrstuvwxyz0123456789.-_+="
	var want []string
	written := map[string]bool{}
	for i := range 12 {
		tag := make([]byte, 1+rnd.IntN(10))
		for j := range tag {
			tag[j] = tagChars[rnd.IntN(len(tagChars))]
		}
		rcpt := randomCase(rnd, "alice+"+string(tag)+"@example.test")
		if strings.EqualFold(rcpt, exact.Address) || strings.EqualFold(rcpt, "alice+off@example.test") {
			continue
		}
		id := fmt.Sprintf("variant-%d@up.test", i)
		msg := "Subject: tag " + string(tag) + "\r\nMessage-ID: <" + id + ">\r\n\r\nbody\r\n"
		rr, dr := transact(t, e.addr, "sender@outside.test", msg, rcpt)
		if !strings.HasPrefix(rr[0], "250") || !strings.HasPrefix(dr, "250 2.0.0 stored") {
			t.Fatalf("RCPT %s: %q, message: %q", rcpt, rr[0], dr)
		}
		want = append(want, id)
		written[strings.ToLower(rcpt)] = true
	}
	if got := e.mailbox(t, alice, store.Inbox); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("alice's INBOX %q, want %q", got, want)
	}

	for _, c := range []struct {
		rcpt, reply string
		acct        store.Account // zero: refused
	}{
		{"Alice+Exact@Example.test", "250", exact},                 // an account of its own wins
		{"alice+off@example.test", "550 5.1.1", store.Account{}},   // even disabled
		{"nobody+news@example.test", "550 5.1.1", store.Account{}}, // no base either
		{"carol+news@off.test", "550 5.1.1", store.Account{}},      // the delimiter off
		{"carol@off.test", "250", carol},
		{"dave-news@dash.test", "250", dave},
		{"dave+news@dash.test", "550 5.1.1", store.Account{}}, // "+" is no delimiter there
		{"anna+news@bücher.test", "250", anna},
		{"Anna+Post@XN--BCHER-KVA.test", "250", anna},
		{"+alice@example.test", "550 5.1.1", store.Account{}}, // no base address
	} {
		before := 0
		if c.acct.ID != 0 {
			before = len(e.mailbox(t, c.acct, store.Inbox))
		}
		rr, _ := transact(t, e.addr, "sender@outside.test", "Subject: case\r\nMessage-ID: <"+c.rcpt+"-case@up.test>\r\n\r\nx\r\n", c.rcpt)
		if !strings.HasPrefix(rr[0], c.reply) {
			t.Errorf("RCPT %s: %q, want %s", c.rcpt, rr[0], c.reply)
			continue
		}
		if c.acct.ID != 0 {
			if n := len(e.mailbox(t, c.acct, store.Inbox)); n != before+1 {
				t.Errorf("%s: %s's INBOX holds %d messages, want %d", c.rcpt, c.acct.Address, n, before+1)
			}
		}
	}
	if n := len(e.mailbox(t, alice, store.Inbox)); n != len(want) {
		t.Errorf("alice's INBOX holds %d messages after the others' copies, want %d", n, len(want))
	}

	// The log: each copy's record names the recipient as written and
	// the protected address; a search for alice@ finds every one.
	evs, err := e.st.SearchLog(ctx, store.LogQuery{Address: "Alice@example.test", Status: msglog.Stored, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(want) {
		t.Fatalf("search for alice@: %d stored records, want %d: %+v", len(evs), len(want), evs)
	}
	for _, ev := range evs {
		if !written[ev.Rcpt] || ev.Account != "alice@example.test" || ev.Detail != "INBOX" || ev.DomainID != alice.DomainID {
			t.Errorf("record %+v: want a written rcpt, account alice@example.test", ev)
		}
	}
	if evs, err := e.st.SearchLog(ctx, store.LogQuery{Address: "alice+exact@example.test", Status: msglog.Stored}); err != nil || len(evs) != 1 || evs[0].Account != "" {
		t.Errorf("the exact account's record: %+v, %v", evs, err)
	}
}

// TestSubAddressOneCopy: the same message for a protected address and
// its sub-addresses is one message in its INBOX, within one transaction
// (even without a Message-ID) and across transactions (an upstream's
// retry, another copy by Message-ID: 250 "already stored"); each extra
// recipient is logged as a duplicate naming the copy kept.
func TestSubAddressOneCopy(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	alice := e.account(t, "alice@example.test")
	noID := "Subject: no id\r\n\r\nnothing identifies me\r\n"
	rr, dr := transact(t, e.addr, "sender@outside.test", noID, "alice@example.test", "alice+news@example.test", "ALICE+other@example.test")
	for i, r := range rr {
		if !strings.HasPrefix(r, "250") {
			t.Fatalf("RCPT %d: %q", i, r)
		}
	}
	if !strings.HasPrefix(dr, "250 2.0.0 stored") {
		t.Fatalf("message: %q", dr)
	}
	if n := len(e.mailbox(t, alice, store.Inbox)); n != 1 {
		t.Fatalf("INBOX holds %d messages, want 1", n)
	}
	dups, err := e.st.SearchLog(ctx, store.LogQuery{Address: "alice@example.test", Status: msglog.Duplicate})
	if err != nil {
		t.Fatal(err)
	}
	if len(dups) != 2 {
		t.Fatalf("duplicate records %+v, want 2", dups)
	}
	for _, d := range dups {
		if d.Detail != "INBOX: the copy kept for alice@example.test" || d.Account != "alice@example.test" {
			t.Errorf("duplicate record %+v", d)
		}
	}

	withID := "Subject: with id\r\nMessage-ID: <once@up.test>\r\n\r\nonce\r\n"
	for i, rcpt := range []string{"alice+a@example.test", "alice+b@example.test", "alice@example.test"} {
		_, dr := transact(t, e.addr, "sender@outside.test", withID, rcpt)
		want := "250 2.0.0 already stored (duplicate)"
		if i == 0 {
			want = "250 2.0.0 stored"
		}
		if dr != want {
			t.Errorf("copy %d for %s: %q, want %q", i, rcpt, dr, want)
		}
	}
	if n := len(e.mailbox(t, alice, store.Inbox)); n != 2 {
		t.Errorf("INBOX holds %d messages, want 2", n)
	}
}

// TestSubAddressJournaled: a journaled copy of mail a protected user
// sent from a sub-address of theirs is kept in their Sent folder, as for
// their own address, and its records are found by their address; a
// sub-address of an unprotected sender keeps nothing.
func TestSubAddressJournaled(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	alice := e.account(t, "alice@example.test")
	msg := "From: alice+shop@example.test\r\nSubject: order\r\nMessage-ID: <order@example.test>\r\n\r\nplease\r\n"
	rr, dr := transact(t, e.addr, "Alice+Shop@example.test", msg, "orders@shop.test", "bob+cc@example.test")
	if !strings.HasPrefix(rr[0], "250") || !strings.HasPrefix(rr[1], "250") || dr != "250 2.0.0 stored; copy kept for the protected sender" {
		t.Fatalf("RCPT %q, message %q", rr, dr)
	}
	if got := e.mailbox(t, alice, store.Sent); len(got) != 1 || got[0] != "order@example.test" {
		t.Errorf("alice's Sent: %q", got)
	}
	if got := e.mailbox(t, e.bob, store.Inbox); len(got) != 1 {
		t.Errorf("bob's INBOX: %q", got)
	}
	evs, err := e.st.SearchLog(ctx, store.LogQuery{Address: "alice@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[store.LogStatus]int{}
	for _, ev := range evs {
		kinds[ev.Status]++
		if ev.MailFrom != "alice+shop@example.test" || ev.Account != "alice@example.test" {
			t.Errorf("record %+v", ev)
		}
	}
	if kinds[msglog.Stored] != 1 || kinds[msglog.Captured] != 1 {
		t.Errorf("records for alice@: %v", kinds)
	}
	rr, _ = transact(t, e.addr, "nobody+x@example.test", msg, "orders@shop.test")
	if !strings.HasPrefix(rr[0], "550 5.1.1") {
		t.Errorf("outside recipient of an unprotected sub-address: %q", rr[0])
	}
}

// TestSubAddressWholeDomain: at a whole-domain domain, the first copy
// for a sub-address protects the address it stands for (not the
// sub-address), and later tags go there too.
func TestSubAddressWholeDomain(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	d, err := e.st.CreateDomain(ctx, "whole.test", 0)
	if err != nil {
		t.Fatal(err)
	}
	set := d.Settings()
	set.WholeDomain = true
	if err := e.st.SetDomainSettings(ctx, store.AllScope(), "whole.test", set); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"New+first@whole.test", "new+second@whole.test", "new@whole.test"} {
		if rr := sendCopy(t, e.addr, "sender@outside.test", rcpt); !strings.HasPrefix(rr[0], "250") {
			t.Fatalf("RCPT %s: %q", rcpt, rr)
		}
	}
	a, err := e.st.Account(ctx, "new@whole.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.mailbox(t, a, store.Inbox); len(got) != 3 {
		t.Errorf("new@'s INBOX %q, want 3 copies", got)
	}
	if _, err := e.st.Account(ctx, "new+first@whole.test"); err == nil {
		t.Error("the sub-address got an account of its own")
	}
}
