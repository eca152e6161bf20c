package sqlite

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
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

// threadMsgs makes n messages in conversations of five (a root, then
// replies each naming the one before), in order of arrival and date:
// the refill keys them without merging anything, so every row it
// re-keys is one the refill alone touched.
func threadMsgs(tb testing.TB, prefix string, n int) []bulkMsg {
	tb.Helper()
	var out []bulkMsg
	for i := range n {
		info := message.Info{MessageID: fmt.Sprintf("%s%d@example.org", prefix, i),
			Subject: fmt.Sprintf("%s topic %d", prefix, i/5), Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)}
		if i%5 > 0 {
			info.Subject = "Re: " + info.Subject
			info.Envelope.InReplyTo = fmt.Sprintf("<%s%d@example.org>", prefix, i-1)
		}
		raw, err := json.Marshal(&info)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, bulkMsg{id: info.MessageID, subject: info.Subject, info: raw})
	}
	return out
}

// TestRefillTellsOlderListsToReread guards what the background refill of
// an upgraded database (fillThreads) tells a list open by conversation
// (issue 14): the refill changes stored rows' keys, and a list read
// before a chunk re-keyed its folder is told by RekeyedSince to read its
// rows again (it kept its old rows until reload), while one read after
// the refill is answered. Each chunk gives one row per folder it
// re-keyed a new modseq (HIGHESTMODSEQ moves and the feed announces the
// folder), never every row (a CONDSTORE client would fetch all flags
// again), leaves one mark per folder, and touches no folder it did not
// re-key.
func TestRefillTellsOlderListsToReread(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	a, in := bulkAccount(t, s)
	sent, err := s.Mailbox(ctx, a.ID, store.Sent)
	if err != nil {
		t.Fatal(err)
	}
	archive, err := s.CreateMailbox(ctx, a.ID, "Archive", "")
	if err != nil {
		t.Fatal(err)
	}
	bulkInsert(t, s, a, in, threadMsgs(t, "in", 2*threadChunk+100))
	bulkInsert(t, s, a, sent, threadMsgs(t, "sent", 20))
	oldKeys(t, s)
	// Keyed as it is stored: nothing for the refill to do in Archive.
	bulkInsert(t, s, a, archive, threadMsgs(t, "arch", 3))
	modseq := func(mb int64) uint64 {
		t.Helper()
		m, err := s.MailboxByID(ctx, a.ID, mb)
		if err != nil {
			t.Fatal(err)
		}
		return m.HighestModSeq
	}
	in0, sent0, arch0 := modseq(in.ID), modseq(sent.ID), modseq(archive.ID)
	var mu sync.Mutex
	announced := map[int64][]uint64{}
	cancel := s.Subscribe(a.ID, func(c store.Change) {
		mu.Lock()
		announced[c.MailboxID] = append(announced[c.MailboxID], c.ModSeq)
		mu.Unlock()
	})
	defer cancel()

	// INBOX's rows fill the three chunks, Sent's the last one.
	if chunks := refill(t, s); chunks != 3 {
		t.Fatalf("refilled in %d chunks, want 3", chunks)
	}
	in1, sent1 := modseq(in.ID), modseq(sent.ID)
	if in1 != in0+3 || sent1 != sent0+1 || modseq(archive.ID) != arch0 {
		t.Errorf("HIGHESTMODSEQ INBOX %d -> %d, Sent %d -> %d, Archive %d -> %d; want one more per chunk that re-keyed the folder (3, 1, 0)",
			in0, in1, sent0, sent1, arch0, modseq(archive.ID))
	}
	for _, c := range []struct {
		name     string
		mb       int64
		from, to uint64
	}{{"INBOX", in.ID, in0, in1}, {"Sent", sent.ID, sent0, sent1}} {
		changed, err := s.ChangedSince(ctx, a.ID, c.mb, c.from)
		if err != nil {
			t.Fatal(err)
		}
		if want := int(c.to - c.from); len(changed) != want {
			t.Errorf("%s: %d rows got a new modseq, want %d (one per chunk, not every row)", c.name, len(changed), want)
		}
		for since := c.from; since < c.to; since++ {
			if left, complete, err := s.RekeyedSince(ctx, a.ID, c.mb, since); err != nil || complete || len(left) != 0 {
				t.Errorf("%s: a list read at modseq %d, before the refill's last chunk: %v complete %v, %v; want it told to read its rows again",
					c.name, since, left, complete, err)
			}
		}
		if left, complete, err := s.RekeyedSince(ctx, a.ID, c.mb, c.to); err != nil || !complete || len(left) != 0 {
			t.Errorf("%s: a list read after the refill: %v complete %v, %v; want it answered, nothing left", c.name, left, complete, err)
		}
		var marks int
		if err := s.r.QueryRow("SELECT count(*) FROM thread_rekeys WHERE mailbox_id = ?", c.mb).Scan(&marks); err != nil || marks != 1 {
			t.Errorf("%s: thread_rekeys holds %d rows (%v), want the one mark", c.name, marks, err)
		}
	}
	if left, complete, err := s.RekeyedSince(ctx, a.ID, archive.ID, arch0); err != nil || !complete || len(left) != 0 {
		t.Errorf("Archive, which the refill did not touch: %v complete %v, %v; want it answered", left, complete, err)
	}
	// Announced before the write returns (Store.Subscribe).
	mu.Lock()
	if !slices.Equal(announced[in.ID], []uint64{in0 + 1, in0 + 2, in0 + 3}) || !slices.Equal(announced[sent.ID], []uint64{sent1}) {
		t.Errorf("feed announced %v, want INBOX's three modseqs and Sent's one", announced)
	}
	mu.Unlock()
	if _, ok := announced[archive.ID]; ok {
		t.Errorf("the feed announced Archive, which the refill did not touch")
	}

	// A merge after the refill is answered row by row again.
	d := store.NewDelivery([]byte("From: a@example.test\r\nSubject: Re: in topic 0\r\nMessage-ID: <m1@x>\r\n"+
		"References: <in0@example.org> <in5@example.org>\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\nboth\r\n"), time.Now())
	d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
	if _, err := s.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	if left, complete, err := s.RekeyedSince(ctx, a.ID, in.ID, in1); err != nil || !complete || len(left) != 1 {
		t.Errorf("a merge after the refill, to a list read after it: %v complete %v, %v; want topic 1's conversation", left, complete, err)
	}
	if _, complete, err := s.RekeyedSince(ctx, a.ID, in.ID, in0); err != nil || complete {
		t.Errorf("a list read before the refill, after a later merge: complete %v, %v; want it told to read its rows again", complete, err)
	}
}
