package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// bulkMsg is one message of a generated large mailbox.
type bulkMsg struct {
	id, subject string
	info        []byte
}

// bulkCorpus makes n messages in threads of up to 10 replies, each
// naming its parent by In-Reply-To only or by References too, some
// parents missing, in a shuffled order of arrival.
func bulkCorpus(tb testing.TB, n int, seed uint64) []bulkMsg {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	msgs := make([]bulkMsg, 0, n)
	for t := 0; len(msgs) < n; t++ {
		root := fmt.Sprintf("t%d@example.org", t)
		subject := fmt.Sprintf("Topic %d", t%(n/7+1))
		var refs []string
		parent := ""
		for j := range 1 + rng.IntN(10) {
			id := root
			info := message.Info{Subject: subject, Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(msgs)) * time.Minute)}
			if j > 0 {
				id = fmt.Sprintf("t%d-%d@example.org", t, j)
				info.Subject = "Re: " + subject
				info.Envelope.InReplyTo = "<" + parent + ">"
				if rng.IntN(2) == 0 {
					info.References = slices.Clone(refs)
				}
			}
			info.MessageID = id
			refs = append(refs, id)
			parent = id
			if rng.IntN(10) == 0 {
				continue // missing: its replies name it
			}
			raw, err := json.Marshal(&info)
			if err != nil {
				tb.Fatal(err)
			}
			msgs = append(msgs, bulkMsg{id: id, subject: info.Subject, info: raw})
		}
	}
	msgs = msgs[:n]
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	return msgs
}

// bulkAccount makes bob@example.test and returns it with its INBOX.
func bulkAccount(tb testing.TB, s *Store) (store.Account, store.Mailbox) {
	tb.Helper()
	ctx := context.Background()
	a := bob(tb, s)
	in, err := s.Mailbox(ctx, a.ID, store.Inbox)
	if err != nil {
		tb.Fatal(err)
	}
	return a, in
}

