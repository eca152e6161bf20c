package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestWebmailReadsSeek reads the plans of the statements each of the
// webmail's list reads runs (issue 14: every page fast at 100,000
// messages): a next page seeks its cursor, a live update seeks the
// modseq, a conversation seeks its key; none scans messages or threads.
// Each case names a line its plans must hold. The plans are of the
// statements the call itself prepared, so that a change to the query
// text is checked as it runs.
func TestWebmailReadsSeek(t *testing.T) {
	s, a, in := changedSinceMailbox(t, 5)
	ctx := context.Background()
	page, err := s.ConversationPage(ctx, a.ID, in.ID, store.Cursor{}, 50)
	if err != nil || len(page) == 0 {
		t.Fatalf("conversations: %v %v", page, err)
	}
	msgs, err := s.MessagePage(ctx, a.ID, in.ID, store.Cursor{}, 50)
	if err != nil || len(msgs) < 2 {
		t.Fatalf("messages: %v %v", msgs, err)
	}
	mid := store.CursorOf(msgs[len(msgs)/2])
	cases := []struct {
		name string
		read func() error
		want string
	}{
		{"next conversation page", func() error {
			_, err := s.ConversationPage(ctx, a.ID, in.ID, mid, 50)
			return err
		}, "USING INDEX threads_page (mailbox_id=? AND (newest_received,newest_id)<(?,?))"},
		{"next page by message", func() error {
			_, err := s.MessagePage(ctx, a.ID, in.ID, mid, 50)
			return err
		}, "USING INDEX messages_page (mailbox_id=? AND received<?)"},
		{"changed since", func() error {
			_, err := s.ChangedSince(ctx, a.ID, in.ID, in.HighestModSeq-1)
			return err
		}, "USING INDEX messages_modseq (mailbox_id=? AND modseq>?)"},
		{"vanished since", func() error {
			_, err := s.VanishedSince(ctx, a.ID, in.ID, in.HighestModSeq-1)
			return err
		}, "USING COVERING INDEX vanished_modseq (mailbox_id=? AND modseq>?)"},
		{"conversations re-keyed since", func() error {
			_, _, err := s.RekeyedSince(ctx, a.ID, in.ID, in.HighestModSeq-1)
			return err
		}, "USING PRIMARY KEY (mailbox_id=? AND modseq>?)"},
		{"rows of changed conversations", func() error {
			_, err := s.ConversationRows(ctx, a.ID, in.ID, []int64{msgs[0].ID})
			return err
		}, "USING PRIMARY KEY (mailbox_id=? AND thread=?)"},
		{"a message's conversation", func() error {
			_, err := s.ConversationOf(ctx, a.ID, msgs[0].ID, 100)
			return err
		}, "USING INDEX messages_thread (mailbox_id=? AND thread=?)"},
	}
	for _, c := range cases {
		found := false
		for q, plan := range plansOf(t, s, c.name, c.read) {
			for _, l := range plan {
				found = found || strings.Contains(l, c.want)
				if strings.HasPrefix(l, "SCAN messages") || strings.HasPrefix(l, "SCAN threads") || strings.HasPrefix(l, "SCAN m ") || strings.HasPrefix(l, "SCAN t ") {
					t.Errorf("%s: %s: plan %q scans", c.name, q, plan)
				}
			}
		}
		if !found {
			t.Errorf("%s: no statement's plan has %q", c.name, c.want)
		}
	}
}

// plansOf runs read on fresh statements and returns the query plan of
// each statement it prepared, by query text.
func plansOf(t *testing.T, s *Store, name string, read func() error) map[string][]string {
	t.Helper()
	forgetStatements(s)
	if err := read(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string][]string{}
	for q := range preparedQueries(s) {
		out[q] = queryPlan(t, s, q, slices.Repeat([]any{int64(1)}, strings.Count(q, "?"))...)
	}
	return out
}

// forgetStatements closes s's prepared read statements, so that the
// next call prepares (and preparedQueries shows) each one it runs.
func forgetStatements(s *Store) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for _, st := range s.readStmts {
		st.Close()
	}
	s.readStmts = nil
}
