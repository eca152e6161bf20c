package sqlite

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// bulkInbox is bulkMailbox with a received time per message (one a
// second), as the webmail's newest-first pages need.
func bulkInbox(tb testing.TB, s *Store, n int) (accountID, mailboxID int64) {
	tb.Helper()
	acct, mb := bulkMailbox(tb, s, n, 0)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err := s.write(context.Background(), func(t *tx) error {
		_, err := t.Exec("UPDATE messages SET received = ? + uid * 1000 WHERE mailbox_id = ?", base.UnixMilli(), mb)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return acct, mb
}

// BenchmarkConversationPage measures the webmail's inbox page by
// conversation (50 newest conversations) and a page deep in a
// 100,000-message INBOX of ten-message threads: an index walk of
// threads_page at any depth (issue 14 asks < 50 ms for the whole page).
func BenchmarkConversationPage(b *testing.B) {
	s := benchStore(b)
	acct, mb := bulkSearchInbox(b, s, 100_000)
	ctx := context.Background()
	var deep store.Cursor
	for c, i := (store.Cursor{}), 0; i < 50; i++ { // 5,000 conversations down
		page, err := s.ConversationPage(ctx, acct, mb, c, 100)
		if err != nil || len(page) == 0 {
			break
		}
		c = store.CursorOf(page[len(page)-1].Newest)
		deep = c
	}
	for _, bc := range []struct {
		name string
		c    store.Cursor
	}{{"first", store.Cursor{}}, {"deep", deep}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if cs, err := s.ConversationPage(ctx, acct, mb, bc.c, 50); err != nil || len(cs) == 0 {
					b.Fatal(len(cs), err)
				}
			}
		})
	}
}

// BenchmarkMessagePage measures the webmail's inbox page (50 newest) and a
// page deep in a 100,000-message INBOX: keyset paging costs the same at
// any depth (issue 14 part 3 asks < 50 ms for the whole page).
func BenchmarkMessagePage(b *testing.B) {
	s := benchStore(b)
	acct, mb := bulkInbox(b, s, 100_000)
	ctx := context.Background()
	deep, err := s.MessagePage(ctx, acct, mb, store.Cursor{Received: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), ID: 1 << 40}, 1)
	if err != nil || len(deep) != 1 {
		b.Fatal(deep, err)
	}
	for _, bc := range []struct {
		name string
		c    store.Cursor
	}{{"first", store.Cursor{}}, {"deep", store.CursorOf(deep[0])}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				if ms, err := s.MessagePage(ctx, acct, mb, bc.c, 50); err != nil || len(ms) != 50 {
					b.Fatal(len(ms), err)
				}
			}
		})
	}
	b.Run("unread", func(b *testing.B) {
		for range b.N {
			if ms, err := s.SearchPage(ctx, acct, store.MailSearch{Without: store.FlagSeen}, store.Cursor{}, 50); err != nil || len(ms) != 50 {
				b.Fatal(len(ms), err)
			}
		}
	})
}

// TestMessagePageUsesIndex guards the webmail's lists against a plan that
// sorts the whole mailbox (the cost then grows with the mailbox).
func TestMessagePageUsesIndex(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	acct, mb := bulkInbox(t, s, 3000)
	ms, err := s.MessagePage(t.Context(), acct, mb, store.Cursor{}, 10)
	if err != nil || len(ms) != 10 || ms[0].UID != 3000 {
		t.Fatalf("first page %v, %v", ms, err)
	}
	for _, q := range []string{
		"SELECT id FROM messages INDEXED BY messages_page WHERE mailbox_id = 1 AND expunged_modseq = 0 AND (received, id) < (5, 5) ORDER BY received DESC, id DESC LIMIT 50",
		"SELECT id FROM messages m INDEXED BY messages_account_page WHERE m.account_id = 1 AND m.expunged_modseq = 0 AND m.flags & 1 = 0 ORDER BY m.received DESC, m.id DESC LIMIT 50",
		"SELECT id FROM messages INDEXED BY messages_deleted_page WHERE account_id = 1 AND expunged_modseq != 0 ORDER BY received DESC, id DESC LIMIT 50",
		"SELECT t.messages, m.id FROM threads t INDEXED BY threads_page JOIN messages m ON m.id = t.newest_id WHERE t.mailbox_id = 1 AND (t.newest_received, t.newest_id) < (5, 5) ORDER BY t.newest_received DESC, t.newest_id DESC LIMIT 50",
	} {
		plan := queryPlan(t, s, q)
		for _, step := range plan {
			if strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("plan of %q sorts: %q", q, plan)
			}
		}
	}
}

