package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// deliverCorpus delivers msgs (all but the Missing ones) in order to a
// new account's INBOX, one minute apart, and returns the account and
// INBOX.
func deliverCorpus(t *testing.T, s store.Store, addr string, msgs []ThreadMsg) (store.Account, store.Mailbox) {
	t.Helper()
	a := setup(t, s, addr)[0]
	in := must(s.Mailbox(context.Background(), a.ID, store.Inbox))
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for i, m := range msgs {
		if !m.Missing {
			deliver(t, s, m.Raw(), base.Add(time.Duration(i)*time.Minute), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		}
	}
	return a, in
}

// storeGroups is how the store groups a mailbox's live messages into
// conversations: ConversationOf of each, as UIDs (sorted; the list sorted
// by first UID). It checks that the mailbox's ConversationPage agrees:
// as many conversations, counting every message once.
func storeGroups(t *testing.T, s store.Store, acct, mailbox int64) [][]uint32 {
	t.Helper()
	ctx := context.Background()
	rows := must(s.Messages(ctx, acct, mailbox))
	seen := map[uint32]bool{}
	var out [][]uint32
	for _, m := range rows {
		if seen[m.UID] {
			continue
		}
		var g []uint32
		for _, c := range must(s.ConversationOf(ctx, acct, m.ID, 1000)) {
			if c.MailboxID == mailbox {
				g = append(g, c.UID)
			}
		}
		slices.Sort(g)
		if !slices.Contains(g, m.UID) {
			t.Fatalf("UID %d is not in its own conversation %v", m.UID, g)
		}
		for _, u := range g {
			if seen[u] {
				t.Fatalf("UID %d is in two conversations (the second %v)", u, g)
			}
			seen[u] = true
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b []uint32) int { return int(a[0]) - int(b[0]) })
	pages := must(s.ConversationPage(ctx, acct, mailbox, store.Cursor{}, 1000))
	total := 0
	for _, p := range pages {
		total += p.Messages
	}
	if len(pages) != len(out) || total != len(rows) {
		t.Fatalf("ConversationPage has %d conversations of %d messages, ConversationOf %d of %d", len(pages), total, len(out), len(rows))
	}
	return out
}

// imapGroups is how IMAP THREAD=REFERENCES threads the same mailbox:
// thread.Msg built from the store's sort rows as IMAP's THREAD builds
// them.
func imapGroups(t *testing.T, s store.Store, acct, mailbox int64) [][]uint32 {
	t.Helper()
	var msgs []thread.Msg
	for _, r := range must(s.SortRows(context.Background(), acct, mailbox, nil)) {
		if !r.HasKeys {
			t.Fatalf("UID %d has no sort keys", r.UID)
		}
		msgs = append(msgs, thread.Msg{UID: r.UID, Arrival: r.Received, Size: r.Size, MessageID: r.MessageID,
			Date: r.Keys.Date, Base: r.Keys.BaseSubject, Reply: r.Keys.Reply, Based: true,
			InReplyTo: r.Keys.InReplyTo, References: r.Keys.References})
	}
	return ThreadGroups(msgs)
}

func groupsString(gs [][]uint32) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprint(&b, g)
	}
	return b.String()
}

