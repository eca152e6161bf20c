package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testConversationMerges guards what a merge of conversations tells a
// list that follows a folder by modseq (issue 14): the rows whose key
// changed get a new modseq in their own mailbox and are announced, the
// conversation they left is named by RekeyedSince (with its row as it is
// now, or Messages 0 when none is left), and rows whose key stays are
// not touched. Both ways a merge changes keys: the conversation taken
// gets the other's key, and the one that takes it changes key when the
// other's earliest message is older.
func testConversationMerges(t *testing.T, s store.Store) {
	ctx := context.Background()
	date := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for _, takenFirst := range []bool{false, true} {
		addr := fmt.Sprintf("x@merges-%v.test", takenFirst)
		a := setup(t, s, addr)[0]
		in := must(s.Mailbox(ctx, a.ID, store.Inbox))
		sent := must(s.Mailbox(ctx, a.ID, store.Sent))
		alpha := ThreadMsg{ID: "a1@example.org", Subject: "Alpha", Date: date}
		beta := ThreadMsg{ID: "b1@example.org", Subject: "Beta", Date: date.Add(time.Hour)}
		var a1, b1 []store.Delivered
		if takenFirst {
			// Beta first: its conversation takes Alpha's and, Alpha's
			// first message being older, Alpha's subject and key.
			b1 = deliver(t, s, beta.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
			a1 = deliver(t, s, alpha.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		} else {
			a1 = deliver(t, s, alpha.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
			b1 = deliver(t, s, beta.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		}
		b2 := deliver(t, s, ThreadMsg{ID: "b2@example.org", Subject: "Re: Beta", IRT: "b1@example.org", Date: date.Add(2 * time.Hour)}.Raw(), time.Now(),
			store.Copy{AccountID: a.ID, Mailbox: store.Sent, Flags: store.FlagSeen})
		// Another conversation with Beta's subject: by THREAD's subject
		// merge the same conversation as Beta's until the merge below
		// takes Beta's messages away, and it stays behind.
		c1 := deliver(t, s, ThreadMsg{ID: "c1@example.org", Subject: "Beta", Date: date.Add(30 * time.Minute)}.Raw(), time.Now(),
			store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		// A reply joining Alpha's conversation alone re-keys nothing.
		h := must(s.Mailbox(ctx, a.ID, store.Inbox)).HighestModSeq
		a2 := deliver(t, s, ThreadMsg{ID: "a2@example.org", Subject: "Re: Alpha", IRT: "a1@example.org", Date: date.Add(3 * time.Hour)}.Raw(), time.Now(),
			store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		if got := changedIDs(t, s, a.ID, in.ID, h); !slices.Equal(got, []int64{a2[0].MessageID}) {
			t.Errorf("%s: a reply joining one conversation changed %v, want only itself %d", addr, got, a2[0].MessageID)
		}
		if left, complete := rekeyed(t, s, a.ID, in.ID, h); len(left) != 0 || !complete {
			t.Errorf("%s: a reply joining one conversation: conversations left %v (complete %v)", addr, left, complete)
		}
		keyOf := func(id int64) string {
			rows := must(s.ConversationRows(ctx, a.ID, in.ID, []int64{id}))
			if len(rows) != 1 {
				t.Fatalf("%s: message %d is in %d conversations", addr, id, len(rows))
			}
			return rows[0].Key
		}
		betaKey := keyOf(b1[0].MessageID)
		if betaKey != keyOf(c1[0].MessageID) || betaKey == keyOf(a1[0].MessageID) {
			t.Fatalf("%s: before the merge, Beta's conversation %q, c1's %q, Alpha's %q", addr, betaKey, keyOf(c1[0].MessageID), keyOf(a1[0].MessageID))
		}

		hIn := must(s.Mailbox(ctx, a.ID, store.Inbox)).HighestModSeq
		hSent := must(s.Mailbox(ctx, a.ID, store.Sent)).HighestModSeq
		var mu sync.Mutex
		var feed []store.Change
		cancel := s.Subscribe(a.ID, func(c store.Change) {
			mu.Lock()
			feed = append(feed, c)
			mu.Unlock()
		})
		// A reply to both: Alpha's and Beta's conversations are one.
		m := deliver(t, s, ThreadMsg{ID: "m1@example.org", Subject: "Re: Alpha", Refs: []string{"a1@example.org", "b2@example.org"},
			Date: date.Add(4 * time.Hour)}.Raw(), time.Now(), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
		cancel()

		if got, want := changedIDs(t, s, a.ID, in.ID, hIn), sortedIDs(b1[0].MessageID, m[0].MessageID); !slices.Equal(got, want) {
			t.Errorf("%s: INBOX changed %v by the merge, want the re-keyed %d and the new %d", addr, got, b1[0].MessageID, m[0].MessageID)
		}
		if got := changedIDs(t, s, a.ID, sent.ID, hSent); !slices.Equal(got, []int64{b2[0].MessageID}) {
			t.Errorf("%s: Sent changed %v by the merge, want the re-keyed %d", addr, got, b2[0].MessageID)
		}
		for _, mb := range []int64{in.ID, sent.ID} {
			high := must(s.MailboxByID(ctx, a.ID, mb)).HighestModSeq
			for _, msg := range must(s.Messages(ctx, a.ID, mb)) {
				if msg.ModSeq > high {
					t.Errorf("%s: message %d has modseq %d above its mailbox's highest %d", addr, msg.ID, msg.ModSeq, high)
				}
			}
		}
		mu.Lock()
		announced := map[[2]int64]bool{}
		for _, c := range feed {
			if c.Kind == store.ChangeFlags {
				announced[[2]int64{c.MailboxID, int64(c.UID)}] = true
			}
		}
		mu.Unlock()
		for _, d := range [][]store.Delivered{b1, b2} {
			if !announced[[2]int64{d[0].MailboxID, int64(d[0].UID)}] {
				t.Errorf("%s: re-keyed message %d (mailbox %d UID %d) not announced by the change feed: %+v", addr, d[0].MessageID, d[0].MailboxID, d[0].UID, feed)
			}
		}

		// INBOX: Beta's row now shows its other conversation, c1.
		left, complete := rekeyed(t, s, a.ID, in.ID, hIn)
		if !complete || len(left) != 1 || left[0].Key != betaKey || left[0].Messages != 1 || left[0].Newest.ID != c1[0].MessageID {
			t.Errorf("%s: INBOX's conversations left by the merge %+v (complete %v), want %q with c1 (%d) alone", addr, left, complete, betaKey, c1[0].MessageID)
		}
		// Sent: nothing is left in Beta's conversation, its row goes.
		left, complete = rekeyed(t, s, a.ID, sent.ID, hSent)
		if !complete || len(left) != 1 || left[0].Key != betaKey || left[0].Messages != 0 {
			t.Errorf("%s: Sent's conversations left by the merge %+v (complete %v), want %q with no message", addr, left, complete, betaKey)
		}
		now := must(s.Mailbox(ctx, a.ID, store.Inbox)).HighestModSeq
		if left, complete = rekeyed(t, s, a.ID, in.ID, now); len(left) != 0 || !complete {
			t.Errorf("%s: conversations left after the last modseq %+v (complete %v)", addr, left, complete)
		}
		// The merged conversation, found from a re-keyed message.
		rows := must(s.ConversationRows(ctx, a.ID, in.ID, []int64{b1[0].MessageID}))
		if len(rows) != 1 || rows[0].Messages != 4 || rows[0].Newest.ID != m[0].MessageID {
			t.Errorf("%s: the merged conversation in INBOX %+v, want 4 messages (a1, a2, b1, m1), newest m1", addr, rows)
		}
		page := must(s.ConversationPage(ctx, a.ID, in.ID, store.Cursor{}, 50))
		if len(page) != 2 {
			t.Errorf("%s: INBOX lists %d conversations after the merge, want 2 (merged, c1's)", addr, len(page))
		}
		if _, _, err := s.RekeyedSince(ctx, a.ID+1000, in.ID, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another account's mailbox: %v, want ErrNotFound", err)
		}
	}
}

// changedIDs is ChangedSince as sorted message ids.
func changedIDs(t *testing.T, s store.Store, acct, mailbox int64, since uint64) []int64 {
	t.Helper()
	var ids []int64
	for _, f := range must(s.ChangedSince(context.Background(), acct, mailbox, since)) {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs(ids ...int64) []int64 {
	slices.Sort(ids)
	return ids
}

// rekeyed is RekeyedSince without its error.
func rekeyed(t *testing.T, s store.Store, acct, mailbox int64, since uint64) ([]store.Conversation, bool) {
	t.Helper()
	left, complete, err := s.RekeyedSince(context.Background(), acct, mailbox, since)
	if err != nil {
		t.Fatalf("RekeyedSince: %v", err)
	}
	return left, complete
}
