package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// sortKeysMessage builds a random message whose sort keys vary: display
// names plain, encoded or missing, reply subjects, a missing Date,
// In-Reply-To and References, groups in To.
func sortKeysMessage(r *rand.Rand, i int) []byte {
	names := []string{"Zoe Zed", "=?UTF-8?Q?=C3=89mile?=", "", `"Quoted, Name"`, "adam"}
	subjects := []string{"Hello", "Re: Hello", "Fwd: [list] Report (fwd)", "re: RE: hello", "", "[fwd: Report]"}
	from := fmt.Sprintf("u%d@example.org", r.IntN(7))
	if n := names[r.IntN(len(names))]; n != "" {
		from = n + " <" + from + ">"
	}
	to := fmt.Sprintf("t%d@example.test", r.IntN(5))
	if r.IntN(4) == 0 {
		to = "undisclosed:; , " + to
	}
	h := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <m%d@x>\r\n", from, to, subjects[r.IntN(len(subjects))], i)
	if r.IntN(3) > 0 {
		h += fmt.Sprintf("Date: Mon, %d Nov 2026 10:%02d:00 +0100\r\n", 1+r.IntN(28), r.IntN(60))
	}
	if r.IntN(2) == 0 {
		h += fmt.Sprintf("Cc: C%d <c%d@example.net>\r\n", r.IntN(3), r.IntN(3))
	}
	if i > 0 && r.IntN(2) == 0 {
		p := r.IntN(i)
		h += fmt.Sprintf("In-Reply-To: <m%d@x>\r\nReferences: <m%d@x> <m%d@x>\r\n", p, r.IntN(i), p)
	}
	return []byte(h + "\r\nbody\r\n")
}

// testSortRows: SortRows returns every live message, in UID order, with
// the keys store.SortKeysOf derives from its body, for any UID ranges
// (also many scattered ones, in one read), and MessagesByUID selects the
// same messages for the same ranges; another account's mailbox is
// ErrNotFound.
func testSortRows(t *testing.T, s store.Store) {
	ctx := context.Background()
	bobAcct, eveAcct, in := bobAndEve(t, s)
	bob, eve := bobAcct.ID, eveAcct.ID
	if rows := must(s.SortRows(ctx, bob, in.ID, nil)); len(rows) != 0 {
		t.Fatalf("empty INBOX: %d rows", len(rows))
	}
	r := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	want := map[uint32]store.SortRow{}
	var ids []int64
	for i := range 120 {
		raw := sortKeysMessage(r, i)
		received := base.Add(time.Duration(r.IntN(100000)) * time.Second)
		dl := deliver(t, s, raw, received, store.Copy{AccountID: bob, Mailbox: store.Inbox})
		info := message.Parse(raw)
		want[dl[0].UID] = store.SortRow{UID: dl[0].UID, Received: received, Size: int64(len(raw)), MessageID: info.MessageID,
			Keys: store.SortKeysOf(info), HasKeys: true}
		ids = append(ids, dl[0].MessageID)
	}
	// Expunge a random fifth: they leave every list.
	expungeFifth(s, r, bob, in.ID, ids)
	live := must(s.Messages(ctx, bob, in.ID))
	liveSet := map[uint32]bool{}
	for _, m := range live {
		liveSet[m.UID] = true
	}
	check := func(name string, ranges []store.UIDRange) {
		t.Helper()
		inRanges := func(u uint32) bool {
			if ranges == nil {
				return true
			}
			for _, rg := range ranges {
				if u >= rg.First && u <= rg.Last {
					return true
				}
			}
			return false
		}
		rows := must(s.SortRows(ctx, bob, in.ID, ranges))
		var wantUIDs []uint32
		for _, m := range live {
			if inRanges(m.UID) {
				wantUIDs = append(wantUIDs, m.UID)
			}
		}
		if len(rows) != len(wantUIDs) {
			t.Fatalf("%s: %d rows, want %d", name, len(rows), len(wantUIDs))
		}
		for i, row := range rows {
			w := want[wantUIDs[i]]
			if row.UID != w.UID || row.Size != w.Size || !row.Received.Equal(w.Received.Truncate(time.Millisecond)) ||
				row.MessageID != w.MessageID || !row.HasKeys || row.BodyID == 0 {
				t.Fatalf("%s: row %d = %+v, want %+v", name, i, row, w)
			}
			if !row.Keys.Date.Equal(w.Keys.Date) {
				t.Fatalf("%s: UID %d date %v, want %v", name, row.UID, row.Keys.Date, w.Keys.Date)
			}
			gk, wk := row.Keys, w.Keys
			gk.Date, wk.Date = time.Time{}, time.Time{}
			if len(gk.References) == 0 && len(wk.References) == 0 {
				gk.References, wk.References = nil, nil
			}
			if !reflect.DeepEqual(gk, wk) {
				t.Fatalf("%s: UID %d keys\n%+v\nwant\n%+v", name, row.UID, gk, wk)
			}
		}
		msgs := must(s.MessagesByUID(ctx, bob, in.ID, ranges))
		if len(msgs) != len(wantUIDs) {
			t.Fatalf("%s: MessagesByUID %d messages, want %d", name, len(msgs), len(wantUIDs))
		}
		for i, m := range msgs {
			if m.UID != wantUIDs[i] {
				t.Fatalf("%s: MessagesByUID[%d] UID %d, want %d", name, i, m.UID, wantUIDs[i])
			}
		}
		fl := must(s.FlagsByUID(ctx, bob, in.ID, ranges))
		if len(fl) != len(wantUIDs) {
			t.Fatalf("%s: FlagsByUID %d rows, want %d", name, len(fl), len(wantUIDs))
		}
	}
	check("all", nil)
	check("one range", []store.UIDRange{{First: 10, Last: 40}})
	for round := range 30 {
		rs := scatteredRanges(r, 125)
		check(fmt.Sprintf("scattered %d (%d ranges)", round, len(rs)), rs)
	}
	if len(liveSet) == 0 || len(liveSet) == len(ids) {
		t.Fatalf("%d of %d live: the expunge did not thin the mailbox", len(liveSet), len(ids))
	}
	if _, err := s.SortRows(ctx, eve, in.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SortRows of bob's INBOX as eve: %v", err)
	}
}
