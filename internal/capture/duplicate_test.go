package capture

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// dupMessage is a message with a Message-ID, as an upstream sends it.
func dupMessage(id, body string) string {
	return "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: dup " + id +
		"\r\nMessage-ID: <" + id + "@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n"
}

func (e *testEnv) mailboxCount(t *testing.T, address, mailbox string) uint32 {
	t.Helper()
	ctx := context.Background()
	a, err := e.st.Account(ctx, address)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := e.st.Mailbox(ctx, a.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	return mb.Messages
}

func (e *testEnv) logOf(t *testing.T, messageID string, status store.LogStatus) []store.LogEvent {
	t.Helper()
	evs, err := e.st.SearchLog(context.Background(), store.LogQuery{MessageID: messageID, Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestDuplicateCopiesStoredOnce: an upstream retrying a copy (its 250
// lost), or journaling back a copy with its own header fields in front,
// gets 250 and the mailbox keeps one copy; the message log says
// "duplicate" (issue 13 part 5).
func TestDuplicateCopiesStoredOnce(t *testing.T) {
	e := newEnv(t, Config{})
	cv := dialRaw(t, e.addr)
	cv.cmd("EHLO up.test", "250 ")
	send := func(from string, rcpts []string, msg, want string) {
		t.Helper()
		cv.cmd("MAIL FROM:<"+from+">", "250 ")
		for _, r := range rcpts {
			cv.cmd("RCPT TO:<"+r+">", "250 ")
		}
		cv.cmd("DATA", "354 ")
		cv.send(msg + ".\r\n")
		if got := cv.reply(); got != want {
			t.Fatalf("message from %s to %v: reply %q, want %q", from, rcpts, got, want)
		}
	}
	const stored, dup, journaled = "250 2.0.0 stored", "250 2.0.0 already stored (duplicate)", "250 2.0.0 stored; copy kept for the protected sender"

	// Inbound, then retried, then journaled with a Received field added.
	m1 := dupMessage("m1", "first body")
	send("x@outside.test", []string{"bob@example.test"}, m1, stored)
	send("x@outside.test", []string{"bob@example.test"}, m1, dup)
	send("x@outside.test", []string{"bob@example.test"}, "Received: from mx.outside.test by filter.example.net\r\n"+m1, dup)
	if n := e.mailboxCount(t, "bob@example.test", store.Inbox); n != 1 {
		t.Fatalf("bob's INBOX holds %d, want 1", n)
	}
	if ev := e.logOf(t, "m1@example.test", msglog.Duplicate); len(ev) != 2 || ev[0].Rcpt != "bob@example.test" ||
		ev[0].Detail != "INBOX already holds it as UID 1" || ev[0].RemoteIP == "" {
		t.Fatalf("duplicate records %+v", ev)
	}
	if ev := e.logOf(t, "m1@example.test", msglog.Stored); len(ev) != 1 {
		t.Fatalf("stored records %+v, want 1", ev)
	}
	if ev := e.logOf(t, "m1@example.test", msglog.Captured); len(ev) != 3 {
		t.Fatalf("captured records %+v, want one per copy received", ev)
	}

	// Outbound from a protected sender: its Sent copy is kept once; a
	// later journaled copy that also reaches a protected colleague stores
	// only the colleague's copy.
	m2 := dupMessage("m2", "second body")
	send("alice@example.test", []string{"someone@outside.test"}, m2, journaled)
	send("alice@example.test", []string{"someone@outside.test", "bob@example.test"}, m2, journaled)
	send("alice@example.test", []string{"someone@outside.test", "bob@example.test"}, m2, dup)
	if n := e.mailboxCount(t, "alice@example.test", store.Sent); n != 1 {
		t.Fatalf("alice's Sent holds %d, want 1", n)
	}
	if n := e.mailboxCount(t, "bob@example.test", store.Inbox); n != 2 {
		t.Fatalf("bob's INBOX holds %d, want 2", n)
	}

	// The same body under another Message-ID, or without one, is another
	// message.
	send("x@outside.test", []string{"bob@example.test"}, strings.Replace(m1, "<m1@", "<m1b@", 1), stored)
	anon := "Subject: no id\r\n\r\nsame\r\n"
	send("x@outside.test", []string{"bob@example.test"}, anon, stored)
	send("x@outside.test", []string{"bob@example.test"}, anon, stored)
	if n := e.mailboxCount(t, "bob@example.test", store.Inbox); n != 5 {
		t.Fatalf("bob's INBOX holds %d, want 5", n)
	}
}

// TestConcurrentDuplicateCaptures sends each of a few messages several
// times over 8 connections at once, in random order and random header
// variants (as two upstreams retrying would): every copy is answered 250
// and each mailbox ends with exactly one of each message.
func TestConcurrentDuplicateCaptures(t *testing.T) {
	e := newEnv(t, Config{})
	const msgs, times, conns = 10, 8, 8
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	type job struct{ from, msg string }
	var jobs []job
	for m := range msgs {
		body := dupMessage(fmt.Sprintf("c%d", m), fmt.Sprintf("body %d", m))
		for k := range times {
			j := job{"alice@example.test", body}
			if rnd.IntN(2) == 0 {
				j.msg = fmt.Sprintf("Received: by relay%d.example.net\r\n", k) + body
			}
			jobs = append(jobs, j)
		}
	}
	rnd.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	ch := make(chan job)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(e.addr)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				for range ch {
				}
				return
			}
			defer c.Close()
			for j := range ch {
				if err := c.SendMail(j.from, []string{"bob@example.test"}, strings.NewReader(j.msg)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d sends failed, the first: %v", len(errs), errs[0])
	}
	if n := e.mailboxCount(t, "bob@example.test", store.Inbox); n != msgs {
		t.Fatalf("bob's INBOX holds %d, want %d", n, msgs)
	}
	if n := e.mailboxCount(t, "alice@example.test", store.Sent); n != msgs {
		t.Fatalf("alice's Sent holds %d, want %d", n, msgs)
	}
	for m := range msgs {
		id := fmt.Sprintf("c%d@example.test", m)
		if ev := e.logOf(t, id, msglog.Stored); len(ev) != 2 {
			t.Fatalf("%s: %d stored records, want 2 (INBOX, Sent)", id, len(ev))
		}
		if ev := e.logOf(t, id, msglog.Duplicate); len(ev) != 2*(times-1) {
			t.Fatalf("%s: %d duplicate records, want %d", id, len(ev), 2*(times-1))
		}
	}
}
