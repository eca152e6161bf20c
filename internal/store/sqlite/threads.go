package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// threadsSchema is the migration step of the account-wide conversations
// (issue 14 part 4): the same grouping as IMAP THREAD=REFERENCES (RFC
// 5256 section 3), kept as messages arrive in any order.
//
// THREAD=REFERENCES groups messages in two steps: (1) messages linked by
// their ids (each message to its own Message-ID and to the ids of its
// References, or of In-Reply-To when it has none: thread.Msg.Links) are
// one tree, also through ids of messages not present (dummies); (2) trees
// whose root has the same non-empty base subject are merged (step 5),
// the root of a tree whose top is a dummy going by its earliest child.
//
// Step 1 is a union-find (keyThread): each message row names its
// component (messages.thread_comp), thread_ids maps the ids a message
// links to (its References or In-Reply-To) to their component, and a
// message's own Message-ID is found through the live rows that carry it
// (messages_msgid, an index every delivery writes anyway). A component
// is numbered by the message that started it, and gets a thread_comps
// row (its earliest message) only when a second message joins it; the
// index on thread_comp holds only rows in another message's component.
// So a message that links nowhere and is met by nothing, most mail,
// writes its row and nothing else: no id, no component row, no index
// entry (issue 13's cost per delivery). A message whose ids meet several
// components merges them into the oldest.
// Union and the minimum below do not depend on the order messages come
// in, so replies arriving before their parents, a missing message joined
// later, or the background refill running between deliveries all end in
// the same partition as keying every message at once.
//
// Step 2: each component keeps its earliest message (sent date, then id)
// and that message's base subject. With sent dates that follow replies
// (a reply dated after what it answers), the earliest message of a tree
// is its root, or the earliest child of its dummy root, so this is the
// subject step 5 merges by. A message's conversation key (messages.thread,
// which the conversation counts and pages are kept by, conversations.go)
// is "subj " and a 64-bit hash of that base subject, or "conv " and the
// component when the subject is empty (never merged); a space never
// occurs in a message id, so these never meet a key of an earlier
// version. (A hash, not the subject: the key is in the row and in two
// indexes of every message, and a long key made each delivery write
// more pages. Two subjects of one account meeting on one hash, about
// one chance in 10^9 at 100,000 subjects, would show two conversations
// as one.)
//
// Keys are fixed as messages arrive: an expunge or purge does not split
// a conversation or change its subject (THREAD, run again, would), so a
// conversation does not come apart as its oldest messages age out. When
// a component's last message row is deleted, its ids go with it.
//
// Messages stored before this step are keyed in the background, oldest
// first (fillThreads): their thread_comp is 0 until then. Every row
// stored from now on is inserted with its key (addMessage, Copy), so the
// root trigger of conversationsSchema, which computed an older key for
// a row inserted without one, goes.
const threadsSchema = `
ALTER TABLE messages ADD COLUMN thread_comp INTEGER NOT NULL DEFAULT 0;
-- Rows of another message's component (and rows not keyed yet, 0): a
-- component's rows are its first (id = thread_comp) and these.
CREATE INDEX messages_thread_comp ON messages(thread_comp) WHERE thread_comp != id;
-- Components of more than one message.
CREATE TABLE thread_comps (
	id INTEGER PRIMARY KEY,
	first_sent INTEGER NOT NULL,
	first_id INTEGER NOT NULL,
	subject TEXT NOT NULL
);
CREATE TABLE thread_ids (
	account_id INTEGER NOT NULL,
	msgid TEXT NOT NULL,
	comp INTEGER NOT NULL,
	PRIMARY KEY (account_id, msgid)
) WITHOUT ROWID;
CREATE INDEX thread_ids_comp ON thread_ids(comp);

-- Conversations that rows left by a merge, per mailbox and the modseq
-- the re-keyed rows got there (threadrekeys.go): a list open by
-- conversation replaces their rows. thread '' marks that records up to
-- its modseq were forgotten (older than the window).
CREATE TABLE thread_rekeys (
	mailbox_id INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	thread TEXT NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, modseq, thread)
) WITHOUT ROWID;
CREATE TRIGGER mailboxes_thread_rekeys_gone AFTER DELETE ON mailboxes BEGIN
	DELETE FROM thread_rekeys WHERE mailbox_id = OLD.id;
END;

DROP TRIGGER IF EXISTS messages_thread_root;

-- A component's last row purged: its ids go.
CREATE TRIGGER messages_thread_gone AFTER DELETE ON messages WHEN OLD.thread_comp > 0
	AND NOT EXISTS (SELECT 1 FROM messages WHERE thread_comp = OLD.thread_comp AND thread_comp != id)
	AND NOT EXISTS (SELECT 1 FROM messages WHERE id = OLD.thread_comp AND thread_comp = OLD.thread_comp) BEGIN
	DELETE FROM thread_ids WHERE comp = OLD.thread_comp;
	DELETE FROM thread_comps WHERE id = OLD.thread_comp;
END;
`

