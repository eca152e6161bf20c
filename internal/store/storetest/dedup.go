package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// dupStatus is the status the duplicate tests give a duplicate copy's
// event (the store takes it from the delivery).
const dupStatus = msglog.Duplicate

// dupDeliver delivers raw with one copy per mailbox of account a, each
// with a "stored" event naming the mailbox.
func dupDeliver(t *testing.T, s store.Store, raw []byte, received time.Time, a store.Account, mailboxes ...string) []store.Delivered {
	t.Helper()
	d := store.NewDelivery(raw, received)
	d.DuplicateStatus = dupStatus
	for _, mb := range mailboxes {
		d.Copies = append(d.Copies, store.Copy{AccountID: a.ID, Mailbox: mb,
			Event: store.LogEvent{Status: msglog.Stored, Rcpt: a.Address, MessageID: d.Info.MessageID, Detail: mb}})
	}
	return must(s.Deliver(context.Background(), d))
}

// withHeader returns raw with a header field line put in front, as a
// relay adds a Received field.
func withHeader(raw []byte, field string) []byte {
	return append([]byte(field+"\r\n"), raw...)
}

// testDuplicates checks the duplicate rule of store/dedup.go: same
// Message-ID and body digest in one mailbox is stored once, whatever the
// header section; everything else is stored.
func testDuplicates(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	inbox := must(s.Mailbox(ctx, a.ID, store.Inbox))
	raw := Raw("dup", "the body\r\nof the message")
	first := dupDeliver(t, s, raw, time.Now(), a, store.Inbox)
	if first[0].Duplicate || first[0].UID != 1 {
		t.Fatalf("first copy %+v", first)
	}

	// The same message again, as retried and as journaled back with
	// other header fields in front: the copy already there is named.
	for i, again := range [][]byte{
		raw,
		withHeader(raw, "Received: from filter.example.net by mx; Mon, 23 Nov 2026 10:00:01 +0000"),
		bytes.TrimSuffix(raw, []byte("\r\n")), // no final line ending (an IMAP upload)
		append(bytes.Clone(raw), "\r\n\r\n"...),
	} {
		dl := dupDeliver(t, s, again, time.Now(), a, store.Inbox)
		if len(dl) != 1 || !dl[0].Duplicate || dl[0].UID != first[0].UID || dl[0].MessageID != first[0].MessageID || dl[0].MailboxID != inbox.ID {
			t.Fatalf("copy %d of the same message: %+v, want the first (%+v) as duplicate", i, dl, first[0])
		}
	}
	if mb := must(s.Mailbox(ctx, a.ID, store.Inbox)); mb.Messages != 1 || mb.UIDNext != 2 || mb.Size != int64(len(raw)) {
		t.Fatalf("INBOX after duplicates %+v, want one message", mb)
	}
	ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "dup@example.org", Status: dupStatus}))
	if len(ev) != 4 || ev[0].Rcpt != a.Address || ev[0].Detail != "INBOX already holds it as UID 1" {
		t.Fatalf("duplicate log records %+v", ev)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "dup@example.org", Status: msglog.Stored})); len(ev) != 1 {
		t.Fatalf("stored log records %+v, want 1", ev)
	}

	// Not duplicates: another body under the same Message-ID, a body
	// differing in a trailing space, no Message-ID, and the Drafts
	// mailbox.
	for _, c := range []struct {
		name  string
		raw   []byte
		mb    string
		never bool // never deduplicated: the second delivery is stored too
	}{
		{"other body", Raw("dup", "the body\r\nof another message"), store.Inbox, false},
		{"trailing space", Raw("dup", "the body\r\nof the message "), store.Inbox, false},
		{"no Message-ID", []byte("Subject: anonymous\r\n\r\nsame\r\n"), store.Inbox, true},
		{"Drafts", raw, store.Drafts, true},
	} {
		if dl := dupDeliver(t, s, c.raw, time.Now(), a, c.mb); dl[0].Duplicate {
			t.Fatalf("%s: delivered as a duplicate %+v", c.name, dl)
		}
		if dl := dupDeliver(t, s, c.raw, time.Now(), a, c.mb); dl[0].Duplicate == c.never {
			t.Fatalf("%s, second delivery: %+v", c.name, dl)
		}
	}
	if mb := must(s.Mailbox(ctx, a.ID, store.Inbox)); mb.Messages != 5 {
		t.Fatalf("INBOX holds %d messages, want 5 (1 + 2 other bodies + 2 without Message-ID)", mb.Messages)
	}
	if mb := must(s.Mailbox(ctx, a.ID, store.Drafts)); mb.Messages != 2 {
		t.Fatalf("Drafts holds %d messages, want 2", mb.Messages)
	}

	// Once per mailbox: Sent gets its own copy; two copies into one
	// mailbox in one delivery store one.
	dl := dupDeliver(t, s, raw, time.Now(), a, store.Inbox, store.Sent, store.Sent)
	if !dl[0].Duplicate || dl[1].Duplicate || !dl[2].Duplicate || dl[2].UID != dl[1].UID || dl[2].MessageID != dl[1].MessageID {
		t.Fatalf("INBOX, Sent, Sent: %+v", dl)
	}
	sentMsg := must(s.Message(ctx, a.ID, dl[1].MessageID))
	if got := readBody(t, s, a.ID, sentMsg.BodyID); !bytes.Equal(got, raw) {
		t.Fatalf("Sent copy body %q", got)
	}
	if mb := must(s.Mailbox(ctx, a.ID, store.Sent)); mb.Messages != 1 {
		t.Fatalf("Sent holds %d, want 1", mb.Messages)
	}
}

