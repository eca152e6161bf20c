package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// TestSortKeysFilledForOlderBodies guards SORT on a database from before
// the sort_keys table: bodies without keys are reported without them
// (HasKeys false, so the caller derives them), and the background fill
// started by Open stores the keys SortKeysOf derives.
func TestSortKeysFilledForOlderBodies(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	a := bob(t, s)
	raws := []string{
		"From: =?UTF-8?Q?=C3=89mile?= <emile@example.org>\r\nSubject: Re: [x] Plan\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nb\r\n",
		"From: zed@example.org\r\nTo: a@example.test\r\nSubject: plan\r\nReferences: <p@x> <q@x>\r\n\r\nb\r\n",
	}
	n := 600 // more than one fill batch
	for i := range n {
		d := store.NewDelivery([]byte(raws[i%2]), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	mb, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	// As if stored before the keys existed, with the mark the migration
	// sets.
	err = s.write(ctx, func(t *tx) error {
		if _, err := t.Exec("DELETE FROM sort_keys"); err != nil {
			return err
		}
		_, err := t.Exec(`UPDATE meta SET value = (SELECT coalesce(max(id), 0) FROM bodies b
			WHERE NOT EXISTS (SELECT 1 FROM sort_keys k WHERE k.body_id = b.id)) WHERE key = 'sort_keys_unfilled_max'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.SortRows(ctx, a.ID, mb.ID, nil)
	if err != nil || len(rows) != n || rows[0].HasKeys {
		t.Fatalf("rows without stored keys: %d rows, HasKeys %v, %v", len(rows), len(rows) > 0 && rows[0].HasKeys, err)
	}
	s.Close()

	s = open(t, dir)
	defer s.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		rows, err = s.SortRows(ctx, a.ID, mb.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, r := range rows {
			if !r.HasKeys {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d bodies still without sort keys", missing, len(rows))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, r := range rows {
		want := store.SortKeysOf(message.Parse([]byte(raws[i%2])))
		got := r.Keys
		if got.BaseSubject != want.BaseSubject || got.Reply != want.Reply || got.From != want.From || got.DisplayFrom != want.DisplayFrom ||
			got.To != want.To || !got.Date.Equal(want.Date) || strings.Join(got.References, " ") != strings.Join(want.References, " ") {
			t.Fatalf("row %d keys %+v, want %+v", i, got, want)
		}
	}
	if rows[0].Keys.BaseSubject != "PLAN" || rows[0].Keys.DisplayFrom != "Émile" || !rows[0].Keys.Reply {
		t.Fatalf("first message's keys %+v", rows[0].Keys)
	}
}

// TestUIDListUsesIndex guards SEARCH on scattered candidates at 100,000
// messages: many UID ranges are one statement that looks each UID up in
// the (mailbox_id, uid) index, not a scan of the mailbox.
func TestUIDListUsesIndex(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	acct, mb := bulkMailbox(t, s, 3000, 0)
	var ranges []store.UIDRange
	for u := uint32(5); u < 3000; u += 97 {
		ranges = append(ranges, store.UIDRange{First: u, Last: u})
	}
	got, err := s.MessagesByUID(t.Context(), acct, mb, ranges)
	if err != nil || len(got) != len(ranges) || got[0].UID != 5 || got[1].UID != 102 {
		t.Fatalf("MessagesByUID on %d ranges: %d messages, %v", len(ranges), len(got), err)
	}
	cond, args := uidFilter(ranges)
	if len(args) != 1 {
		t.Fatalf("uidFilter of %d ranges has %d arguments, want one list", len(ranges), len(args))
	}
	plan := queryPlan(t, s, "SELECT "+messageCols+" FROM messages WHERE "+ownedMailbox+" AND expunged_modseq = 0"+cond+" ORDER BY uid",
		append([]any{mb, acct}, args...)...)
	p := strings.Join(plan, "; ")
	if !strings.Contains(p, "uid=?") {
		t.Fatalf("MessagesByUID's plan on a UID list %q does not look UIDs up by index", p)
	}
}

// TestSortRowsReadOnlyTheIndex guards the first SORT or THREAD after a
// restart (issue 11 part 7): the sort rows come from one scan of the
// covering index messages_sort and the sort keys' primary key, never from
// the messages table, whose wide rows made a cold SORT of 100,000
// messages read 7,700 pages instead of 1,700. Whole mailbox and UID
// ranges alike.
func TestSortRowsReadOnlyTheIndex(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	acct, mb := bulkMailbox(t, s, 300, 0)
	for _, ranges := range [][]store.UIDRange{nil, {{First: 10, Last: 200}}, {{First: 1, Last: 5}, {First: 50, Last: 60}, {First: 70, Last: 70}, {First: 80, Last: 90}, {First: 100, Last: 101}}} {
		got, err := s.SortRows(t.Context(), acct, mb, ranges)
		if err != nil || len(got) == 0 {
			t.Fatalf("SortRows %v: %d rows, %v", ranges, len(got), err)
		}
		cond, args := uidFilterOn("m.uid", ranges)
		p := strings.Join(queryPlan(t, s, sortRowsQuery(cond), append([]any{mb, acct}, args...)...), "; ")
		if !strings.Contains(p, "USING COVERING INDEX messages_sort") {
			t.Errorf("sort rows of %v: plan %q reads the messages table", ranges, p)
		}
	}
}