// bulkInsert stores msgs in the account's INBOX straight in SQL (bodies
// whose Info holds only what threading reads), 5,000 per write: a large
// mailbox in seconds. Each is keyed as addMessage keys a delivery.
func bulkInsert(tb testing.TB, s *Store, a store.Account, in store.Mailbox, msgs []bulkMsg) {
	tb.Helper()
	ctx := context.Background()
	for start := 0; start < len(msgs); start += 5000 {
		err := s.write(ctx, func(t *tx) error {
			var next uint32
			if err := t.QueryRow("SELECT uidnext FROM mailboxes WHERE id = ?", in.ID).Scan(&next); err != nil {
				return err
			}
			end := min(start+5000, len(msgs))
			now := time.Now().UnixMilli()
			for i := start; i < end; i++ {
				m := msgs[i]
				res, err := t.Exec(insertBody, fmt.Sprintf("bulk-%s", m.id), 100, 1, m.info)
				if err != nil {
					return err
				}
				body, _ := res.LastInsertId()
				uid := next + uint32(i-start)
				var id int64
				if err := t.QueryRow(nextMessageID).Scan(&id); err != nil {
					return err
				}
				var info message.Info
				if err := json.Unmarshal(m.info, &info); err != nil {
					return err
				}
				keys := store.SortKeysOf(&info)
				comp, key, err := t.keyThread(a.ID, id, m.id, &keys, now+int64(i))
				if err != nil {
					return err
				}
				if _, err := t.Exec(insertMessage, id, a.ID, a.DomainID, in.ID, uid, uid, 0, "", now+int64(i), 100, body,
					m.subject, "", m.id, "", key, comp, 0); err != nil {
					return err
				}
			}
			_, err := t.Exec("UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + ?, messages = messages + ? WHERE id = ?",
				end-start, end-start, end-start, in.ID)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// conversations is the account's partition of Message-IDs by
// conversation key.
func conversations(tb testing.TB, s *Store, acct int64) []string {
	tb.Helper()
	rows, err := s.r.Query("SELECT thread, message_id FROM messages WHERE account_id = ? AND expunged_modseq = 0 ORDER BY message_id", acct)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	by := map[string][]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			tb.Fatal(err)
		}
		by[k] = append(by[k], id)
	}
	var out []string
	for _, ids := range by {
		out = append(out, strings.Join(ids, " "))
	}
	slices.Sort(out)
	return out
}

// oldKeys puts back the state of a database before threadsSchema: the
// keys of conversationsSchema (References' first id, else In-Reply-To,
// else Message-ID), nothing keyed, no ids. The refill then starts as on
// an upgraded database.
func oldKeys(tb testing.TB, s *Store) {
	tb.Helper()
	err := s.write(context.Background(), func(t *tx) error {
		for _, q := range []string{`UPDATE messages SET thread_comp = 0, thread = (SELECT coalesce(
				nullif(json_extract(CAST(b.info AS TEXT), '$.refs[0]'), ''),
				nullif(trim(json_extract(CAST(b.info AS TEXT), '$.env.irt'), '<> '), ''),
				nullif(messages.message_id, ''), '#' || messages.body_id) FROM bodies b WHERE b.id = messages.body_id)`,
			"DELETE FROM thread_ids", "DELETE FROM thread_comps"} {
			if _, err := t.Exec(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// refill runs the background refill to its end, in its chunks.
func refill(tb testing.TB, s *Store) (chunks int) {
	tb.Helper()
	for {
		_, more, err := s.fillThreadsStep(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		chunks++
		if !more {
			return chunks
		}
	}
}

// checkThreadCounts fails if a conversation row's counts differ from
// its messages.
func checkThreadCounts(tb testing.TB, s *Store) {
	tb.Helper()
	var bad int
	if err := s.r.QueryRow(`SELECT count(*) FROM threads t WHERE messages != (SELECT count(*) FROM messages m
		WHERE m.mailbox_id = t.mailbox_id AND m.thread = t.thread AND m.expunged_modseq = 0 AND m.flags & 8 = 0)
		OR newest_id != (SELECT id FROM messages m WHERE m.mailbox_id = t.mailbox_id AND m.thread = t.thread
			AND m.expunged_modseq = 0 AND m.flags & 8 = 0 ORDER BY received DESC, id DESC LIMIT 1)`).Scan(&bad); err != nil || bad != 0 {
		tb.Errorf("%d conversation rows miscounted (%v)", bad, err)
	}
	var missing int
	if err := s.r.QueryRow(`SELECT count(*) FROM messages m WHERE m.expunged_modseq = 0 AND m.flags & 8 = 0
		AND NOT EXISTS (SELECT 1 FROM threads t WHERE t.mailbox_id = m.mailbox_id AND t.thread = m.thread)`).Scan(&missing); err != nil || missing != 0 {
		tb.Errorf("%d messages in no conversation row (%v)", missing, err)
	}
}

// TestThreadRefillMatchesIngest: on a database whose messages carry the
// keys of the version before (In-Reply-To chains split, no subject
// merge), the chunked refill gives exactly the conversations that keying
// at arrival gives, and the per-mailbox conversation counts agree with
// the messages.
func TestThreadRefillMatchesIngest(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	a, in := bulkAccount(t, s)
	bulkInsert(t, s, a, in, bulkCorpus(t, 1200, 9))
	want := conversations(t, s, a.ID)
	oldKeys(t, s)
	if got := conversations(t, s, a.ID); slices.Equal(got, want) {
		t.Fatal("the old keys give the same conversations: the test shows nothing")
	}
	if n := refill(t, s); n < 1200/threadChunk {
		t.Errorf("refilled in %d chunks, want at least %d", n, 1200/threadChunk)
	}
	if got := conversations(t, s, a.ID); !slices.Equal(got, want) {
		t.Errorf("after the refill %d conversations, at arrival %d", len(got), len(want))
	}
	checkThreadCounts(t, s)
	// Done: a further step finds nothing.
	if n, more, err := s.fillThreadsStep(context.Background()); n != 0 || more || err != nil {
		t.Errorf("a step after the refill keyed %d (more %v, %v)", n, more, err)
	}
}

// TestThreadRefillBetweenDeliveries: deliveries keyed by the trigger
// while the refill is half done (replies to messages not refilled yet,
// parents of messages not refilled yet) end in the same conversations as
// every message keyed at arrival, in random orders of chunks and
// deliveries.
func TestThreadRefillBetweenDeliveries(t *testing.T) {
	for seed := range uint64(1) {
		corpus := bulkCorpus(t, 800, 20+seed)
		ref := open(t, t.TempDir())
		ra, rin := bulkAccount(t, ref)
		bulkInsert(t, ref, ra, rin, corpus)
		want := conversations(t, ref, ra.ID)
		ref.Close()

		s := open(t, t.TempDir())
		a, in := bulkAccount(t, s)
		bulkInsert(t, s, a, in, corpus[:400])
		oldKeys(t, s)
		rng := rand.New(rand.NewPCG(seed, 7))
		rest := corpus[400:]
		for len(rest) > 0 {
			if rng.IntN(2) == 0 {
				if _, _, err := s.fillThreadsStep(context.Background()); err != nil {
					t.Fatal(err)
				}
				continue
			}
			k := min(len(rest), 1+rng.IntN(60))
			bulkInsert(t, s, a, in, rest[:k])
			rest = rest[k:]
		}
		refill(t, s)
		if got := conversations(t, s, a.ID); !slices.Equal(got, want) {
			t.Errorf("seed %d: %d conversations with the refill between deliveries, %d at arrival", seed, len(got), len(want))
		}
		checkThreadCounts(t, s)
		s.Close()
	}
}

// TestThreadIDsGoWithLastMessage: when retention purges every message
// of a conversation, its ids and component go (the tables do not grow
// with all mail ever seen), while a conversation with a message left
// keeps them.
func TestThreadIDsGoWithLastMessage(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	a, _ := bulkAccount(t, s)
	old := time.Now().Add(-100 * 24 * time.Hour)
	deliverAt := func(raw string, at time.Time) {
		d := store.NewDelivery([]byte(raw), at)
		d.Copies = []store.Copy{{AccountID: a.ID, Mailbox: store.Inbox}}
		if _, err := s.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	deliverAt("Subject: Old\r\nMessage-ID: <o1@x>\r\nReferences: <gone@x>\r\n\r\nx\r\n", old)
	deliverAt("Subject: Re: Old\r\nMessage-ID: <o2@x>\r\nIn-Reply-To: <o1@x>\r\n\r\nx\r\n", old)
	deliverAt("Subject: Kept\r\nMessage-ID: <k1@x>\r\n\r\nx\r\n", old)
	deliverAt("Subject: Re: Kept\r\nMessage-ID: <k2@x>\r\nIn-Reply-To: <k1@x>\r\n\r\nx\r\n", time.Now())
	count := func(q string) int {
		var n int
		if err := s.r.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The ids linked to (own ids are found through the messages).
	if n := count("SELECT count(*) FROM thread_ids"); n != 3 {
		t.Fatalf("%d ids before the purge, want gone, o1 and k1", n)
	}
	for {
		r, err := s.Purge(ctx, time.Now().Add(-30*24*time.Hour), time.Now().Add(-30*24*time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if r == (store.PurgeResult{}) {
			break
		}
	}
	if n := count("SELECT count(*) FROM messages"); n != 1 {
		t.Fatalf("%d messages after the purge, want 1", n)
	}
	if n := count("SELECT count(*) FROM thread_ids"); n != 1 {
		t.Errorf("%d ids after the purge, want k1", n)
	}
	if n := count("SELECT count(*) FROM thread_comps"); n != 1 {
		t.Errorf("%d components after the purge, want 1", n)
	}
	// The kept message's conversation goes on with a new reply.
	deliverAt("Subject: Re: Kept\r\nMessage-ID: <k3@x>\r\nIn-Reply-To: <k1@x>\r\n\r\nx\r\n", time.Now())
	if got := conversations(t, s, a.ID); len(got) != 1 || got[0] != "k2@x k3@x" {
		t.Errorf("conversations %q", got)
	}
}

// BenchmarkThreadRefill times the refill of a 100,000-message database's
// conversation keys (threadsSchema's background step), chunk by chunk.
func BenchmarkThreadRefill(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	a, in := bulkAccount(b, s)
	start := time.Now()
	bulkInsert(b, s, a, in, bulkCorpus(b, 100_000, 3))
	b.Logf("100,000 messages stored (keyed at arrival) in %v", time.Since(start))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		oldKeys(b, s)
		b.StartTimer()
		cpu := cpuTime()
		chunks := refill(b, s)
		b.ReportMetric(float64((cpuTime() - cpu).Milliseconds()), "cpu-ms/op")
		b.ReportMetric(float64(chunks), "chunks")
	}
}

// TestThreadsUpgrade opens a database as the version before threadsSchema
// left it (its schema, its trigger and keys, messages in it): the
// upgrade and the refill it starts in the background give every message
// the conversation it gets when stored now.
func TestThreadsUpgrade(t *testing.T) {
	corpus := bulkCorpus(t, 600, 31)
	ref := open(t, t.TempDir())
	ra, rin := bulkAccount(t, ref)
	bulkInsert(t, ref, ra, rin, corpus)
	want := conversations(t, ref, ra.ID)
	ref.Close()

	dir := t.TempDir()
	s := open(t, dir)
	a, in := bulkAccount(t, s)
	bulkInsert(t, s, a, in, corpus)
	oldKeys(t, s)
	s.Close()
	step := slices.Index(migrations, threadsSchema)
	i := strings.Index(conversationsSchema, "CREATE TRIGGER messages_thread_root")
	j := strings.Index(conversationsSchema[i:], "END;")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "xtramail.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TRIGGER messages_thread_gone",
		conversationsSchema[i : i+j+len("END;")],
		"DROP INDEX messages_thread_comp", "ALTER TABLE messages DROP COLUMN thread_comp",
		"DROP TABLE thread_ids", "DROP TABLE thread_comps",
		"DROP TRIGGER mailboxes_thread_rekeys_gone", "DROP TABLE thread_rekeys",
		// Later steps that cannot run twice (ALTER TABLE ADD COLUMN).
		"ALTER TABLE queue DROP COLUMN dsn_notify", "ALTER TABLE queue DROP COLUMN dsn_orcpt",
		"ALTER TABLE queue DROP COLUMN dsn_ret", "ALTER TABLE queue DROP COLUMN dsn_envid",
		"ALTER TABLE domains DROP COLUMN recipient_delimiter", "DROP INDEX msglog_account", "ALTER TABLE msglog DROP COLUMN account",
		"ALTER TABLE messages DROP COLUMN arrived",
		"ALTER TABLE queue DROP COLUMN continuity",
		"ALTER TABLE queue DROP COLUMN origin_client", "ALTER TABLE queue DROP COLUMN origin_with",
		fmt.Sprintf("PRAGMA user_version = %d", step),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s = open(t, dir)
	defer s.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var left int
		if err := s.r.QueryRow("SELECT count(*) FROM messages WHERE thread_comp <= 0").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still not keyed after 2 minutes", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := conversations(t, s, a.ID); !slices.Equal(got, want) {
		t.Errorf("after the upgrade %d conversations, stored now %d", len(got), len(want))
	}
	checkThreadCounts(t, s)
}

// BenchmarkThreadKeyLongConversation times storing one more reply in a
// conversation of 20,000 messages (every message naming one root, as
// automated mail does): keying it must not read the conversation.
func BenchmarkThreadKeyLongConversation(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	a, in := bulkAccount(b, s)
	reply := func(i int) bulkMsg {
		info := message.Info{Subject: "Re: Build status", MessageID: fmt.Sprintf("b%d@example.org", i), References: []string{"root@example.org"},
			Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)}
		raw, err := json.Marshal(&info)
		if err != nil {
			b.Fatal(err)
		}
		return bulkMsg{id: info.MessageID, subject: info.Subject, info: raw}
	}
	var msgs []bulkMsg
	for i := range 20_000 {
		msgs = append(msgs, reply(i))
	}
	bulkInsert(b, s, a, in, msgs)
	i := len(msgs)
	for b.Loop() {
		bulkInsert(b, s, a, in, []bulkMsg{reply(i)})
		i++
	}
}
