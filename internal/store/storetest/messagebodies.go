package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// testMessageBodies: MessageBodies returns, for any UID ranges (none, one,
// many scattered ones, nil for all), exactly the messages MessagesByUID
// returns, each with the body Body returns for it and an Open that reads
// the bytes OpenBody reads; a copy shares its original's body; expunged
// messages are left out; another account's mailbox is ErrNotFound and an
// empty mailbox an empty list.
func testMessageBodies(t *testing.T, s store.Store) {
	ctx := context.Background()
	bobAcct, eveAcct, in := bobAndEve(t, s)
	bob, eve := bobAcct.ID, eveAcct.ID
	if got := must(s.MessageBodies(ctx, bob, in.ID, nil)); len(got) != 0 {
		t.Fatalf("empty INBOX: %d messages", len(got))
	}
	r := rand.New(rand.NewPCG(3, 5))
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 60 {
		raw := sortKeysMessage(r, i)
		if i%7 == 0 {
			// A multipart message, so that Infos differ in structure.
			raw = []byte(fmt.Sprintf("From: a@example.org\r\nSubject: parts %d\r\nMIME-Version: 1.0\r\n"+
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello %d\r\n"+
				"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n", i, i))
		}
		dl := deliver(t, s, raw, base.Add(time.Duration(i)*time.Minute), store.Copy{AccountID: bob, Mailbox: store.Inbox})
		ids = append(ids, dl[0].MessageID)
	}
	// Copies share the body of their original.
	must(s.Copy(ctx, bob, in.ID, []uint32{3, 4, 5}, in.ID))
	expungeFifth(s, r, bob, in.ID, ids)

	check := func(name string, ranges []store.UIDRange) {
		t.Helper()
		want := must(s.MessagesByUID(ctx, bob, in.ID, ranges))
		got := must(s.MessageBodies(ctx, bob, in.ID, ranges))
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, MessagesByUID has %d", name, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if !reflect.DeepEqual(g.Message, w) {
				t.Fatalf("%s: message %d\n%+v\nwant\n%+v", name, i, g.Message, w)
			}
			wb := must(s.Body(ctx, bob, w.BodyID))
			if g.Body.ID != w.BodyID || g.Body.Size != wb.Size || g.Body.Info == nil || !reflect.DeepEqual(*g.Body.Info, *wb.Info) {
				t.Fatalf("%s: UID %d body %+v, want %+v", name, w.UID, g.Body, wb)
			}
			rc := must(g.Open(ctx))
			b := must(io.ReadAll(rc))
			rc.Close()
			if wantRaw := readBody(t, s, bob, w.BodyID); string(b) != string(wantRaw) || int64(len(b)) != g.Body.Size {
				t.Fatalf("%s: UID %d Open read %q, want %q", name, w.UID, b, wantRaw)
			}
		}
	}
	check("all", nil)
	check("none", []store.UIDRange{})
	check("one range", []store.UIDRange{{First: 5, Last: 30}})
	check("copies", []store.UIDRange{{First: 58, Last: 70}})
	for round := range 10 {
		rs := scatteredRanges(r, 65)
		check(fmt.Sprintf("scattered %d (%d ranges)", round, len(rs)), rs)
	}
	if _, err := s.MessageBodies(ctx, eve, in.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MessageBodies of bob's INBOX as eve: %v", err)
	}
	eveIn := must(s.Mailbox(ctx, eve, store.Inbox))
	if got, err := s.MessageBodies(ctx, eve, eveIn.ID, nil); err != nil || len(got) != 0 {
		t.Fatalf("eve's empty INBOX: %d messages, %v", len(got), err)
	}
}
