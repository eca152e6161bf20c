package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// rowPartition is how the live rows of a mailbox are grouped by
// conversation key: each group's row ids, the groups sorted.
func rowPartition(tb testing.TB, s *Store, mailboxID int64) []string {
	tb.Helper()
	rows, err := s.r.Query("SELECT thread, id FROM messages WHERE mailbox_id = ? AND expunged_modseq = 0 ORDER BY id", mailboxID)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	by := map[string][]string{}
	for rows.Next() {
		var k string
		var id int64
		if err := rows.Scan(&k, &id); err != nil {
			tb.Fatal(err)
		}
		by[k] = append(by[k], fmt.Sprint(id))
	}
	var out []string
	for _, ids := range by {
		out = append(out, strings.Join(ids, " "))
	}
	slices.Sort(out)
	return out
}

// TestThreadKeyAtInsertMatchesRefill guards keyThread at insert, the
// conversation computed in Go before a delivery's one insert of its row
// (issue 13's speed, issue 14's THREAD=REFERENCES grouping): for random
// mixes of References, In-Reply-To (with and without brackets and
// spaces), repeated Message-IDs and none, arriving at random times,
// every row is where the background refill puts it when it keys the same
// rows afresh; a copy keeps its original's conversation, and messages
// with the same Message-ID share theirs; and the threads
// table holds exactly the counts, unseen counts and newest rows a
// recount from messages gives.
func TestThreadKeyAtInsertMatchesRefill(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	a := bob(t, s)
	rng := rand.New(rand.NewPCG(13, 1))
	ids := []string{"root@x", "reply@x", "other@x", ""}
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for n := range 60 {
		subject := fmt.Sprintf("%sTopic %d", []string{"", "Re: "}[rng.IntN(2)], rng.IntN(20))
		if rng.IntN(5) == 0 {
			subject = ""
		}
		h := fmt.Sprintf("From: a@example.test\r\nSubject: %s\r\nDate: %s\r\n", subject,
			at.Add(time.Duration(rng.IntN(30))*time.Minute).Format(time.RFC1123Z))
		if id := ids[rng.IntN(len(ids))]; id != "" {
			h += fmt.Sprintf("Message-ID: <%d.%s>\r\n", n%7, id)
		}
		switch rng.IntN(4) {
		case 0:
			h += fmt.Sprintf("References: <%d.%s> <b%d@x>\r\n", rng.IntN(7), ids[rng.IntN(3)], rng.IntN(3))
		case 1:
			h += fmt.Sprintf("In-Reply-To: <%d.%s>\r\n", rng.IntN(7), ids[rng.IntN(3)])
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
	if err := s.r.QueryRow(`SELECT count(*) FROM messages c JOIN messages o ON o.body_id = c.body_id AND o.id < c.id
		WHERE c.thread != o.thread OR c.thread_comp != o.thread_comp`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d copies in another conversation than their original (%v)", bad, err)
	}
	var rows, convs int
	s.r.QueryRow("SELECT count(*), count(DISTINCT thread) FROM messages").Scan(&rows, &convs)
	if rows != 66 || convs < 4 || convs > 40 {
		t.Fatalf("%d rows in %d conversations: the mix does not test much", rows, convs)
	}
	// Two deliveries of one Message-ID (as a message to oneself, stored
	// in INBOX and Sent) are one conversation.
	if err := s.r.QueryRow(`SELECT count(*) FROM messages c JOIN messages o ON o.message_id = c.message_id AND o.id < c.id
		WHERE c.message_id != '' AND c.thread != o.thread`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d messages in another conversation than an earlier one of the same Message-ID (%v)", bad, err)
	}
	checkThreadCounts(t, s)
	want := rowPartition(t, s, inbox.ID)
	oldKeys(t, s)
	refill(t, s)
	if got := rowPartition(t, s, inbox.ID); !slices.Equal(got, want) {
		t.Errorf("INBOX's conversations keyed at insert:\n%q\nkeyed by the refill:\n%q", want, got)
	}
	checkThreadCounts(t, s)
}
