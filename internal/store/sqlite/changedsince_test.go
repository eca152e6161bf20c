package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestChangedSinceSeeksModSeq guards the read behind a webmail live
// update and an IMAP session's sync: the messages changed since a recent
// modseq are found by seeking messages_modseq, with no sort of what is
// read, not by walking the whole mailbox's index (SQLite's own choice for
// the old query, whose bound modseq tells it nothing: 2.5 ms per update
// at 20,000 messages, growing with the mailbox). It reads the plans of
// the statements ChangedSince itself prepared.
func TestChangedSinceSeeksModSeq(t *testing.T) {
	s, a, in := changedSinceMailbox(t, 3)
	before := preparedQueries(s)
	if _, err := s.ChangedSince(context.Background(), a.ID, in.ID, in.HighestModSeq-1); err != nil {
		t.Fatal(err)
	}
	var ran []string
	for q := range preparedQueries(s) {
		if !before[q] {
			ran = append(ran, q)
		}
	}
	seek := false
	for _, q := range ran {
		plan := queryPlan(t, s, q, slices.Repeat([]any{int64(1)}, strings.Count(q, "?"))...)
		for _, l := range plan {
			seek = seek || strings.HasPrefix(l, "SEARCH messages USING INDEX messages_modseq (mailbox_id=? AND modseq>?)")
			if strings.HasSuffix(l, "(mailbox_id=?)") || strings.HasPrefix(l, "SCAN messages") || strings.Contains(l, "TEMP B-TREE") {
				t.Errorf("ChangedSince of one change ran %s: plan %q walks the mailbox or sorts", q, plan)
			}
		}
	}
	if !seek {
		t.Errorf("ChangedSince of one change ran %q: none seeks messages_modseq", ran)
	}
}

// TestChangedSinceBothWays checks ChangedSince on both sides of
// changedByIndex against the mailbox's flags read whole: every live
// message above the modseq, once, by UID, whichever way it was read.
// The flags are changed in a random order, so that modseq order is not
// UID order.
func TestChangedSinceBothWays(t *testing.T) {
	s, a, in := changedSinceMailbox(t, (changedByIndex+200)/10)
	ctx := context.Background()
	all, err := s.UIDs(ctx, a.ID, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 7))
	for range 40 {
		u := all[rnd.IntN(len(all))]
		if _, _, err := s.StoreFlags(ctx, a.ID, in.ID, []uint32{u}, store.FlagsAdd, store.FlagFlagged|store.Flags(rnd.IntN(2)), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if in, err = s.Mailbox(ctx, a.ID, store.Inbox); err != nil {
		t.Fatal(err)
	}
	whole, err := s.FlagsByUID(ctx, a.ID, in.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Modseqs from every change down to none, across the bound.
	sinces := []uint64{0, in.HighestModSeq}
	for range 30 {
		sinces = append(sinces, rnd.Uint64N(in.HighestModSeq+1))
	}
	for _, since := range sinces {
		var want []store.MessageFlags
		for _, f := range whole {
			if f.ModSeq > since {
				want = append(want, f)
			}
		}
		got, err := s.ChangedSince(ctx, a.ID, in.ID, since)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("since %d: %d changed, want %d", since, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].UID != want[i].UID || got[i].ModSeq != want[i].ModSeq || got[i].Flags != want[i].Flags {
				t.Fatalf("since %d: changed[%d] = %+v, want %+v", since, i, got[i], want[i])
			}
		}
	}
	if _, err := s.ChangedSince(ctx, a.ID+1000, in.ID, 0); err == nil {
		t.Error("another account's mailbox: no error")
	}
}

// preparedQueries are the read statements s has prepared so far.
func preparedQueries(s *Store) map[string]bool {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	out := map[string]bool{}
	for q := range s.readStmts {
		out[q] = true
	}
	return out
}

// changedSinceMailbox gives bob an INBOX of n times 10 messages (10
// delivered to another folder, copied n times) and returns it.
func changedSinceMailbox(t *testing.T, n int) (*Store, store.Account, store.Mailbox) {
	s := open(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	a := bob(t, s)
	src, err := s.CreateMailbox(ctx, a.ID, "Source", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d := store.NewDelivery([]byte(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i)), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: "Source"}}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	uids, err := s.UIDs(ctx, a.ID, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := s.Copy(ctx, a.ID, src.ID, uids, in.ID); err != nil {
			t.Fatal(err)
		}
	}
	if in, err = s.Mailbox(ctx, a.ID, store.Inbox); err != nil {
		t.Fatal(err)
	}
	return s, a, in
}
