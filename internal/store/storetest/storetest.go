// Package storetest is the conformance suite that every store backend
// passes: each backend's tests call Run with a function that opens a fresh,
// empty store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Domains", testDomains},
		{"Accounts", testAccounts},
		{"Deliver", testDeliver},
		{"DeliverErrors", testDeliverErrors},
		{"DeliverStreamed", testDeliverStreamed},
		{"ConcurrentDeliver", testConcurrentDeliver},
		{"ExpungeRestore", testExpungeRestore},
		{"Purge", testPurge},
		{"DeleteAccount", testDeleteAccount},
		{"Log", testLog},
		{"Changes", testChanges},
		{"MailboxManagement", testMailboxManagement},
		{"Flags", testFlags},
		{"CopyMove", testCopyMove},
		{"MoveWithinMailbox", testMoveWithinMailbox},
		{"SearchCandidates", testSearchCandidates},
		{"MailboxKeywords", testMailboxKeywords},
		{"Subscriptions", testSubscriptions},
		{"ClaimRecent", testClaimRecent},
		{"Queue", testQueue},
		{"QueueDeleteLogged", testQueueDeleteLogged},
		{"QueueDeleteLeavesLeased", testQueueDeleteLeavesLeased},
		{"DKIMKeys", testDKIMKeys},
		{"DKIMRotation", testDKIMRotation},
		{"MTASTSCache", testMTASTSCache},
		{"ExpungeDeleted", testExpungeDeleted},
		{"ForeignIDsNotFound", testForeignIDsNotFound},
		{"IDsNeverReused", testIDsNeverReused},
		{"WebmailPages", testWebmailPages},
		{"WebmailSearch", testWebmailSearch},
		{"WebmailDeleted", testWebmailDeleted},
		{"WebmailAccountScope", testWebmailAccountScope},
		{"ConversationPages", testConversationPages},
		{"PendingDeletes", testPendingDeletes},
		{"DeletedMarked", testDeletedMarked},
		{"ConversationThreads", testConversationThreads},
		{"ConversationMerges", testConversationMerges},
		{"ComposeDrafts", testComposeDrafts},
		{"ComposeOutbox", testComposeOutbox},
		{"DraftSuccessors", testDraftSuccessors},
		{"DraftKeys", testDraftKeys},
		{"ComposeContacts", testComposeContacts},
		{"ComposeDeliveryStatus", testComposeDeliveryStatus},
		{"Sessions", testSessions},
		{"TenancyTree", testTenancyTree},
		{"TenancyScope", testTenancyScope},
		{"TenancyAdmins", testTenancyAdmins},
		{"TenancyAudit", testTenancyAudit},
		{"TenancyCounters", testTenancyCounters},
		{"Duplicates", testDuplicates}, {"DuplicateKeyAlso", testDuplicateKeyAlso}, {"DuplicateLifecycle", testDuplicateLifecycle}, {"ConcurrentDuplicates", testConcurrentDuplicates}, {"DuplicateAppendLogged", testDuplicateAppendLogged},
		{"SortRows", testSortRows},
		{"MessageBodies", testMessageBodies},
		{"SearchFields", testSearchFields},
		{"MessageCopies", testMessageCopies},
		{"DeliverAll", testDeliverAll},
		{"AccountChanges", testAccountChanges},
		{"KnownIPs", testKnownIPs},
		{"PendingPasswords", testPendingPasswords},
		{"Throttles", testThrottles},
		{"SendLimit", testSendLimit},
		{"AdminChallenges", testAdminChallenges},
		{"Passkeys", testPasskeys},
		{"LogSubjects", testLogSubjects},
		{"LogPagedByCursor", testLogPagedByCursor},
		{"LogBounded", testLogBounded},
		{"SendsPruned", testSendsPruned},
		{"AdminBatch", testAdminBatch},
		{"Announced", testAnnounced},
		{"MessagesByID", testMessagesByID},
		{"SubAddresses", testSubAddresses},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					f, ok := r.(failure)
					if !ok {
						panic(r)
					}
					t.Fatalf("unexpected error: %v", f.err)
				}
			}()
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// Raw builds a small CRLF message for tests.
func Raw(subject, body string) []byte {
	return []byte(fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: %s\r\n"+
		"Message-ID: <%s@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n%s\r\n",
		subject, subject, body))
}

