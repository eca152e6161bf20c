package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// pageAll walks a newest-first list page by page with the cursor.
func pageAll(t *testing.T, size int, page func(c store.Cursor, n int) ([]store.Message, error)) []store.Message {
	t.Helper()
	var all []store.Message
	c := store.Cursor{}
	for i := 0; ; i++ {
		ms := must(page(c, size))
		if len(ms) > size {
			t.Fatalf("page of %d messages, asked for %d", len(ms), size)
		}
		all = append(all, ms...)
		if len(ms) < size {
			return all
		}
		c = store.CursorOf(ms[len(ms)-1])
		if i > 10000 {
			t.Fatal("paging does not end")
		}
	}
}

// newestFirst reports whether ms is in MessagePage's order.
func newestFirst(ms []store.Message) bool {
	return slices.IsSortedFunc(ms, func(a, b store.Message) int {
		if c := b.Received.Compare(a.Received); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
}

func ids(ms ...store.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// testWebmailPages: MessagePage lists a mailbox's live messages newest
// first, ties on Received broken by id, each exactly once across pages of
// any size, with messages delivered during paging not shifting the pages
// already taken (the cursor is a position, not an offset).
func testWebmailPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var in store.Mailbox
	for i := range 57 {
		// Several messages share a second: the id decides among them.
		at := base.Add(time.Duration(rng.IntN(20)) * time.Minute)
		deliver(t, s, Raw(fmt.Sprintf("m%d", i), "x"), at, store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	}
	in = must(s.Mailbox(ctx, a.ID, store.Inbox))
	// Expunged messages and other mailboxes' messages are not listed.
	first := must(s.MessagePage(ctx, a.ID, in.ID, store.Cursor{}, 3))
	must(0, s.Expunge(ctx, a.ID, in.ID, []int64{first[1].ID}))
	deliver(t, s, Raw("sent", "x"), base, store.Copy{AccountID: a.ID, Mailbox: store.Sent})
	want := must(s.Messages(ctx, a.ID, in.ID))
	if len(want) != 56 {
		t.Fatalf("%d live messages, want 56", len(want))
	}
	for _, size := range []int{1, 7, 56, 100} {
		got := pageAll(t, size, func(c store.Cursor, n int) ([]store.Message, error) {
			return s.MessagePage(ctx, a.ID, in.ID, c, n)
		})
		if !newestFirst(got) {
			t.Fatalf("pages of %d not newest first: %v", size, ids(got...))
		}
		g, w := ids(got...), ids(want...)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Fatalf("pages of %d list %v, want %v", size, g, w)
		}
	}
	// A message arriving between pages goes to the top; the next page
	// goes on where the last ended.
	p1 := must(s.MessagePage(ctx, a.ID, in.ID, store.Cursor{}, 10))
	deliver(t, s, Raw("late", "x"), base.Add(time.Hour), store.Copy{AccountID: a.ID, Mailbox: store.Inbox})
	p2 := must(s.MessagePage(ctx, a.ID, in.ID, store.CursorOf(p1[9]), 10))
	all := pageAll(t, 1000, func(c store.Cursor, n int) ([]store.Message, error) { return s.MessagePage(ctx, a.ID, in.ID, c, n) })
	if all[0].Subject != "late" || !slices.Equal(ids(p2...), ids(all[11:21]...)) {
		t.Fatalf("page after a new arrival: %v, want %v", ids(p2...), ids(all[11:21]...))
	}
	// An empty mailbox of the account is an empty page, not an error.
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	if got := must(s.MessagePage(ctx, a.ID, arch.ID, store.Cursor{}, 10)); len(got) != 0 {
		t.Fatalf("empty mailbox page: %v", got)
	}
}

// testWebmailSearch: SearchPage finds candidates across every mailbox of
// the account (a superset on terms, exact on mailbox, flags and dates),
// newest first, paged.
func testWebmailSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	type msg struct {
		subj, body, box string
		day             int
		flags           store.Flags
	}
	msgs := []msg{
		{"invoice-jan", "please pay the quarterly invoice", store.Inbox, 1, 0},
		{"invoice-feb", "another quarterly invoice", "Archive", 2, store.FlagSeen},
		{"lunch", "sandwiches at noon in the Café", store.Inbox, 3, store.FlagSeen | store.FlagFlagged},
		{"report", "quarterly numbers attached", store.Sent, 4, store.FlagSeen},
		{"gone", "quarterly but deleted", store.Inbox, 5, 0},
	}
	byName := map[string]int64{}
	for _, m := range msgs {
		d := deliver(t, s, Raw(m.subj, m.body), base.Add(time.Duration(m.day)*24*time.Hour),
			store.Copy{AccountID: a.ID, Mailbox: m.box, Flags: m.flags})
		byName[m.subj] = d[0].MessageID
	}
	in := must(s.Mailbox(ctx, a.ID, store.Inbox))
	must(0, s.Expunge(ctx, a.ID, in.ID, []int64{byName["gone"]}))
	names := func(ms []store.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Subject)
		}
		return out
	}
	term := func(f store.SearchField, v string) []store.SearchTerm {
		return []store.SearchTerm{{Field: f, Value: v}}
	}
	cases := []struct {
		name string
		q    store.MailSearch
		want []string // exactly, newest first (the candidates of these terms are exact here)
	}{
		{"all", store.MailSearch{}, []string{"report", "lunch", "invoice-feb", "invoice-jan"}},
		{"body word across folders", store.MailSearch{Terms: term(store.SearchBody, "quarterly")}, []string{"report", "invoice-feb", "invoice-jan"}},
		{"substring", store.MailSearch{Terms: term(store.SearchAnywhere, "uarterl")}, []string{"report", "invoice-feb", "invoice-jan"}},
		{"subject", store.MailSearch{Terms: term(store.SearchSubject, "invoice")}, []string{"invoice-feb", "invoice-jan"}},
		{"in folder", store.MailSearch{MailboxID: arch.ID, Terms: term(store.SearchSubject, "invoice")}, []string{"invoice-feb"}},
		{"unread", store.MailSearch{Without: store.FlagSeen}, []string{"invoice-jan"}},
		{"flagged", store.MailSearch{With: store.FlagFlagged}, []string{"lunch"}},
		{"read and quarterly", store.MailSearch{With: store.FlagSeen, Terms: term(store.SearchBody, "quarterly")}, []string{"report", "invoice-feb"}},
		{"since", store.MailSearch{Since: base.Add(3 * 24 * time.Hour)}, []string{"report", "lunch"}},
		{"before", store.MailSearch{Before: base.Add(3 * 24 * time.Hour)}, []string{"invoice-feb", "invoice-jan"}},
		{"no word", store.MailSearch{Terms: term(store.SearchAnywhere, "zzzzqqq")}, nil},
		// The webmail's search ignores accents, both ways; IMAP's not.
		{"accents ignored", store.MailSearch{Terms: term(store.SearchBody, "cafe"), FoldAccents: true}, []string{"lunch"}},
		{"accents ignored, typed", store.MailSearch{Terms: term(store.SearchAnywhere, "CAFÉ"), FoldAccents: true}, []string{"lunch"}},
		{"accents ignored, substring", store.MailSearch{Terms: term(store.SearchBody, "afe"), FoldAccents: true}, []string{"lunch"}},
		{"accents as written", store.MailSearch{Terms: term(store.SearchBody, "cafe")}, nil},
	}
	for _, c := range cases {
		got := must(s.SearchPage(ctx, a.ID, c.q, store.Cursor{}, 50))
		if !slices.Equal(names(got), c.want) {
			t.Errorf("%s: %v, want %v", c.name, names(got), c.want)
		}
		// Paging one by one gives the same list.
		paged := pageAll(t, 1, func(cur store.Cursor, n int) ([]store.Message, error) { return s.SearchPage(ctx, a.ID, c.q, cur, n) })
		if !slices.Equal(names(paged), c.want) {
			t.Errorf("%s paged: %v, want %v", c.name, names(paged), c.want)
		}
	}
}

