package submission_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/clocktest"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/submission"
	"github.com/xtramail/xtramail/internal/testserver"
)

// outboxClock is a settable time for the outbox, an hour ahead of the
// real one so that the service's own outbox never finds these entries due.
func outboxClock() *clocktest.Clock { return clocktest.New(time.Now().Add(time.Hour)) }

func heldDraft(t *testing.T, srv *testserver.Server, acct store.Account, from, mid string, at time.Time) (store.Delivered, store.OutboxEntry) {
	t.Helper()
	raw := "From: Alice <" + from + ">\r\nTo: " + bob + ", " + outsider + "\r\nBcc: dave@far.test\r\nSubject: held " + mid +
		"\r\nMessage-ID: <" + mid + ">\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nHi there.\r\n"
	return holdRaw(t, srv, acct, raw, at)
}

// holdRaw saves raw as a draft of acct's at at and holds it for sending
// 10 seconds later, as the webmail's Send does.
func holdRaw(t *testing.T, srv *testserver.Server, acct store.Account, raw string, at time.Time) (store.Delivered, store.OutboxEntry) {
	t.Helper()
	ctx := context.Background()
	d, err := srv.Store.SaveDraft(ctx, acct.ID, 0, store.NewDelivery([]byte(raw), at))
	if err != nil {
		t.Fatal(err)
	}
	e, err := srv.Store.ScheduleSend(ctx, acct.ID, d.MessageID, at.Add(10*time.Second), "198.51.100.23")
	if err != nil {
		t.Fatal(err)
	}
	return d, e
}

func countIn(t *testing.T, srv *testserver.Server, addr, mailbox, mid string) int {
	t.Helper()
	ctx := context.Background()
	a, err := srv.Store.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := srv.Store.Mailbox(ctx, a.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := srv.Store.Messages(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.MessageID == mid {
			n++
		}
	}
	return n
}

func queuedFor(t *testing.T, srv *testserver.Server, mid string) int {
	n := 0
	for _, e := range queued(t, srv, alice) {
		if e.MessageID == mid {
			n++
		}
	}
	return n
}

// TestOutboxHoldsUntilDueThenSubmitsOnce: nothing of a held message is
// stored, queued or given to a colleague before its time; then Submit
// stores the Sent copy, the colleague's copy and one queue entry per
// recipient (Bcc included), and the draft and entry go.
func TestOutboxHoldsUntilDueThenSubmitsOnce(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	sub := submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now)
	ob := submission.NewOutbox(srv.Store, sub, nil, clk.Now)

	draft, _ := heldDraft(t, srv, acct, alice, "held1@x", clk.Now())
	clk.Advance(9 * time.Second)
	if n, err := ob.SendDue(ctx); n != 0 || err != nil {
		t.Fatalf("sent before the hold ended: %d %v", n, err)
	}
	if countIn(t, srv, alice, store.Sent, "held1@x") != 0 || countIn(t, srv, bob, store.Inbox, "held1@x") != 0 || queuedFor(t, srv, "held1@x") != 0 {
		t.Fatal("a held message was stored or queued before its time")
	}
	clk.Advance(time.Second)
	if n, err := ob.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("SendDue: %d %v", n, err)
	}
	if countIn(t, srv, alice, store.Sent, "held1@x") != 1 || countIn(t, srv, bob, store.Inbox, "held1@x") != 1 {
		t.Fatal("no Sent copy or colleague copy after the hold")
	}
	if q := queuedFor(t, srv, "held1@x"); q != 3 {
		t.Fatalf("%d queue entries, want 3 (To, To, Bcc)", q)
	}
	if _, err := srv.Store.Message(ctx, acct.ID, draft.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("draft kept after sending: %v", err)
	}
	if ob, _ := srv.Store.Outbox(ctx, acct.ID); len(ob) != 0 {
		t.Fatalf("outbox entry kept: %+v", ob)
	}
}