// testDuplicateLifecycle: the key counts only while its message is live
// in the mailbox (expunge, move and purge give it up), and a delivery of
// duplicates only still queues its outbound entries.
func testDuplicateLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	inbox := must(s.Mailbox(ctx, a.ID, store.Inbox))
	raw := Raw("life", "body")
	now := time.Now()
	first := dupDeliver(t, s, raw, now, a, store.Inbox)[0]

	// Expunged: the next copy is stored, and is then the one held.
	if err := s.Expunge(ctx, a.ID, inbox.ID, []int64{first.MessageID}); err != nil {
		t.Fatal(err)
	}
	second := dupDeliver(t, s, raw, now, a, store.Inbox)[0]
	if second.Duplicate || second.UID == first.UID {
		t.Fatalf("after expunge: %+v", second)
	}
	if again := dupDeliver(t, s, raw, now, a, store.Inbox)[0]; !again.Duplicate || again.UID != second.UID {
		t.Fatalf("after a re-store: %+v, want duplicate of UID %d", again, second.UID)
	}
	// Restoring the expunged one makes two live copies, as asked.
	must(s.Restore(ctx, a.ID, inbox.ID, []int64{first.MessageID}))

	// Moved away: stored again in INBOX.
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	must(s.Move(ctx, a.ID, inbox.ID, []uint32{second.UID}, arch.ID))
	if third := dupDeliver(t, s, raw, now, a, store.Inbox)[0]; third.Duplicate {
		t.Fatalf("after move: %+v, want stored", third)
	}

	// A delivery whose copies are all duplicates still queues.
	d := store.NewDelivery(raw, now)
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
	d.Outbound = []store.Outbound{{AccountID: a.ID, MailFrom: a.Address, Rcpt: "far@away.example"}}
	dl := must(s.Deliver(ctx, d))
	if !dl[0].Duplicate {
		t.Fatalf("queued delivery: %+v, want a duplicate copy", dl)
	}
	q := must(s.QueueEntries(ctx, store.QueueQuery{AccountID: a.ID}))
	if len(q) != 1 {
		t.Fatalf("queue %+v, want the entry", q)
	}
	if got := readBody(t, s, a.ID, q[0].BodyID); !bytes.Equal(got, raw) {
		t.Fatalf("queued body %q", got)
	}

	// Purged: the key leaves with the message.
	day := 24 * time.Hour
	oldRaw := Raw("old", "body")
	old := dupDeliver(t, s, oldRaw, now.Add(-40*day), a, store.Inbox)[0]
	if dup := dupDeliver(t, s, oldRaw, now, a, store.Inbox)[0]; !dup.Duplicate || dup.UID != old.UID {
		t.Fatalf("before purge: %+v", dup)
	}
	for {
		r := must(s.Purge(ctx, now, now.Add(-90*day), 100))
		if r.Messages == 0 && r.Events == 0 {
			break
		}
	}
	if _, err := s.Message(ctx, a.ID, old.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old message not purged: %v", err)
	}
	if after := dupDeliver(t, s, oldRaw, now, a, store.Inbox)[0]; after.Duplicate {
		t.Fatalf("after purge: %+v, want stored", after)
	}

	// A deleted mailbox's keys go with it: its successor starts afresh.
	must(s.CreateMailbox(ctx, a.ID, "Folder", ""))
	dupDeliver(t, s, raw, now, a, "Folder")
	if err := s.DeleteMailbox(ctx, a.ID, "Folder"); err != nil {
		t.Fatal(err)
	}
	must(s.CreateMailbox(ctx, a.ID, "Folder", ""))
	if dl := dupDeliver(t, s, raw, now, a, "Folder")[0]; dl.Duplicate {
		t.Fatalf("new Folder: %+v, want stored", dl)
	}
}