// testWebmailDeleted: DeletedPage lists what was deleted in any mailbox,
// by IMAP or the webmail, until restored; Restore puts it back in its own
// mailbox and logs it.
func testWebmailDeleted(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := setup(t, s, "bob@example.test")[0]
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	arch := must(s.CreateMailbox(ctx, a.ID, "Archive", ""))
	in := must(s.Mailbox(ctx, a.ID, store.Inbox))
	var dl []store.Delivered
	for i, box := range []string{store.Inbox, "Archive", store.Inbox, store.Sent} {
		dl = append(dl, deliver(t, s, Raw(fmt.Sprintf("d%d", i), "x"), base.Add(time.Duration(i)*time.Hour), store.Copy{AccountID: a.ID, Mailbox: box})...)
	}
	if got := must(s.DeletedPage(ctx, a.ID, store.Cursor{}, 10)); len(got) != 0 {
		t.Fatalf("deleted before any delete: %v", ids(got...))
	}
	must(0, s.Expunge(ctx, a.ID, in.ID, []int64{dl[0].MessageID}))
	must(0, s.ExpungeUIDs(ctx, a.ID, arch.ID, []uint32{dl[1].UID}))
	got := pageAll(t, 1, func(c store.Cursor, n int) ([]store.Message, error) { return s.DeletedPage(ctx, a.ID, c, n) })
	if !slices.Equal(ids(got...), []int64{dl[1].MessageID, dl[0].MessageID}) {
		t.Fatalf("deleted %v, want %v", ids(got...), []int64{dl[1].MessageID, dl[0].MessageID})
	}
	if got[0].MailboxID != arch.ID || !got[0].Expunged {
		t.Fatalf("deleted message from Archive: %+v", got[0])
	}
	r := must(s.Restore(ctx, a.ID, got[0].MailboxID, []int64{got[0].ID}))
	if len(r) != 1 || r[0].MailboxID != arch.ID {
		t.Fatalf("restore: %+v", r)
	}
	if left := must(s.DeletedPage(ctx, a.ID, store.Cursor{}, 10)); !slices.Equal(ids(left...), []int64{dl[0].MessageID}) {
		t.Fatalf("deleted after restore: %v", ids(left...))
	}
	if live := must(s.MessagePage(ctx, a.ID, arch.ID, store.Cursor{}, 10)); len(live) != 1 || live[0].ID != dl[1].MessageID {
		t.Fatalf("Archive after restore: %v", ids(live...))
	}
	log := must(s.SearchLog(ctx, store.LogQuery{Status: msglog.Restored}))
	if len(log) != 1 {
		t.Fatalf("restored log records: %+v", log)
	}
}

