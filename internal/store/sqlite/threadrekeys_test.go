package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// TestRekeysForgottenPastWindow guards the window of thread_rekeys: a
// merge forgets its mailbox's records older than rekeyWindow, and a list
// whose modseq is older than what was forgotten is told to read its
// rows again (complete false) rather than given an answer that misses a
// conversation its rows left; a list newer than that is answered.
func TestRekeysForgottenPastWindow(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	a := bob(t, s)
	in, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(h string) {
		t.Helper()
		d := store.NewDelivery([]byte("From: a@example.test\r\n"+h+"\r\nbody\r\n"), time.Now())
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	merge := func(n int) {
		t.Helper()
		deliver(fmt.Sprintf("Subject: Alpha %d\r\nMessage-ID: <a%d@x>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n", n, n))
		deliver(fmt.Sprintf("Subject: Beta %d\r\nMessage-ID: <b%d@x>\r\nDate: Tue, 01 Dec 2026 11:00:00 +0000\r\n", n, n))
		deliver(fmt.Sprintf("Subject: Re: Alpha %d\r\nReferences: <a%d@x> <b%d@x>\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n", n, n, n))
	}
	modseq := func() uint64 {
		t.Helper()
		mb, err := s.MailboxByID(ctx, a.ID, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		return mb.HighestModSeq
	}
	merge(1)
	afterFirst := modseq()
	// The first merge's record, dated past the window.
	if err := s.write(ctx, func(t *tx) error {
		_, err := t.Exec("UPDATE thread_rekeys SET at = ? WHERE mailbox_id = ?", time.Now().Add(-rekeyWindow-time.Hour).UnixMilli(), in.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if left, complete, err := s.RekeyedSince(ctx, a.ID, in.ID, 0); err != nil || !complete || len(left) != 1 {
		t.Fatalf("before it is forgotten: %+v complete %v, %v; want Beta 1's conversation", left, complete, err)
	}
	merge(2)
	if left, complete, err := s.RekeyedSince(ctx, a.ID, in.ID, 0); err != nil || complete || len(left) != 0 {
		t.Errorf("a list older than what is remembered: %+v complete %v, %v; want it told to read its rows again", left, complete, err)
	}
	if left, complete, err := s.RekeyedSince(ctx, a.ID, in.ID, afterFirst); err != nil || !complete || len(left) != 1 {
		t.Errorf("a list newer than what was forgotten: %+v complete %v, %v; want Beta 2's conversation", left, complete, err)
	}
	var n int
	if err := s.r.QueryRow("SELECT count(*) FROM thread_rekeys WHERE mailbox_id = ?", in.ID).Scan(&n); err != nil || n != 2 {
		t.Errorf("thread_rekeys holds %d rows (%v), want the mark and Beta 2's record", n, err)
	}
}
