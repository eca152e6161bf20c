package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// testSearchFields: SearchFieldRows returns, for any UID ranges (none,
// one, many scattered ones, nil for all), exactly the messages
// MessagesByUID returns (Preview aside), each with its body's From, To,
// Cc, Bcc and Subject fields exactly as message.SearchFields takes them
// from its header; a message delivered now with short fields has them,
// one whose fields are too long has none; a copy has its original's;
// expunged messages are left out; another account's mailbox is
// ErrNotFound and an empty mailbox an empty list.
func testSearchFields(t *testing.T, s store.Store) {
	ctx := context.Background()
	bobAcct, eveAcct, in := bobAndEve(t, s)
	bob, eve := bobAcct.ID, eveAcct.ID
	if got := must(s.SearchFieldRows(ctx, bob, in.ID, nil)); len(got) != 0 {
		t.Fatalf("empty INBOX: %d messages", len(got))
	}
	r := rand.New(rand.NewPCG(6, 11))
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var ids []int64
	long := map[uint32]bool{} // UIDs whose fields are too long to keep
	for i := range 60 {
		raw := sortKeysMessage(r, i)
		switch i % 9 {
		case 4:
			// Folded and repeated fields, one without a final line
			// break and no body.
			raw = []byte(fmt.Sprintf("To: a@example.org,\r\n\tb@example.org\r\nReceived: x\r\nto: c%d@example.org\r\nSUBJECT: s", i))
		case 8:
			var b strings.Builder
			for j := range 4000 {
				fmt.Fprintf(&b, "r%d@example.org, ", j)
			}
			raw = []byte("From: a@example.org\r\nTo: " + b.String() + "z@example.org\r\n\r\nbody\r\n")
			long[uint32(i+1)] = true
		}
		dl := deliver(t, s, raw, base.Add(time.Duration(i)*time.Minute), store.Copy{AccountID: bob, Mailbox: store.Inbox})
		ids = append(ids, dl[0].MessageID)
	}
	must(s.Copy(ctx, bob, in.ID, []uint32{4, 5, 9}, in.ID)) // UIDs 61 to 63
	long[63] = true
	var gone []int64
	for _, id := range ids {
		if r.IntN(5) == 0 {
			gone = append(gone, id)
		}
	}
	must(0, s.Expunge(ctx, bob, in.ID, gone))

	check := func(name string, ranges []store.UIDRange) {
		t.Helper()
		want := must(s.MessagesByUID(ctx, bob, in.ID, ranges))
		got := must(s.SearchFieldRows(ctx, bob, in.ID, ranges))
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, MessagesByUID has %d", name, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			w.Preview = ""
			if !reflect.DeepEqual(g.Message, w) {
				t.Fatalf("%s: message %d\n%+v\nwant\n%+v", name, i, g.Message, w)
			}
			if long[w.UID] {
				if g.HasFields {
					t.Fatalf("%s: UID %d has fields of %d bytes, longer than kept", name, w.UID, len(g.Fields))
				}
				continue
			}
			raw := readBody(t, s, bob, w.BodyID)
			wantFields, ok := message.SearchFields(message.Parse(raw).Part.Header(raw))
			if !ok || !g.HasFields || string(g.Fields) != string(wantFields) {
				t.Fatalf("%s: UID %d fields %v %q, want %q", name, w.UID, g.HasFields, g.Fields, wantFields)
			}
		}
	}
	check("all", nil)
	check("none", []store.UIDRange{})
	check("one range", []store.UIDRange{{First: 5, Last: 30}})
	check("copies", []store.UIDRange{{First: 58, Last: 70}})
	for round := range 10 {
		var rs []store.UIDRange
		u := uint32(1 + r.IntN(3))
		for u <= 65 {
			n := uint32(0)
			if r.IntN(4) == 0 {
				n = uint32(r.IntN(6))
			}
			rs = append(rs, store.UIDRange{First: u, Last: u + n})
			u += n + 2 + uint32(r.IntN(4))
		}
		check(fmt.Sprintf("scattered %d (%d ranges)", round, len(rs)), rs)
	}
	if _, err := s.SearchFieldRows(ctx, eve, in.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SearchFieldRows of bob's INBOX as eve: %v", err)
	}
	eveIn := must(s.Mailbox(ctx, eve, store.Inbox))
	if got, err := s.SearchFieldRows(ctx, eve, eveIn.ID, nil); err != nil || len(got) != 0 {
		t.Fatalf("eve's empty INBOX: %d messages, %v", len(got), err)
	}
}