// TestOutboxUndoStopsTheMessage: a cancelled entry is never submitted,
// and its draft stays for compose.
func TestOutboxUndoStopsTheMessage(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)
	draft, e := heldDraft(t, srv, acct, alice, "undo1@x", clk.Now())
	if _, err := srv.Store.CancelSend(ctx, acct.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if n, _ := ob.SendDue(ctx); n != 0 {
		t.Fatalf("claimed %d after undo", n)
	}
	if countIn(t, srv, alice, store.Sent, "undo1@x") != 0 || queuedFor(t, srv, "undo1@x") != 0 || countIn(t, srv, bob, store.Inbox, "undo1@x") != 0 {
		t.Fatal("an undone message was sent")
	}
	if _, err := srv.Store.Message(ctx, acct.ID, draft.MessageID); err != nil {
		t.Fatalf("draft lost by undo: %v", err)
	}
}

// TestOutboxSenderDiedAfterSubmit: a sender that submitted and died
// before settling leaves the entry to be claimed again; the next sender
// finds the submission in the log and does not send it twice. One that
// died before submitting is retried and sends once.
func TestOutboxSenderDiedAfterSubmit(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	sub := submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now)
	ob := submission.NewOutbox(srv.Store, sub, nil, clk.Now)

	_, e1 := heldDraft(t, srv, acct, alice, "died-after@x", clk.Now())
	heldDraft(t, srv, acct, alice, "died-before@x", clk.Now())
	clk.Advance(10 * time.Second)
	claimed, err := srv.Store.ClaimSends(ctx, clk.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v %+v", err, claimed)
	}
	// The dead sender had submitted the first one.
	m, _ := srv.Store.Message(ctx, acct.ID, e1.DraftID)
	b, _ := srv.Store.Body(ctx, acct.ID, m.BodyID)
	raw := readAll(t, srv, acct.ID, m.BodyID)
	if _, err := sub.Submit(ctx, submission.Message{Account: acct, MailFrom: alice, Rcpts: submission.Recipients(b.Info), Body: raw}); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.SendDue(ctx); n != 0 {
		t.Fatalf("claimed %d under the dead sender's lease", n)
	}
	clk.Advance(2 * time.Minute)
	if n, err := ob.SendDue(ctx); n != 2 || err != nil {
		t.Fatalf("reclaim: %d %v", n, err)
	}
	for _, mid := range []string{"died-after@x", "died-before@x"} {
		if s, q := countIn(t, srv, alice, store.Sent, mid), queuedFor(t, srv, mid); s != 1 || q != 3 {
			t.Errorf("%s: %d Sent copies and %d queue entries, want 1 and 3", mid, s, q)
		}
	}
	if ob, _ := srv.Store.Outbox(ctx, acct.ID); len(ob) != 0 {
		t.Fatalf("outbox %+v", ob)
	}
}

// TestOutboxFailureKeepsDraft: a message Submit refuses for good (here a
// From that is not the user's) is not retried; the entry says why and
// the draft stays.
func TestOutboxFailureKeepsDraft(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	ob := submission.NewOutbox(srv.Store, submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now), nil, clk.Now)
	draft, _ := heldDraft(t, srv, acct, bob, "spoof@x", clk.Now())
	clk.Advance(10 * time.Second)
	if n, _ := ob.SendDue(ctx); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	list, _ := srv.Store.Outbox(ctx, acct.ID)
	if len(list) != 1 || list[0].Error != "the sender is not your address" {
		t.Fatalf("outbox %+v", list)
	}
	if _, err := srv.Store.Message(ctx, acct.ID, draft.MessageID); err != nil {
		t.Fatalf("draft lost: %v", err)
	}
	clk.Advance(time.Hour)
	if n, _ := ob.SendDue(ctx); n != 0 {
		t.Fatal("a failed message was tried again")
	}
	if queuedFor(t, srv, "spoof@x") != 0 {
		t.Fatal("a refused message was queued")
	}
}