// failure carries an unexpected error from must to the test's recover.
type failure struct{ err error }

// must returns v, or fails the running conformance test if err is set.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

func setup(t *testing.T, s store.Store, addrs ...string) []store.Account {
	t.Helper()
	ctx := context.Background()
	doms := map[string]bool{}
	var out []store.Account
	for _, a := range addrs {
		d := store.DomainOf(a)
		if !doms[d] {
			must(s.CreateDomain(ctx, d, 0))
			doms[d] = true
		}
		out = append(out, must(s.CreateAccount(ctx, a, "")))
	}
	return out
}

func deliver(t *testing.T, s store.Store, raw []byte, received time.Time, copies ...store.Copy) []store.Delivered {
	t.Helper()
	d := store.NewDelivery(raw, received)
	d.Copies = copies
	return must(s.Deliver(context.Background(), d))
}

// bobAndEve is the set-up most groups start from: bob and eve, two
// accounts of one domain, and bob's INBOX.
func bobAndEve(t *testing.T, s store.Store) (bob, eve store.Account, inbox store.Mailbox) {
	t.Helper()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	return accts[0], accts[1], must(s.Mailbox(context.Background(), accts[0].ID, store.Inbox))
}

// deliverSeries delivers n messages to acct's INBOX, a minute apart from
// base, the i-th with Subject and Message-ID tag+i and flags(i) (nil: no
// flags), and returns them as stored.
func deliverSeries(t *testing.T, s store.Store, acct store.Account, base time.Time, tag string, n int, flags func(i int) store.Flags) []store.Message {
	t.Helper()
	var ms []store.Message
	for i := range n {
		var f store.Flags
		if flags != nil {
			f = flags(i)
		}
		raw := fmt.Sprintf("From: a@example.org\r\nSubject: %s%d\r\nMessage-ID: <%s%d@example.org>\r\n\r\nbody\r\n", tag, i, tag, i)
		d := deliver(t, s, []byte(raw), base.Add(time.Duration(i)*time.Minute), store.Copy{AccountID: acct.ID, Mailbox: store.Inbox, Flags: f})
		ms = append(ms, must(s.Message(context.Background(), acct.ID, d[0].MessageID)))
	}
	return ms
}

func readBody(t *testing.T, s store.Store, accountID, bodyID int64) []byte {
	t.Helper()
	rc := must(s.OpenBody(context.Background(), accountID, bodyID))
	defer rc.Close()
	return must(io.ReadAll(rc))
}

