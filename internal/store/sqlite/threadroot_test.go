package sqlite

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestThreadRootAtInsertMatchesTrigger guards threadRoot, the
// conversation root computed in Go when a row is inserted: for random
// mixes of References, In-Reply-To (with and without brackets and
// spaces), Message-ID and none of them, every row's root is what the
// messages_thread_root trigger computes from the stored body Info, a
// copy keeps its original's root, and the threads table holds exactly
// the counts, unseen counts and newest rows a recount from messages
// gives.
func TestThreadRootAtInsertMatchesTrigger(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	a := bob(t, s)
	rng := rand.New(rand.NewPCG(13, 1))
	ids := []string{"root@x", "reply@x", "other@x", ""}
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for n := range 60 {
		h := "From: a@example.test\r\nSubject: s\r\n"
		if id := ids[rng.IntN(len(ids))]; id != "" {
			h += fmt.Sprintf("Message-ID: <%d.%s>\r\n", n%7, id)
		}
		switch rng.IntN(4) {
		case 0:
			h += fmt.Sprintf("References: <%s> <b@x>\r\n", ids[rng.IntN(3)])
		case 1:
			h += fmt.Sprintf("In-Reply-To: <%s>\r\n", ids[rng.IntN(3)])
		case 2:
			h += "In-Reply-To:  <x y> \r\n"
		}
		d := store.NewDelivery([]byte(h+fmt.Sprintf("\r\nbody %d\r\n", n)), at.Add(time.Duration(rng.IntN(5))*time.Minute))
		flags := store.Flags(0)
		if rng.IntN(2) == 0 {
			flags = store.FlagSeen
		}
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox, Flags: flags}}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := s.Mailbox(ctx, a.ID, store.Sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, a.ID, inbox.ID, []uint32{1, 2, 3, 5, 8, 13}, sent.ID); err != nil {
		t.Fatal(err)
	}
	var bad int
	err = s.r.QueryRow(`SELECT count(*) FROM messages m WHERE m.thread IS NOT (SELECT coalesce(
			nullif(json_extract(CAST(b.info AS TEXT), '$.refs[0]'), ''),
			nullif(trim(json_extract(CAST(b.info AS TEXT), '$.env.irt'), '<> '), ''),
			nullif(m.message_id, ''),
			'#' || m.body_id) FROM bodies b WHERE b.id = m.body_id)`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Fatalf("%d rows with another root than the trigger's (%v)", bad, err)
	}
	var rows, roots int
	s.r.QueryRow("SELECT count(*), count(DISTINCT thread) FROM messages").Scan(&rows, &roots)
	if rows != 66 || roots < 5 {
		t.Fatalf("%d rows in %d conversations: the mix does not test much", rows, roots)
	}
	err = s.r.QueryRow(`SELECT count(*) FROM (
		SELECT mailbox_id, thread, count(*) n, sum((flags & 1) = 0) u,
			(SELECT id FROM messages n WHERE n.mailbox_id = m.mailbox_id AND n.thread = m.thread ORDER BY received DESC, id DESC LIMIT 1) newest
		FROM messages m GROUP BY mailbox_id, thread) c
		FULL JOIN threads t USING (mailbox_id, thread)
		WHERE t.messages IS NOT c.n OR t.unseen IS NOT c.u OR t.newest_id IS NOT c.newest`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Fatalf("%d conversations counted otherwise than a recount (%v)", bad, err)
	}
}
