package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/store"
)

// TestMessagesByIDSeeks reads the plans of the statements MessagesByID
// runs for the API's message list, live or deleted, of every mailbox or
// one: each seeks the account and the previous page's last id in an index
// kept in id order, so a page costs its own rows. None scans messages or
// sorts in a temporary B-tree (the list was read whole and sorted for
// each page before). The plans are of the statements the call itself
// prepared, so that a change to the query text is checked as it runs.
func TestMessagesByIDSeeks(t *testing.T) {
	s, a, in := changedSinceMailbox(t, 5)
	ctx := context.Background()
	cases := []struct {
		name string
		q    store.IDPage
		want string
	}{
		{"live, every mailbox", store.IDPage{}, "USING INDEX messages_by_id (account_id=? AND id>?)"},
		{"live, one mailbox", store.IDPage{MailboxID: in.ID}, "USING INDEX messages_by_id (account_id=? AND id>?)"},
		{"deleted, every mailbox", store.IDPage{Deleted: true}, "USING INDEX messages_deleted_by_id (account_id=? AND id>?)"},
		{"deleted, one mailbox", store.IDPage{Deleted: true, MailboxID: in.ID}, "USING INDEX messages_deleted_by_id (account_id=? AND id>?)"},
	}
	for _, c := range cases {
		c.q.AfterID, c.q.Limit = 3, 10
		found := false
		for q, plan := range plansOf(t, s, c.name, func() error {
			_, err := s.MessagesByID(ctx, a.ID, c.q)
			return err
		}) {
			for _, l := range plan {
				found = found || strings.Contains(l, c.want)
				if strings.HasPrefix(l, "SCAN messages") || strings.Contains(l, "TEMP B-TREE") {
					t.Errorf("%s: %s: plan %q scans or sorts", c.name, q, plan)
				}
			}
		}
		if !found {
			t.Errorf("%s: no statement's plan has %q", c.name, c.want)
		}
	}
}