func testDomains(t *testing.T, s store.Store) {
	ctx := context.Background()
	d := must(s.CreateDomain(ctx, "Example.TEST", 0))
	if d.Name != "example.test" || d.RetentionDays != store.DefaultRetentionDays || d.ID == 0 {
		t.Fatalf("created %+v", d)
	}
	if _, err := s.CreateDomain(ctx, "example.test", 7); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate domain: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "no spaces.test", "-x.test", "a..b", "x_y.test"} {
		if _, err := s.CreateDomain(ctx, bad, 0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateDomain(%q): %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := s.CreateDomain(ctx, "other.test", -1); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative retention: %v, want ErrInvalid", err)
	}
	must(s.CreateDomain(ctx, "other.test", 7))
	ds := must(s.Domains(ctx))
	if len(ds) != 2 || ds[0].Name != "example.test" || ds[1].RetentionDays != 7 {
		t.Fatalf("Domains = %+v", ds)
	}
	if err := s.SetRetention(ctx, "other.test", 60); err != nil {
		t.Fatal(err)
	}
	if got := must(s.Domain(ctx, "OTHER.test")); got.RetentionDays != 60 {
		t.Fatalf("retention after SetRetention = %d", got.RetentionDays)
	}
	if _, err := s.Domain(ctx, "missing.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing domain: %v", err)
	}
	must(s.CreateAccount(ctx, "a@other.test", ""))
	if err := s.DeleteDomain(ctx, "other.test"); !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("delete non-empty domain: %v, want ErrNotEmpty", err)
	}
	if err := s.DeleteDomain(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDomain(ctx, "example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v, want ErrNotFound", err)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.CreateAccount(ctx, "a@nodomain.test", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("account in unknown domain: %v, want ErrNotFound", err)
	}
	must(s.CreateDomain(ctx, "example.test", 0))
	for _, bad := range []string{"nobody", "@example.test", "a b@example.test", "a@", "<a@example.test>"} {
		if _, err := s.CreateAccount(ctx, bad, ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateAccount(%q): %v, want ErrInvalid", bad, err)
		}
	}
	a := must(s.CreateAccount(ctx, "Bob@Example.test", "hash1"))
	if a.Address != "bob@example.test" || !a.Enabled || a.PasswordHash != "hash1" {
		t.Fatalf("created %+v", a)
	}
	if _, err := s.CreateAccount(ctx, "bob@example.test", ""); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate account: %v, want ErrExists", err)
	}
	mbs := must(s.Mailboxes(ctx, a.ID))
	want := map[string]string{store.Inbox: "", store.Sent: `\Sent`, store.Drafts: `\Drafts`, store.Trash: `\Trash`}
	if len(mbs) != len(want) {
		t.Fatalf("mailboxes %+v", mbs)
	}
	seen := map[uint32]bool{}
	for _, mb := range mbs {
		if use, ok := want[mb.Name]; !ok || use != mb.SpecialUse || mb.UIDNext != 1 || mb.UIDValidity == 0 || seen[mb.UIDValidity] {
			t.Errorf("mailbox %+v", mb)
		}
		seen[mb.UIDValidity] = true
	}
	if err := s.SetEnabled(ctx, "bob@example.test", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "BOB@example.test", "hash2"); err != nil {
		t.Fatal(err)
	}
	got := must(s.Account(ctx, "bob@EXAMPLE.test"))
	if got.Enabled || got.PasswordHash != "hash2" || got.ID != a.ID {
		t.Fatalf("after updates %+v", got)
	}
	if byID := must(s.AccountByID(ctx, a.ID)); byID.Address != a.Address {
		t.Fatalf("AccountByID = %+v", byID)
	}
	for _, err := range []error{
		s.SetEnabled(ctx, "nobody@example.test", true),
		s.SetPassword(ctx, "nobody@example.test", "x"),
		s.DeleteAccount(ctx, "nobody@example.test"),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update of unknown account: %v, want ErrNotFound", err)
		}
	}
	must(s.CreateAccount(ctx, "amy@example.test", ""))
	if as := must(s.Accounts(ctx, "example.test")); len(as) != 2 || as[0].Address != "amy@example.test" {
		t.Fatalf("Accounts = %+v", as)
	}
}