// The keying's statements on the delivery path (prepared at Open:
// hotQueries).
const (
	// nextMessageID is the id the next messages row gets, so that a new
	// message is keyed before its one insert: SQLite's AUTOINCREMENT rule
	// (one more than the largest ever given, sqlite_sequence, or than
	// the largest present: ids are never reused, IDsNeverReused), and
	// past every component still held by rows, since a message's id may
	// number a new component.
	nextMessageID = `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),
		coalesce((SELECT max(id) FROM messages), 0),
		coalesce((SELECT thread_comp FROM messages INDEXED BY messages_thread_comp WHERE thread_comp != id ORDER BY thread_comp DESC LIMIT 1), 0)) + 1`
	// threadIDComp: the component of messages that link to an id.
	threadIDComp = "SELECT comp FROM thread_ids WHERE account_id = ? AND msgid = ?"
	// threadMsgComp: the component of the live messages whose own
	// Message-ID is an id (all of them have one component: each was
	// keyed with its own id). Rows not keyed yet (0) are not met: they
	// meet this one when the refill keys them.
	threadMsgComp = `SELECT thread_comp FROM messages INDEXED BY messages_msgid
		WHERE account_id = ? AND message_id = ? AND message_id != '' AND expunged_modseq = 0 AND thread_comp > 0 LIMIT 1`
	addThreadID = "INSERT OR IGNORE INTO thread_ids (account_id, msgid, comp) VALUES (?, ?, ?)"
)