func readAll(t *testing.T, srv *testserver.Server, accountID, bodyID int64) []byte {
	t.Helper()
	rc, err := srv.Store.OpenBody(context.Background(), accountID, bodyID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf []byte
	p := make([]byte, 32<<10)
	for {
		n, err := rc.Read(p)
		buf = append(buf, p[:n]...)
		if err != nil {
			return buf
		}
	}
}

// TestOutboxEventsCarryClientIP: a message sent from the webmail has the
// browser's IP on its submitted and queued message log events, as one
// sent over port 587 has the client's.
func TestOutboxEventsCarryClientIP(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	clk := outboxClock()
	sub := submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now)
	ob := submission.NewOutbox(srv.Store, sub, nil, clk.Now)
	heldDraft(t, srv, acct, alice, "heldip@x", clk.Now())
	clk.Advance(10 * time.Second)
	if n, err := ob.SendDue(ctx); n != 1 || err != nil {
		t.Fatalf("SendDue: %d %v", n, err)
	}
	evs, err := srv.Store.SearchLog(ctx, store.LogQuery{MessageID: "heldip@x", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[store.LogStatus]int{}
	for _, ev := range evs {
		if ev.Status != msglog.Submitted && ev.Status != msglog.Queued {
			continue
		}
		kinds[ev.Status]++
		if ev.RemoteIP != "198.51.100.23" {
			t.Errorf("%s event for %s has IP %q, want the browser's 198.51.100.23", ev.Status, ev.Rcpt, ev.RemoteIP)
		}
	}
	if kinds[msglog.Submitted] != 1 || kinds[msglog.Queued] != 3 {
		t.Fatalf("events %v, want 1 submitted and 3 queued", kinds)
	}
}

// TestOutboxReplyMarksOriginalAnswered: a reply sent from the webmail
// (held in the outbox, then submitted) flags the message it answers
// \Answered, as a mail client does, and an IMAP client sees the flag; a
// reply undone before its time, or one whose In-Reply-To names no
// message here, marks nothing.
func TestOutboxReplyMarksOriginalAnswered(t *testing.T) {
	srv := start(t, nil)
	ctx := context.Background()
	acct, _ := srv.Store.Account(ctx, alice)
	c, err := smtp.Dial(srv.Capture)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, mid := range []string{"question@far.test", "other@far.test"} {
		in := "From: Carol <" + outsider + ">\r\nTo: " + alice + "\r\nSubject: a question\r\nMessage-ID: <" + mid + ">\r\n" +
			"Date: Sat, 05 Dec 2026 07:00:00 +0000\r\n\r\nCan you?\r\n"
		if got := send(c, outsider, []string{alice}, in); got != "ok" {
			t.Fatalf("capture: %s", got)
		}
	}
	clk := outboxClock()
	sub := submission.NewSubmitter(srv.Store, submission.Limits{}, nil, clk.Now)
	ob := submission.NewOutbox(srv.Store, sub, nil, clk.Now)
	hold := func(mid, inReplyTo string) store.OutboxEntry {
		raw := "From: Alice <" + alice + ">\r\nTo: " + outsider + "\r\nSubject: Re: a question\r\nMessage-ID: <" + mid + ">\r\n" +
			"In-Reply-To: " + inReplyTo + "\r\nDate: Sat, 05 Dec 2026 08:00:00 +0000\r\n\r\nYes.\r\n"
		d, err := srv.Store.SaveDraft(ctx, acct.ID, 0, store.NewDelivery([]byte(raw), clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		e, err := srv.Store.ScheduleSend(ctx, acct.ID, d.MessageID, clk.Now().Add(10*time.Second), "198.51.100.23")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	undone := hold("reply0@example.test", "<other@far.test>")
	if _, err := srv.Store.CancelSend(ctx, acct.ID, undone.ID); err != nil {
		t.Fatal(err)
	}
	hold("reply1@example.test", "<question@far.test>")
	hold("reply2@example.test", "<nowhere@far.test>")
	clk.Advance(10 * time.Second)
	if n, err := ob.SendDue(ctx); n != 2 || err != nil {
		t.Fatalf("SendDue: %d %v", n, err)
	}

	im, err := imapclient.DialTLS(srv.IMAP, &imapclient.Options{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if err := im.Login(alice, alicePw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Select(store.Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := im.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("fetch: %d messages, %v", len(msgs), err)
	}
	for _, m := range msgs {
		want := m.Envelope.MessageID == "question@far.test"
		if got := slices.Contains(m.Flags, imap.FlagAnswered); got != want {
			t.Errorf("%s: \\Answered %v, want %v (flags %v)", m.Envelope.MessageID, got, want, m.Flags)
		}
	}
}