// testConcurrentDuplicates delivers a few messages, each several times
// in random header variants from 8 goroutines at once, into two
// accounts: each mailbox ends with exactly one copy of each, and every
// delivery of one message names the same UID.
func testConcurrentDuplicates(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "carol@example.test")
	const msgs, times, workers = 12, 6, 8
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	type job struct {
		msg int
		raw []byte
	}
	var jobs []job
	for m := range msgs {
		raw := Raw(fmt.Sprintf("c%d", m), fmt.Sprintf("body %d", m))
		for k := range times {
			v := raw
			if rnd.IntN(2) == 0 {
				v = withHeader(raw, fmt.Sprintf("Received: by relay%d.example.net", k))
			}
			jobs = append(jobs, job{m, v})
		}
	}
	rnd.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	ch := make(chan job)
	var mu sync.Mutex
	uids := map[[2]int]uint32{} // (message, account index) -> UID
	stored := map[[2]int]int{}
	var wg sync.WaitGroup
	var errs []error // under mu
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				d := store.NewDelivery(j.raw, time.Now())
				d.Copies = []store.Copy{{AccountID: accts[0].ID, Mailbox: store.Inbox}, {AccountID: accts[1].ID, Mailbox: store.Inbox}}
				dl, err := s.Deliver(ctx, d)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				for i, x := range dl {
					k := [2]int{j.msg, i}
					if u, ok := uids[k]; ok && u != x.UID {
						errs = append(errs, fmt.Errorf("message %d, account %d: UIDs %d and %d", j.msg, i, u, x.UID))
					}
					uids[k] = x.UID
					if !x.Duplicate {
						stored[k]++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	for k, n := range stored {
		if n != 1 {
			t.Fatalf("message %d stored %d times for account %d", k[0], n, k[1])
		}
	}
	for _, a := range accts {
		if mb := must(s.Mailbox(ctx, a.ID, store.Inbox)); mb.Messages != msgs {
			t.Fatalf("%s INBOX holds %d, want %d", a.Address, mb.Messages, msgs)
		}
	}
}

// testDuplicateKeyAlso: a copy stored with Delivery.KeyAlso is also the
// duplicate of a copy of the other delivery's body (the converted one
// that was sent, journaled back), and stays the duplicate of its own;
// it gives up the second key with the message; a delivery without
// KeyAlso holds one key.
func testDuplicateKeyAlso(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "alice@example.test", "bob@example.test")
	sentRaw := Raw("conv", "a line of the message as the user wrote it")
	sentAs := Raw("conv", "a line of the message=\r\n as the user wrote it")
	now := time.Now()
	sent := store.NewDelivery(sentRaw, now)
	sent.DuplicateStatus = dupStatus
	sent.Copies = []store.Copy{{AccountID: a[0].ID, Mailbox: store.Sent}}
	out := store.NewDelivery(sentAs, now)
	out.DuplicateStatus = dupStatus
	out.Copies = []store.Copy{{AccountID: a[1].ID, Mailbox: store.Inbox}}
	sent.KeyAlso = out
	res := must(s.DeliverAll(ctx, sent, out))
	first := res[0][0]
	for i, raw := range [][]byte{withHeader(sentAs, "Received: by upstream"), sentRaw} {
		if dl := dupDeliver(t, s, raw, now, a[0], store.Sent); !dl[0].Duplicate || dl[0].MessageID != first.MessageID {
			t.Fatalf("copy %d into Sent: %+v, want a duplicate of %+v", i, dl, first)
		}
	}
	if mb := must(s.Mailbox(ctx, a[0].ID, store.Sent)); mb.Messages != 1 {
		t.Fatalf("Sent holds %d messages, want 1", mb.Messages)
	}
	// The colleague's copy is the converted body, keyed as such.
	if dl := dupDeliver(t, s, sentAs, now, a[1], store.Inbox); !dl[0].Duplicate {
		t.Fatalf("converted copy into the colleague's INBOX: %+v", dl)
	}
	// Expunged, the Sent copy no longer holds either key.
	must(0, s.Expunge(ctx, a[0].ID, first.MailboxID, []int64{first.MessageID}))
	if dl := dupDeliver(t, s, sentAs, now, a[0], store.Sent); dl[0].Duplicate {
		t.Fatalf("after the Sent copy was expunged, the converted copy is a duplicate: %+v", dl)
	}

	// Without KeyAlso, the converted copy is another message.
	plain := store.NewDelivery(Raw("conv2", "a line"), now)
	plain.Copies = []store.Copy{{AccountID: a[0].ID, Mailbox: store.Sent}}
	must(s.Deliver(ctx, plain))
	if dl := dupDeliver(t, s, Raw("conv2", "a=\r\n line"), now, a[0], store.Sent); dl[0].Duplicate {
		t.Fatalf("a converted copy without KeyAlso: %+v", dl)
	}
}