// testConversationThreads checks how the store groups conversations
// against IMAP THREAD=REFERENCES (RFC 5256 section 3) on the same
// mailbox: a five-deep chain of replies with only In-Reply-To, delivered
// in 12 random orders; a chain whose middle message is missing (its
// reply joins by subject, and a sibling with another subject through the
// missing parent); roots merged by base subject ("Re:", "Fwd:", case and
// spaces aside) and an empty subject merging nothing; a conversation
// across mailboxes, without what is marked \Deleted, never reaching
// another account; and random corpora (ThreadCorpus: full References,
// In-Reply-To only, subject only, changed subjects, missing parents,
// arriving in any order).
func testConversationThreads(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 256))
	same := func(name string, msgs []ThreadMsg, want int) {
		t.Helper()
		a, in := deliverCorpus(t, s, name, msgs)
		got, imap := storeGroups(t, s, a.ID, in.ID), imapGroups(t, s, a.ID, in.ID)
		if groupsString(got) != groupsString(imap) {
			t.Errorf("%s: the store's conversations %s, IMAP THREAD's %s", name, groupsString(got), groupsString(imap))
		}
		if want > 0 && len(got) != want {
			t.Errorf("%s: %d conversations %s, want %d", name, len(got), groupsString(got), want)
		}
	}
	date := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	chain := []ThreadMsg{{ID: "c0@example.org", Subject: "Chain", Date: date}}
	for i := 1; i < 5; i++ {
		chain = append(chain, ThreadMsg{ID: fmt.Sprintf("c%d@example.org", i), Subject: "Re: Chain", IRT: chain[i-1].ID,
			Date: date.Add(time.Duration(i) * time.Hour)})
	}
	for n := range 12 {
		order := slices.Clone(chain)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if n == 0 {
			// Deepest first: every parent arrives after its reply.
			slices.Reverse(order)
		}
		same(fmt.Sprintf("x@chain%d.test", n), order, 1)
	}
	gap := []ThreadMsg{
		chain[0], chain[2],
		{ID: "c1@example.org", Subject: "Re: Chain", IRT: "c0@example.org", Missing: true, Date: date.Add(time.Hour)},
		{ID: "d3@example.org", Subject: "Budget", IRT: "c1@example.org", Date: date.Add(3 * time.Hour)},
		{ID: "e1@example.org", Subject: "Budget", Date: date.Add(4 * time.Hour)},
	}
	same("x@gap.test", gap, 2)
	slices.Reverse(gap)
	same("x@gap2.test", gap, 2)

	subjects := []ThreadMsg{
		{ID: "s1@example.org", Subject: "Budget 2027"},
		{ID: "s2@example.org", Subject: "Re: Budget 2027"},
		{ID: "s3@example.org", Subject: "FWD:  budget   2027"},
		{ID: "s4@example.org", Subject: "[fwd: Budget 2027]"},
		{ID: "s5@example.org", Subject: "Budget 2028"},
		{ID: "s6@example.org", Subject: ""},
		{ID: "s7@example.org", Subject: "Re:"},
	}
	for i := range subjects {
		subjects[i].Date = date.Add(time.Duration(i) * time.Minute)
	}
	same("x@subjects.test", subjects, 4)

	// Across mailboxes, without \Deleted, scoped by account.
	accts := setup(t, s, "span@span.test", "other@span.test")
	a, other := accts[0], accts[1]
	root := deliver(t, s, ThreadMsg{ID: "x1@example.org", Subject: "Plan", Date: date}.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	sent := deliver(t, s, ThreadMsg{ID: "x2@example.org", Subject: "Re: Plan", IRT: "x1@example.org", Refs: []string{"x1@example.org"}, Date: date}.Raw(), time.Now(),
		store.Copy{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen})
	gone := deliver(t, s, ThreadMsg{ID: "x3@example.org", Subject: "Re: Plan", IRT: "x2@example.org", Date: date}.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	must(s.DeleteLater(ctx, a.ID, []int64{gone[0].MessageID}, time.Now().Add(time.Hour)))
	var got []string
	for _, m := range must(s.ConversationOf(ctx, a.ID, sent[0].MessageID, 50)) {
		got = append(got, m.MessageID)
	}
	if !slices.Equal(got, []string{"x1@example.org", "x2@example.org"}) {
		t.Errorf("conversation across INBOX and Sent: %v", got)
	}
	if _, err := s.ConversationOf(ctx, other.ID, root[0].MessageID, 50); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's message: %v, want ErrNotFound", err)
	}
	// The other account's own message with the same ids and subject is
	// a conversation of its own.
	mine := deliver(t, s, ThreadMsg{ID: "x3@example.org", Subject: "Re: Plan", IRT: "x2@example.org", Date: date}.Raw(), time.Now(),
		store.Copy{AccountID: other.ID, Mailbox: store.Inbox})
	if conv := must(s.ConversationOf(ctx, other.ID, mine[0].MessageID, 50)); len(conv) != 1 {
		t.Errorf("another account's conversation reaches %d messages", len(conv))
	}

	for round := range 8 {
		same(fmt.Sprintf("x@corpus%d.test", round), ThreadCorpus(rng, 60, fmt.Sprintf("r%d", round)), 0)
	}
}
