package webmail

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestConversation: the conversation of a message spans folders (a reply
// in Sent), follows References and In-Reply-To chains both ways (the
// third message names only the second), leaves out unrelated mail with
// the same words, shows a copy once, and never reaches another account.
func TestConversation(t *testing.T) {
	st, bob, eve := testStore(t)
	ctx := context.Background()
	at := func(h int) time.Time { return time.Date(2026, 11, 2, h, 0, 0, 0, time.UTC) }
	first := put(t, st, bob, store.Inbox, "Message-ID: <a1@x.test>\nSubject: Plans\n\nfirst\n", at(1), 0)
	reply := put(t, st, bob, store.Sent, "Message-ID: <a2@x.test>\nIn-Reply-To: <a1@x.test>\nReferences: <a1@x.test>\nSubject: Re: Plans\n\nsecond\n", at(2), 0)
	// A reply to the reply that only says In-Reply-To.
	third := put(t, st, bob, store.Inbox, "Message-ID: <a3@x.test>\nIn-Reply-To: <a2@x.test>\nSubject: Re: Plans\n\nthird\n", at(3), 0)
	put(t, st, bob, store.Inbox, "Message-ID: <b1@x.test>\nSubject: Other\nReferences: <zz@x.test>\n\na1 x.test references\n", at(4), 0)
	put(t, st, eve, store.Inbox, "Message-ID: <a4@x.test>\nReferences: <a1@x.test>\nSubject: Re: Plans\n\neve's\n", at(5), 0)
	// A copy of the first message in another folder shows once.
	arch, err := st.CreateMailbox(ctx, bob.ID, "Archive", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Copy(ctx, bob.ID, first.MailboxID, []uint32{first.UID}, arch.ID); err != nil {
		t.Fatal(err)
	}
	a := &app{store: st}
	want := []int64{first.ID, reply.ID, third.ID}
	for _, m := range []store.Message{first, reply, third} {
		conv, err := a.conversation(ctx, bob.ID, m)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range conv {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("conversation of %q: %v, want %v", m.Subject, got, want)
		}
	}
	if _, err := a.conversation(ctx, eve.ID, first); err == nil {
		t.Errorf("eve reads bob's conversation")
	}
}

// TestLongConversationShowsNewestAndSelf: of a conversation longer than
// the view holds, the newest messages show, and the message opened in
// its place even when it is older than all of them.
func TestLongConversationShowsNewestAndSelf(t *testing.T) {
	st, bob, _ := testStore(t)
	ctx := context.Background()
	at := func(i int) time.Time { return time.Date(2026, 11, 2, 0, i, 0, 0, time.UTC) }
	var msgs []store.Message
	for i := range maxConversation + 5 {
		raw := fmt.Sprintf("Message-ID: <l%d@x.test>\nSubject: Re: Long\n", i)
		if i > 0 {
			raw += fmt.Sprintf("In-Reply-To: <l%d@x.test>\n", i-1)
		}
		msgs = append(msgs, put(t, st, bob, store.Inbox, raw+"\nbody\n", at(i), 0))
	}
	a := &app{store: st}
	for _, m := range []store.Message{msgs[0], msgs[len(msgs)-1]} {
		conv, err := a.conversation(ctx, bob.ID, m)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(conv, func(c store.Message) bool { return c.ID == m.ID }) {
			t.Errorf("the conversation of %s leaves it out", m.MessageID)
		}
		if last := conv[len(conv)-1]; last.ID != msgs[len(msgs)-1].ID {
			t.Errorf("the conversation of %s ends with %s, not the newest", m.MessageID, last.MessageID)
		}
		if !slices.IsSortedFunc(conv, func(a, b store.Message) int { return a.Received.Compare(b.Received) }) {
			t.Errorf("the conversation of %s is not oldest first", m.MessageID)
		}
		if len(conv) > maxConversation+1 {
			t.Errorf("the conversation of %s shows %d messages", m.MessageID, len(conv))
		}
	}
}
