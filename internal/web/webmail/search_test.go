package webmail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/store"
)

func subjects(ms []store.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

// TestSearchOperators runs the search box's operators on a real store:
// results come from every folder, newest first, checked for substrings
// the way IMAP SEARCH checks them.
func TestSearchOperators(t *testing.T) {
	st, bob, eve := testStore(t)
	ctx := context.Background()
	if _, err := st.CreateMailbox(ctx, bob.ID, "Projects/Blue", ""); err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	put(t, st, bob, store.Inbox, "From: Alice Smith <alice@example.org>\nTo: bob@example.test\nSubject: Quarterly report\n\nThe numbers for the quarter.\n", day(2), 0)
	put(t, st, bob, "Projects/Blue", "From: carol@example.net\nTo: bob@example.test\nSubject: Blue plan\n\nthe quarterly plan, see attached\n", day(3), store.FlagSeen)
	put(t, st, bob, store.Sent, "From: bob@example.test\nTo: alice@example.org\nSubject: Re: Quarterly report\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nthanks\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=q.pdf\n\n%PDF\n--b--\n", day(4), store.FlagSeen|store.FlagFlagged)
	put(t, st, bob, store.Inbox, "From: dave@example.org\nSubject: lunch\n\nsandwiches <b>quarter</b> past noon\n", day(5), 0)
	put(t, st, eve, store.Inbox, "From: alice@example.org\nSubject: Quarterly report for eve\n\nquarter\n", day(6), 0)
	a := &app{store: st}
	checkSearches(t, a, bob.ID, []searchCase{
		{"quarter", []string{"lunch", "Re: Quarterly report", "Blue plan", "Quarterly report"}},
		{`"the quarter"`, []string{"Blue plan", "Quarterly report"}}, // substrings, as IMAP
		{`"for the quarter"`, []string{"Quarterly report"}},
		{"from:alice", []string{"Quarterly report"}},
		{"from:smith", []string{"Quarterly report"}},
		{"to:alice@example.org", []string{"Re: Quarterly report"}},
		{`subject:"quarterly report"`, []string{"Re: Quarterly report", "Quarterly report"}},
		{"has:attachment", []string{"Re: Quarterly report"}},
		{"is:unread", []string{"lunch", "Quarterly report"}},
		{"is:flagged quarterly", []string{"Re: Quarterly report"}},
		{"after:2026-11-03 before:2026-11-05", []string{"Re: Quarterly report", "Blue plan"}},
		{`in:"Projects/Blue"`, []string{"Blue plan"}},
		{"in:Sent has:attachment", []string{"Re: Quarterly report"}},
		{"noon", []string{"lunch"}},
		{"nothingmatchesthis", nil},
	})
	if _, err := a.search(ctx, bob.ID, parseSearch("in:Nowhere", time.UTC), store.Cursor{}, 20); err == nil {
		t.Error("in: an unknown folder: no error")
	}
}

// searchCase is a search box's text and the subjects it finds.
type searchCase struct {
	q    string
	want []string
}

// checkSearches runs each case's search for the account and checks the
// subjects found, in order, and that they are all the account's.
func checkSearches(t *testing.T, a *app, acct int64, cases []searchCase) {
	t.Helper()
	for _, c := range cases {
		res, err := a.search(context.Background(), acct, parseSearch(c.q, time.UTC), store.Cursor{}, 20)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		if !slices.Equal(subjects(res.Messages), c.want) {
			t.Errorf("search %q = %q, want %q", c.q, subjects(res.Messages), c.want)
		}
		for _, m := range res.Messages {
			if m.AccountID != acct {
				t.Errorf("search %q found another account's message %+v", c.q, m)
			}
		}
	}
}

// TestSearchPaging: pages of a search continue where the last ended and
// list each match once, also when most candidates fail the check.
func TestSearchPaging(t *testing.T) {
	st, bob, _ := testStore(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 120 {
		body := "filler words"
		if i%3 == 0 {
			body = "needle in the hay"
		}
		subj := fmt.Sprintf("m%03d", i)
		put(t, st, bob, store.Inbox, "Subject: "+subj+"\n\n"+body+"\n", base.Add(time.Duration(i)*time.Minute), 0)
		if i%3 == 0 {
			want = append([]string{subj}, want...)
		}
	}
	a := &app{store: st}
	// "eedle in" is no word of the index: every message is a candidate
	// that the check rejects or keeps.
	for _, q := range []string{"needle", `"eedle in"`} {
		var got []string
		cur := store.Cursor{}
		for range 100 {
			res, err := a.search(ctx, bob.ID, parseSearch(q, time.UTC), cur, 7)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, subjects(res.Messages)...)
			if res.Next.IsZero() {
				break
			}
			cur = res.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged search %s: %q, want %q", q, got, want)
		}
	}
}

// TestSearchMemoryShared: the messages the search box reads take their
// share of Options.SearchMemory, which the service shares with IMAP: a
// search whose message does not fit waits until the memory is given back,
// and gets it once the other search's message is checked.
func TestSearchMemoryShared(t *testing.T) {
	st, bob, _ := testStore(t)
	ctx := context.Background()
	big := "From: carol@example.net\nSubject: big\n\n" + strings.Repeat("a line of the body\n", 10000)
	put(t, st, bob, store.Inbox, big, time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC), 0)
	mem := imapmsg.NewSearchMemory(int64(len(big)) * 3)
	a := &app{store: st, opt: Options{SearchMemory: mem}}
	// The whole bound is taken, as another front end's search would.
	release, err := mem.Take(ctx, int64(len(big)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() {
		res, err := a.search(ctx, bob.ID, parseSearch(`"body a line"`, time.UTC) /* its words are indexed, the phrase is not in it */, store.Cursor{}, 20)
		if err != nil {
			t.Error(err)
		}
		done <- subjects(res.Messages)
	}()
	select {
	case got := <-done:
		t.Fatalf("the search read its message while the memory was taken (found %q)", got)
	case <-time.After(2 * time.Second): // old code answered in milliseconds
	}
	release()
	select {
	case got := <-done:
		if len(got) != 0 {
			t.Errorf("found %q", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("the search did not go on once the memory was given back")
	}
	// Each search gives its share back: a second one runs.
	res, err := a.search(ctx, bob.ID, parseSearch(`"a line of the body"`, time.UTC), store.Cursor{}, 20)
	if err != nil || !slices.Equal(subjects(res.Messages), []string{"big"}) {
		t.Errorf("second search: %q, %v", subjects(res.Messages), err)
	}
}