// testWebmailAccountScope: no webmail list ever shows another account's
// messages, and a foreign mailbox id is ErrNotFound.
func testWebmailAccountScope(t *testing.T, s store.Store) {
	ctx := context.Background()
	accts := setup(t, s, "bob@example.test", "eve@example.test")
	bob, eve := accts[0].ID, accts[1].ID
	now := time.Now()
	d := deliver(t, s, Raw("shared", "common words here"), now, store.Copy{AccountID: bob, Mailbox: store.Inbox}, store.Copy{AccountID: eve, Mailbox: store.Inbox})
	deliver(t, s, Raw("bobonly", "common words here"), now, store.Copy{AccountID: bob, Mailbox: store.Inbox})
	bobIn := must(s.Mailbox(ctx, bob, store.Inbox))
	must(0, s.Expunge(ctx, bob, bobIn.ID, []int64{d[0].MessageID}))
	for _, q := range []store.MailSearch{{}, {Terms: []store.SearchTerm{{Value: "common"}}}, {Terms: []store.SearchTerm{{Field: store.SearchSubject, Value: "bobonly"}}}} {
		for _, m := range must(s.SearchPage(ctx, eve, q, store.Cursor{}, 50)) {
			if m.AccountID != eve {
				t.Errorf("eve's search %+v lists %+v", q, m)
			}
		}
	}
	if got := must(s.DeletedPage(ctx, eve, store.Cursor{}, 50)); len(got) != 0 {
		t.Errorf("eve's Deleted lists bob's: %+v", got)
	}
	if got := must(s.MessagesByMessageID(ctx, eve, []string{"bobonly@example.org", "shared@example.org"})); len(got) != 1 || got[0].AccountID != eve {
		t.Errorf("eve's MessagesByMessageID: %+v", got)
	}
	if got := must(s.MessagesByMessageID(ctx, bob, []string{"bobonly@example.org", "shared@example.org"})); len(got) != 1 || got[0].Subject != "bobonly" {
		t.Errorf("bob's MessagesByMessageID (the shared one is deleted): %+v", got)
	}
	if _, err := s.MessagePage(ctx, eve, bobIn.ID, store.Cursor{}, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessagePage of bob's INBOX as eve: %v", err)
	}
}
