package webmail

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestConversation: the conversation of a message spans folders (a reply
// in Sent), follows References and In-Reply-To both ways, leaves out
// unrelated mail with the same words, and never reaches another account.
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
	for _, m := range []store.Message{first, reply} {
		b, err := st.Body(ctx, bob.ID, m.BodyID)
		if err != nil {
			t.Fatal(err)
		}
		conv, err := a.conversation(ctx, bob.ID, m, b.Info)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, c := range conv {
			got = append(got, c.ID)
		}
		// From the first message, the third is found through the
		// second only when it references the root; it does not, so
		// it is reached from the second.
		w := want
		if m.ID == first.ID {
			w = want[:2]
		}
		if !slices.Equal(got, w) {
			t.Errorf("conversation of %q: %v, want %v", m.Subject, got, w)
		}
	}
}