// convKey is the conversation key of component comp whose earliest
// message has base subject subject (see threadsSchema).
func convKey(comp int64, subject string) string {
	if subject == "" {
		return "conv " + strconv.FormatInt(comp, 10)
	}
	h := fnv.New64a()
	h.Write([]byte(subject))
	return "subj " + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// compFirst is a component's earliest message: sent date (unix
// milliseconds; the arrival time without a Date), row id, base subject.
type compFirst struct {
	sent, id int64
	subject  string
}

func (a compFirst) before(b compFirst) bool {
	return a.sent < b.sent || a.sent == b.sent && a.id < b.id
}

// keyThread places message row id of account acct (stored, or about to
// be inserted with that id) in its conversation: it finds the components
// its ids meet, merges them into the oldest (re-keying the rows of the
// others, and of that one when its earliest message changed), records
// the ids it links to, and returns the component and key the row is to
// carry. msgID is its own Message-ID (without brackets), keys its sort
// keys (store.SortKeysOf: the same derivation as IMAP THREAD's), received
// its arrival (unix milliseconds), the date of a message without one.
//
// A message that links to nothing and is met by nothing, most mail,
// costs three index look-ups and writes nothing: it starts component id,
// and its row is written once, by its caller, with the result (issue
// 13's one write per delivery).
func (t *tx) keyThread(acct, id int64, msgID string, keys *store.SortKeys, received int64) (comp int64, key string, err error) {
	m := thread.Msg{InReplyTo: keys.InReplyTo, References: keys.References}
	links := m.Links()
	var met []int64
	meet := func(q, ref string) error {
		var c int64
		switch err := t.QueryRow(q, acct, ref).Scan(&c); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("find conversation of %q: %w", ref, err)
		case c > 0 && !slices.Contains(met, c):
			met = append(met, c)
		}
		return nil
	}
	var ids []string // the ids linked to, each once
	for _, ref := range links {
		if ref != "" && ref != msgID && !slices.Contains(ids, ref) {
			ids = append(ids, ref)
		}
	}
	if msgID != "" {
		// Messages that link to this one, and copies of it.
		if err := meet(threadIDComp, msgID); err != nil {
			return 0, "", err
		}
		if err := meet(threadMsgComp, msgID); err != nil {
			return 0, "", err
		}
	}
	for _, ref := range ids {
		// Other messages that link to the same id, and that message.
		if err := meet(threadIDComp, ref); err != nil {
			return 0, "", err
		}
		if err := meet(threadMsgComp, ref); err != nil {
			return 0, "", err
		}
	}
	mine := compFirst{sent: received, id: id, subject: keys.BaseSubject}
	if !keys.Date.IsZero() {
		mine.sent = keys.Date.UnixMilli()
	}
	if len(met) == 0 {
		comp, key = id, convKey(id, mine.subject)
	} else if comp, key, err = t.mergeThreads(met, mine); err != nil {
		return 0, "", err
	}
	for _, ref := range ids {
		if _, err := t.Exec(addThreadID, acct, ref, comp); err != nil {
			return 0, "", fmt.Errorf("record conversation id %q: %w", ref, err)
		}
	}
	return comp, key, nil
}

// mergeThreads joins the components met (and a message whose earliest
// is mine) into the oldest of them, and returns it and its key.
func (t *tx) mergeThreads(met []int64, mine compFirst) (comp int64, key string, err error) {
	slices.Sort(met)
	comp = met[0]
	firsts := make([]compFirst, len(met))
	targetRow := false // met[0] has its thread_comps row
	for i, c := range met {
		f := &firsts[i]
		err := t.QueryRow("SELECT first_sent, first_id, subject FROM thread_comps WHERE id = ?", c).Scan(&f.sent, &f.id, &f.subject)
		switch {
		case err == nil:
			targetRow = targetRow || i == 0
		case errors.Is(err, sql.ErrNoRows):
			if *f, err = t.soleFirst(c); err != nil {
				return 0, "", err
			}
		default:
			return 0, "", fmt.Errorf("read conversation %d: %w", c, err)
		}
	}
	best := mine
	for _, f := range firsts {
		if f.before(best) {
			best = f
		}
	}
	switch {
	case !targetRow:
		// A second message joins: the component gets its row.
		if _, err := t.Exec("INSERT INTO thread_comps (id, first_sent, first_id, subject) VALUES (?, ?, ?, ?)",
			comp, best.sent, best.id, best.subject); err != nil {
			return 0, "", fmt.Errorf("record conversation %d: %w", comp, err)
		}
	case best != firsts[0]:
		if _, err := t.Exec("UPDATE thread_comps SET first_sent = ?, first_id = ?, subject = ? WHERE id = ?",
			best.sent, best.id, best.subject, comp); err != nil {
			return 0, "", fmt.Errorf("update conversation %d: %w", comp, err)
		}
	}
	key = convKey(comp, best.subject)
	old := convKey(comp, firsts[0].subject)
	// The live rows whose key changes, before it does: each gets a new
	// modseq in its mailbox and its old conversation is recorded there
	// (rekeyed), so that a list open by conversation replaces both rows.
	// Read by the same index seeks as the updates below.
	rekeyed, err := t.rowsToRekey(met[1:], key)
	if err != nil {
		return 0, "", err
	}
	if old != key {
		more, err := t.rowsToRekey(met[:1], key)
		if err != nil {
			return 0, "", err
		}
		rekeyed = append(rekeyed, more...)
	}
	// The components taken are sought by the index; the one that takes
	// them, maybe long, is read only when its key changes (its earliest
	// message changed subject): a message joining a long conversation
	// does not read it.
	for _, c := range met[1:] {
		for _, q := range []string{
			"UPDATE messages SET thread_comp = ?1, thread = ?2 WHERE id = ?3 AND thread_comp = ?3",
			"UPDATE messages SET thread_comp = ?1, thread = ?2 WHERE thread_comp = ?3 AND thread_comp != id",
			"UPDATE thread_ids SET comp = ?1 WHERE comp = ?3",
			"DELETE FROM thread_comps WHERE id = ?3",
		} {
			if _, err := t.Exec(q, comp, key, c); err != nil {
				return 0, "", fmt.Errorf("merge conversation %d into %d: %w", c, comp, err)
			}
		}
	}
	if old != key {
		for _, q := range []string{
			"UPDATE messages SET thread = ?1 WHERE id = ?2 AND thread_comp = ?2 AND thread != ?1",
			"UPDATE messages SET thread = ?1 WHERE thread_comp = ?2 AND thread_comp != id AND thread != ?1",
		} {
			if _, err := t.Exec(q, key, comp); err != nil {
				return 0, "", fmt.Errorf("re-key conversation %d: %w", comp, err)
			}
		}
	}
	if err := t.noteRekeyed(rekeyed); err != nil {
		return 0, "", err
	}
	return comp, key, nil
}