func testDeliver(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "carol@example.test")
	raw := Raw("hello", "first message")
	now := time.Now().Truncate(time.Millisecond)
	d := store.NewDelivery(raw, now)
	d.Copies = []store.Copy{{AccountID: accts[0].ID, Mailbox: store.Inbox}, {AccountID: accts[1].ID, Mailbox: store.Inbox, Flags: store.FlagSeen}}
	d.Events = []store.LogEvent{{Status: msglog.Stored, Rcpt: "bob@example.test", MessageID: "hello@example.org"}}
	dl := must(s.Deliver(ctx, d))
	if len(dl) != 2 || dl[0].UID != 1 || dl[1].UID != 1 || dl[0].MailboxID == dl[1].MailboxID {
		t.Fatalf("delivered %+v", dl)
	}
	m0 := must(s.Message(ctx, accts[0].ID, dl[0].MessageID))
	m1 := must(s.Message(ctx, accts[1].ID, dl[1].MessageID))
	if m0.BodyID != m1.BodyID {
		t.Errorf("copies have bodies %d and %d; one body shared expected", m0.BodyID, m1.BodyID)
	}
	if m0.Subject != "hello" || m0.MessageID != "hello@example.org" || m0.Size != int64(len(raw)) || !m0.Received.Equal(now) || m0.Flags != 0 {
		t.Errorf("message %+v", m0)
	}
	if m1.Flags != store.FlagSeen {
		t.Errorf("flags %v, want \\Seen", m1.Flags)
	}
	if got := readBody(t, s, accts[0].ID, m0.BodyID); !bytes.Equal(got, raw) {
		t.Fatalf("body = %q, want %q", got, raw)
	}
	b := must(s.Body(ctx, accts[0].ID, m0.BodyID))
	if b.Size != int64(len(raw)) || b.Info == nil || b.Info.Subject != "hello" {
		t.Fatalf("body info %+v", b)
	}
	// Second message: UIDs and counters advance.
	dl2 := deliver(t, s, Raw("again", "second"), now, store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox})
	if dl2[0].UID != 2 {
		t.Fatalf("second UID %d, want 2", dl2[0].UID)
	}
	mb := must(s.Mailbox(ctx, accts[0].ID, "inbox"))
	if mb.Messages != 2 || mb.Unseen != 2 || mb.UIDNext != 3 || mb.Size != int64(len(raw)+len(Raw("again", "second"))) || mb.HighestModSeq < 3 {
		t.Fatalf("inbox counters %+v", mb)
	}
	if mb2 := must(s.Mailbox(ctx, accts[1].ID, store.Inbox)); mb2.Unseen != 0 || mb2.Messages != 1 {
		t.Fatalf("carol's inbox %+v", mb2)
	}
	msgs := must(s.Messages(ctx, accts[0].ID, mb.ID))
	if len(msgs) != 2 || msgs[0].UID != 1 || msgs[1].UID != 2 || msgs[1].ModSeq <= msgs[0].ModSeq {
		t.Fatalf("messages %+v", msgs)
	}
	ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "<hello@example.org>"}))
	if len(ev) != 1 || ev[0].Status != msglog.Stored || ev[0].Rcpt != "bob@example.test" {
		t.Fatalf("log %+v", ev)
	}
	// Sent folder, with flags and keywords.
	dl3 := deliver(t, s, Raw("sent", "x"), now, store.Copy{AccountID: accts[0].ID, Mailbox: store.Sent, Flags: store.FlagSeen, Keywords: []string{"$Forwarded"}})
	m3 := must(s.Message(ctx, accts[0].ID, dl3[0].MessageID))
	if sent := must(s.Mailbox(ctx, accts[0].ID, store.Sent)); m3.MailboxID != sent.ID || len(m3.Keywords) != 1 || m3.Keywords[0] != "$Forwarded" {
		t.Fatalf("sent copy %+v", m3)
	}
}

func testDeliverErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test")
	d := store.NewDelivery(Raw("x", "y"), time.Now())
	if _, err := s.Deliver(ctx, d); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no copies: %v, want ErrInvalid", err)
	}
	d.Copies = []store.Copy{{AccountID: accts[0].ID, Mailbox: "Nope"}}
	if _, err := s.Deliver(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown mailbox: %v, want ErrNotFound", err)
	}
	// A failed delivery leaves nothing behind and the next one works.
	mb := must(s.Mailbox(ctx, accts[0].ID, store.Inbox))
	if mb.Messages != 0 || mb.UIDNext != 1 {
		t.Fatalf("after failure %+v", mb)
	}
	// Malformed MIME is stored as received.
	bad := []byte("Subject: broken\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n")
	dl := deliver(t, s, bad, time.Now(), store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox})
	m := must(s.Message(ctx, accts[0].ID, dl[0].MessageID))
	if got := readBody(t, s, accts[0].ID, m.BodyID); !bytes.Equal(got, bad) {
		t.Fatalf("malformed body changed: %q", got)
	}
}

