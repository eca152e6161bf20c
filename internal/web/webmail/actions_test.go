package webmail

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestListActionsOnMany: the list toolbar's actions on several selected
// messages at once (read, flag, unread, unflag, move), each applied to
// every one selected and to nothing else, and the folder's counts
// following.
func TestListActionsOnMany(t *testing.T) {
	e := newWebEnv(t)
	ctx := context.Background()
	arch, err := e.st.CreateMailbox(ctx, e.bob.ID, "Projects", "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var all []int64
	for i := range 5 {
		m := put(t, e.st, e.bob, store.Inbox, "Subject: m"+strconv.Itoa(i)+"\n\nx\n", time.Now().Add(time.Duration(i)*time.Second), 0)
		all = append(all, m.ID)
		if i < 3 {
			ids = append(ids, strconv.FormatInt(m.ID, 10))
		}
	}
	in, _ := e.st.Mailbox(ctx, e.bob.ID, store.Inbox)
	bob := e.signIn(e.bob)
	flags := func() map[int64]store.Flags {
		out := map[int64]store.Flags{}
		for _, id := range all {
			m, err := e.st.Message(ctx, e.bob.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = m.Flags
		}
		return out
	}
	steps := []struct {
		action string
		with   store.Flags // flags the three selected must have after
	}{
		{"read", store.FlagSeen},
		{"flag", store.FlagSeen | store.FlagFlagged},
		{"unread", store.FlagFlagged},
		{"unflag", 0},
	}
	for _, s := range steps {
		resp, _ := bob.post("/actions", url.Values{"id": ids, "action": {s.action}, "back": {"/"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %s", s.action, resp.Status)
		}
		f := flags()
		for i, id := range all {
			want := s.with
			if i >= 3 {
				want = 0
			}
			if f[id]&(store.FlagSeen|store.FlagFlagged) != want {
				t.Errorf("after %s, message %d has flags %v, want %v", s.action, i, f[id], want)
			}
		}
	}
	resp, _ := bob.post("/actions", url.Values{"id": ids, "action": {"move"}, "to": {strconv.FormatInt(arch.ID, 10)}, "back": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("move: %s", resp.Status)
	}
	if got, _ := e.st.MessagePage(ctx, e.bob.ID, arch.ID, store.Cursor{}, 10); len(got) != 3 {
		t.Errorf("Projects holds %d after the move, want 3", len(got))
	}
	if got, _ := e.st.MessagePage(ctx, e.bob.ID, in.ID, store.Cursor{}, 10); len(got) != 2 {
		t.Errorf("INBOX holds %d after the move, want 2", len(got))
	}
	if mb, _ := e.st.MailboxByID(ctx, e.bob.ID, arch.ID); mb.Unseen != 3 {
		t.Errorf("Projects counts %d unread, want 3", mb.Unseen)
	}
}