// soleFirst is the earliest message of component c that has no
// thread_comps row: no second message joined it, so its rows are the
// message that started it and copies of it (Copy keeps the component),
// one body. Its base subject and sent date are in the body's sort keys,
// or its Info for a body stored before them.
func (t *tx) soleFirst(c int64) (compFirst, error) {
	f := compFirst{id: c}
	var bodyID int64
	err := t.QueryRow(`SELECT received, body_id FROM messages WHERE id = ?1 AND thread_comp = ?1
		UNION ALL SELECT received, body_id FROM messages INDEXED BY messages_thread_comp WHERE thread_comp = ?1 AND thread_comp != id
		LIMIT 1`, c).Scan(&f.sent, &bodyID)
	if err != nil {
		return f, fmt.Errorf("read conversation %d: %w", c, err)
	}
	var packed sql.NullString
	var info []byte
	if err := t.QueryRow("SELECT keys FROM sort_keys WHERE body_id = ?", bodyID).Scan(&packed); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("read sort keys of body %d: %w", bodyID, err)
	}
	var k store.SortKeys
	if !packed.Valid || !unpackSortKeys(packed.String, &k) {
		if err := t.QueryRow("SELECT info FROM bodies WHERE id = ?", bodyID).Scan(&info); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return f, fmt.Errorf("read body %d: %w", bodyID, err)
		}
		mi := &message.Info{}
		if len(info) > 0 && json.Unmarshal(info, mi) != nil {
			mi = &message.Info{}
		}
		k = store.SortKeysOf(mi)
	}
	if !k.Date.IsZero() {
		f.sent = k.Date.UnixMilli()
	}
	f.subject = k.BaseSubject
	return f, nil
}

// threadChunk is how many messages one write of fillThreads keys: small
// enough that deliveries waiting for the writer wait little.
const threadChunk = 500