// testDeliverStreamed delivers a body that comes from a reader handing out
// a few bytes at a time (as a spool file or a network stream would), with
// Info parsed separately: the store must read exactly Size bytes.
func testDeliverStreamed(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test")
	raw := Raw("streamed", strings.Repeat("a long line of text ", 200000))
	d := store.NewDelivery(raw, time.Now())
	d.Body = iotest.HalfReader(io.MultiReader(bytes.NewReader(raw), strings.NewReader("not part of it")))
	d.Copies = []store.Copy{{AccountID: accts[0].ID, Mailbox: store.Inbox}}
	dl := must(s.Deliver(ctx, d))
	m := must(s.Message(ctx, accts[0].ID, dl[0].MessageID))
	if m.Size != int64(len(raw)) || m.Subject != "streamed" {
		t.Fatalf("message %+v", m)
	}
	if got := readBody(t, s, accts[0].ID, m.BodyID); !bytes.Equal(got, raw) {
		t.Fatalf("body read back %d bytes, want %d identical", len(got), len(raw))
	}
	// A body shorter than its announced size is refused and leaves nothing.
	short := store.NewDelivery(raw, time.Now())
	short.Body = bytes.NewReader(raw[:100])
	short.Copies = d.Copies
	if _, err := s.Deliver(ctx, short); err == nil {
		t.Fatal("a body shorter than Size was stored")
	}
	if mb := must(s.Mailbox(ctx, accts[0].ID, store.Inbox)); mb.Messages != 1 {
		t.Fatalf("after a short body the inbox holds %d messages, want 1", mb.Messages)
	}
}

func testConcurrentDeliver(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test")
	const n = 64
	var wg sync.WaitGroup
	uids := make(chan uint32, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := store.NewDelivery(Raw(fmt.Sprintf("m%d", i), "body"), time.Now())
			d.Copies = []store.Copy{{AccountID: accts[0].ID, Mailbox: store.Inbox}}
			dl, err := s.Deliver(ctx, d)
			if err != nil {
				errs <- err
				return
			}
			uids <- dl[0].UID
		}()
	}
	wg.Wait()
	close(uids)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for u := range uids {
		if seen[u] || u < 1 || u > n {
			t.Fatalf("uid %d duplicated or out of range", u)
		}
		seen[u] = true
	}
	if mb := must(s.Mailbox(ctx, accts[0].ID, store.Inbox)); mb.Messages != n || mb.UIDNext != n+1 {
		t.Fatalf("inbox %+v", mb)
	}
}