// searchWords are the vocabulary of the search benchmark's messages.
var searchWords = strings.Fields(`continuity outage report invoice quarterly meeting lunch budget
	contract renewal server migration holiday schedule customer feedback release notes security audit
	payroll expenses travel conference agenda minutes project deadline design review hiring offer`)

// bulkSearchInbox fills bob's INBOX with n messages: n/10 distinct ones
// delivered (so that each has its own words in the full-text index),
// each then copied 9 more times under other UIDs and dates, as a
// 100,000-message mailbox holds many similar messages.
func bulkSearchInbox(tb testing.TB, s *Store, n int) (accountID, mailboxID int64) {
	tb.Helper()
	ctx := context.Background()
	a := bob(tb, s)
	distinct := n / 10
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < distinct; i += 8 {
				w1, w2, w3 := searchWords[i%len(searchWords)], searchWords[(i/7)%len(searchWords)], searchWords[(i/51)%len(searchWords)]
				raw := fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: bob@example.test\r\nSubject: %s %s number %d\r\n"+
					"Message-ID: <m%d@example.net>\r\n\r\nBody of message %d about the %s and the %s.\r\nToken tok%dx\r\n",
					i%97, i%97, w1, w2, i, i, i, w3, w1, i)
				d := store.NewDelivery([]byte(raw), base.Add(time.Duration(i)*time.Second))
				d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
				if _, err := s.Deliver(ctx, d); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	in, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.write(ctx, func(t *tx) error {
		for k := 1; k < 10; k++ {
			if _, err := t.Exec(`INSERT INTO messages (account_id, domain_id, mailbox_id, uid, modseq, flags, keywords, received, size, body_id,
				subject, from_addr, message_id, preview) SELECT account_id, domain_id, mailbox_id, uid + ?, modseq, flags, keywords,
				received + ?, size, body_id, subject, from_addr, message_id, preview FROM messages WHERE mailbox_id = ? AND uid <= ?`,
				k*distinct, int64(k)*int64(distinct)*1000, in.ID, distinct); err != nil {
				return err
			}
		}
		_, err := t.Exec("UPDATE mailboxes SET uidnext = ?, messages = ?, unseen = ? WHERE id = ?", n+1, n, n, in.ID)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.ID, in.ID
}

// BenchmarkSearchPage measures the candidates of the webmail's search
// (one page of 50, newest first) across a 100,000-message account: a
// subject word, a body word, a rare token, and a word in every message.
func BenchmarkSearchPage(b *testing.B) {
	s := benchStore(b)
	acct, _ := bulkSearchInbox(b, s, 100_000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		term store.SearchTerm
	}{
		{"subject", store.SearchTerm{Field: store.SearchSubject, Value: "renewal"}},
		{"body", store.SearchTerm{Field: store.SearchBody, Value: "migration"}},
		{"rare", store.SearchTerm{Field: store.SearchAnywhere, Value: "tok4321x"}},
		{"common", store.SearchTerm{Field: store.SearchBody, Value: "message"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				ms, err := s.SearchPage(ctx, acct, store.MailSearch{Terms: []store.SearchTerm{bc.term}}, store.Cursor{}, 50)
				if err != nil || len(ms) == 0 {
					b.Fatal(len(ms), err)
				}
			}
		})
	}
}