// testDuplicateAppendLogged: a client's upload of a message the mailbox
// holds already (an IMAP APPEND to Sent after submission stored its copy)
// comes as a copy without an Event, and is merged all the same; the
// store logs it as a duplicate naming the mailbox and the UID, in the
// delivery's transaction, at its own now rather than the date the client
// gave, as the other order (upload, then submit) is logged.
func testDuplicateAppendLogged(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "alice@example.test")[0]
	raw := Raw("sent-then-uploaded", "the report")
	first := dupDeliver(t, s, raw, time.Now(), a, store.Sent)
	start := time.Now()
	up := store.NewDelivery(withHeader(raw, "X-Mailer: a mail program"), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	up.DatedByClient = true
	up.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen}}
	dl := must(s.Deliver(ctx, up))
	if len(dl) != 1 || !dl[0].Duplicate || dl[0].UID != first[0].UID {
		t.Fatalf("upload of the Sent copy: %+v, want the copy held (%+v)", dl, first[0])
	}
	ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "sent-then-uploaded@example.org", Status: msglog.Duplicate}))
	want := fmt.Sprintf("%s already holds it as UID %d", store.Sent, first[0].UID)
	if len(ev) != 1 || ev[0].Rcpt != a.Address || ev[0].DomainID != a.DomainID || ev[0].Detail != want ||
		ev[0].Subject != "sent-then-uploaded" || ev[0].Time.Before(start.Truncate(time.Millisecond)) {
		t.Fatalf("duplicate records %+v, want one for %s saying %q, at or after %v", ev, a.Address, want, start)
	}
	// A new upload is stored and logs nothing, as before.
	fresh := store.NewDelivery(Raw("uploaded-only", "kept"), time.Now())
	fresh.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Sent}}
	if dl := must(s.Deliver(ctx, fresh)); dl[0].Duplicate {
		t.Fatalf("new upload %+v", dl)
	}
	if ev := must(s.SearchLog(ctx, store.LogQuery{MessageID: "uploaded-only@example.org"})); len(ev) != 0 {
		t.Fatalf("records of a new upload %+v", ev)
	}
}