func testExpungeRestore(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test")
	var ids []int64
	for i := range 3 {
		dl := deliver(t, s, Raw(fmt.Sprintf("m%d", i), "b"), time.Now(), store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox})
		ids = append(ids, dl[0].MessageID)
	}
	mb := must(s.Mailbox(ctx, accts[0].ID, store.Inbox))
	if err := s.Expunge(ctx, accts[0].ID, mb.ID, ids[:2]); err != nil {
		t.Fatal(err)
	}
	after := must(s.Mailbox(ctx, accts[0].ID, store.Inbox))
	if after.Messages != 1 || after.Unseen != 1 || after.HighestModSeq <= mb.HighestModSeq {
		t.Fatalf("after expunge %+v", after)
	}
	if live := must(s.Messages(ctx, accts[0].ID, mb.ID)); len(live) != 1 || live[0].ID != ids[2] {
		t.Fatalf("live %+v", live)
	}
	exp := must(s.Expunged(ctx, accts[0].ID, mb.ID))
	if len(exp) != 2 || !exp[0].Expunged || exp[0].ExpungedMod != after.HighestModSeq {
		t.Fatalf("expunged %+v", exp)
	}
	if err := s.Expunge(ctx, accts[0].ID, mb.ID+1000, ids[2:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expunge in wrong mailbox: %v", err)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Deleted})); len(ev) != 2 || ev[0].Rcpt != "bob@example.test" {
		t.Fatalf("deleted log %+v", ev)
	}
	rd := must(s.Restore(ctx, accts[0].ID, mb.ID, ids[:1]))
	if len(rd) != 1 || rd[0].UID != 4 {
		t.Fatalf("restored %+v, want new UID 4", rd)
	}
	final := must(s.Mailbox(ctx, accts[0].ID, store.Inbox))
	if final.Messages != 2 || final.UIDNext != 5 {
		t.Fatalf("after restore %+v", final)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Restored})); len(ev) != 1 {
		t.Fatalf("restored log %+v", ev)
	}
}

func testPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@short.test")
	if err := s.SetRetention(ctx, "short.test", 2); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	old := deliver(t, s, Raw("old", "b"), now.Add(-31*day), store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox})
	shared := deliver(t, s, Raw("shared", "b"), now.Add(-3*day),
		store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox}, store.Copy{AccountID: accts[1].ID, Mailbox: store.Inbox})
	fresh := deliver(t, s, Raw("fresh", "b"), now.Add(-day), store.Copy{AccountID: accts[1].ID, Mailbox: store.Inbox})
	oldMsg := must(s.Message(ctx, accts[0].ID, old[0].MessageID))
	sharedMsg := must(s.Message(ctx, accts[0].ID, shared[0].MessageID))
	if err := s.AppendLog(ctx, store.LogEvent{Time: now.Add(-100 * day), Status: msglog.Refused, Rcpt: "x@y.test"}); err != nil {
		t.Fatal(err)
	}

	var total store.PurgeResult
	for {
		r := must(s.Purge(ctx, now, now.Add(-90*day), 1))
		total.Messages += r.Messages
		total.Bodies += r.Bodies
		total.Events += r.Events
		if r.Messages == 0 && r.Events == 0 {
			break
		}
	}
	// Bob (30 days) loses the 31-day-old one; Eve (2 days) her copy of the
	// 3-day-old one, whose body stays for Bob.
	if total.Messages != 2 || total.Bodies != 1 || total.Events != 1 {
		t.Fatalf("purged %+v", total)
	}
	if _, err := s.Message(ctx, accts[0].ID, old[0].MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old message still there: %v", err)
	}
	if _, err := s.OpenBody(ctx, accts[0].ID, oldMsg.BodyID); err == nil {
		t.Fatal("old body still readable")
	}
	if _, err := s.Message(ctx, accts[1].ID, shared[1].MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("eve's shared copy still there: %v", err)
	}
	if got := readBody(t, s, accts[0].ID, sharedMsg.BodyID); !bytes.Equal(got, Raw("shared", "b")) {
		t.Fatal("shared body lost while bob still has it")
	}
	must(s.Message(ctx, accts[1].ID, fresh[0].MessageID))
	if mb := must(s.Mailbox(ctx, accts[0].ID, store.Inbox)); mb.Messages != 1 {
		t.Fatalf("bob's inbox after purge %+v", mb)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Purged})); len(ev) != 2 {
		t.Fatalf("purged log %+v", ev)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Refused})); len(ev) != 0 {
		t.Fatalf("old log record kept: %+v", ev)
	}
}