// fillThreads keys the messages stored before threadsSchema (thread_comp
// 0), in chunks of threadChunk in id order, each its own write. Which
// messages are left is in the rows themselves, so a restart goes on
// where it stopped, and deliveries keyed meanwhile end in the same
// conversations (see threadsSchema: the keying does not depend on
// order).
func (s *Store) fillThreads() {
	defer s.bg.Done()
	ctx := context.Background()
	start := time.Now()
	total := 0
	for {
		select {
		case <-s.closing:
			return
		default:
		}
		n, more, err := s.fillThreadsStep(ctx)
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.log.Warn("key stored messages' conversations; retried at next start", "err", err)
			}
			return
		}
		total += n
		if !more {
			if total > 0 {
				s.log.Info("stored messages' conversations keyed", "messages", total, "took", time.Since(start))
			}
			return
		}
	}
}

// fillThreadsStep keys the next chunk of messages not keyed yet; more is
// false once none is left.
func (s *Store) fillThreadsStep(ctx context.Context) (n int, more bool, err error) {
	err = s.writeAlone(ctx, func(t *tx) error {
		// The index on thread_comp holds the rows not keyed (0) in id
		// order: the chunk is a seek, however many rows are keyed.
		rows, err := t.Query(`SELECT m.id, m.account_id, m.mailbox_id, m.message_id, m.received, m.thread, m.expunged_modseq, b.info
			FROM messages m INDEXED BY messages_thread_comp LEFT JOIN bodies b ON b.id = m.body_id
			WHERE m.thread_comp = 0 AND m.thread_comp != m.id ORDER BY m.id LIMIT ?`, threadChunk)
		if err != nil {
			return fmt.Errorf("read messages to key: %w", err)
		}
		type row struct {
			id, acct, mailbox, received int64
			msgID, old                  string
			expunged                    int64
			info                        []byte
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.acct, &r.mailbox, &r.msgID, &r.received, &r.old, &r.expunged, &r.info); err != nil {
				rows.Close()
				return fmt.Errorf("read messages to key: %w", err)
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read messages to key: %w", err)
		}
		var rekeyed []rekeyedRow // live rows whose key this chunk changes
		for _, r := range todo {
			// A body whose Info is missing or unreadable has no keys (a
			// conversation of its own, as IMAP THREAD treats it).
			info := &message.Info{}
			if len(r.info) > 0 && json.Unmarshal(r.info, info) != nil {
				info = &message.Info{}
			}
			keys := store.SortKeysOf(info)
			comp, key, err := t.keyThread(r.acct, r.id, r.msgID, &keys, r.received)
			if err != nil {
				return err
			}
			if _, err := t.Exec("UPDATE messages SET thread_comp = ?, thread = ? WHERE id = ?", comp, key, r.id); err != nil {
				return fmt.Errorf("key message %d: %w", r.id, err)
			}
			if key != r.old && r.expunged == 0 {
				rekeyed = append(rekeyed, rekeyedRow{id: r.id, account: r.acct, mailbox: r.mailbox, old: r.old})
			}
		}
		if err := t.noteRefilled(rekeyed, s.clock.Now()); err != nil {
			return err
		}
		n, more = len(todo), len(todo) == threadChunk
		return nil
	})
	return n, more, err
}

// ConversationOf implements store.Conversations.
func (s *Store) ConversationOf(ctx context.Context, accountID, messageID int64, limit int) ([]store.Message, error) {
	m, err := s.Message(ctx, accountID, messageID)
	if err != nil {
		return nil, err
	}
	var key string
	if err := s.queryRow(ctx, "SELECT thread FROM messages WHERE id = ?", m.ID).Scan(&key); err != nil {
		return nil, fmt.Errorf("conversation of message %d: %w", messageID, err)
	}
	if key == "" {
		return []store.Message{m}, nil
	}
	// The newest limit messages (those of a long conversation worth
	// showing), then oldest first.
	out, err := s.queryMessages(ctx, "INDEXED BY messages_thread WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?) AND thread = ?"+
		" AND expunged_modseq = 0 AND flags & 8 = 0 ORDER BY received DESC, id DESC LIMIT ?", accountID, key, pageLimit(limit))
	slices.Reverse(out)
	return out, err
}