func testDeleteAccount(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "carol@example.test")
	dl := deliver(t, s, Raw("x", "y"), time.Now(), store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox}, store.Copy{AccountID: accts[1].ID, Mailbox: store.Inbox})
	m := must(s.Message(ctx, accts[0].ID, dl[0].MessageID))
	if err := s.DeleteAccount(ctx, "bob@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx, "bob@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted account: %v", err)
	}
	readBody(t, s, accts[1].ID, m.BodyID) // carol still has it
	if err := s.DeleteAccount(ctx, "carol@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Body(ctx, accts[1].ID, m.BodyID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("body after last owner deleted: %v", err)
	}
	if err := s.DeleteDomain(ctx, "example.test"); err != nil {
		t.Fatalf("domain emptied: %v", err)
	}
}

func testLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	events := []store.LogEvent{
		{Time: base, Status: msglog.Stored, MailFrom: "A@x.test", Rcpt: "b@y.test", MessageID: "<1@x>", DomainID: 1},
		{Time: base.Add(time.Hour), Status: msglog.Refused, MailFrom: "a@x.test", Rcpt: "nobody@y.test", Detail: "not protected", DomainID: 0},
		{Time: base.Add(2 * time.Hour), Status: msglog.Stored, MailFrom: "c@z.test", Rcpt: "b@y.test", MessageID: "2@x", DomainID: 2},
	}
	if err := s.AppendLog(ctx, events...); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		q    store.LogQuery
		want int
	}{
		{store.LogQuery{}, 3},
		{store.LogQuery{Address: "a@X.test"}, 2},
		{store.LogQuery{Address: "b@y.test"}, 2},
		{store.LogQuery{MessageID: "1@x"}, 1},
		{store.LogQuery{MessageID: "<2@x>"}, 1},
		{store.LogQuery{Status: msglog.Refused}, 1},
		{store.LogQuery{Since: base.Add(30 * time.Minute)}, 2},
		{store.LogQuery{Until: base.Add(30 * time.Minute)}, 1},
		{store.LogQuery{DomainIDs: []int64{2}}, 1},
		{store.LogQuery{DomainIDs: []int64{}}, 0},
		{store.LogQuery{Limit: 1}, 1},
	}
	for _, c := range cases {
		got := must(s.SearchLog(ctx, c.q))
		if len(got) != c.want {
			t.Errorf("SearchLog(%+v) = %d records, want %d", c.q, len(got), c.want)
		}
	}
	all := must(s.SearchLog(ctx, store.LogQuery{}))
	if !all[0].Time.Equal(base.Add(2*time.Hour)) || all[2].Detail != "" || all[1].Detail != "not protected" {
		t.Errorf("order or fields wrong: %+v", all)
	}
}

func testChanges(t *testing.T, s store.Store) {
	accts := setup(t, s, "bob@example.test", "carol@example.test")
	feed := func(accountID int64) (<-chan store.Change, func()) {
		ch := make(chan store.Change, 16)
		return ch, s.Subscribe(accountID, func(c store.Change) {
			select {
			case ch <- c:
			default:
				t.Errorf("more than %d changes", cap(ch))
			}
		})
	}
	ch, cancel := feed(accts[0].ID)
	defer cancel()
	other, cancelOther := feed(accts[1].ID)
	defer cancelOther()
	dl := deliver(t, s, Raw("x", "y"), time.Now(), store.Copy{AccountID: accts[0].ID, Mailbox: store.Inbox})
	// The subscriber was told before Deliver returned.
	select {
	case c := <-ch:
		if c.Kind != store.ChangeNew || c.UID != dl[0].UID || c.MailboxID != dl[0].MailboxID {
			t.Fatalf("change %+v", c)
		}
	default:
		t.Fatal("no change event before Deliver returned")
	}
	if err := s.Expunge(context.Background(), accts[0].ID, dl[0].MailboxID, []int64{dl[0].MessageID}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-ch:
		if c.Kind != store.ChangeExpunge {
			t.Fatalf("change %+v", c)
		}
	default:
		t.Fatal("no change event before Expunge returned")
	}
	select {
	case c := <-other:
		t.Fatalf("other account got %+v", c)
	default:
	}
}
