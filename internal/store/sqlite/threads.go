package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// registerOnce registers the SQL function the schema's triggers call.
// The driver keeps functions per process and gives them to every
// connection it opens; thread_keys is a pure function, so one
// registration serves every Store.
var registerOnce = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction("thread_keys", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var raw []byte
		switch v := args[0].(type) {
		case []byte:
			raw = v
		case string:
			raw = []byte(v)
		}
		return threadKeysOf(raw), nil
	})
})

// threadKeys is what a message's conversation is computed from, as the
// trigger reads it (JSON): the ids that link it into its thread, its
// sent date (unix milliseconds, 0 for none: the arrival time is used)
// and its base subject.
type threadKeys struct {
	Links []string `json:"links"`
	Date  int64    `json:"date"`
	Base  string   `json:"base"`
}

// threadKeysOf derives a body's threadKeys from its stored Info (JSON),
// through store.SortKeysOf and thread.Msg, exactly as IMAP THREAD derives
// them for the same body: the one place that decides both. A body whose
// Info is missing or unreadable has none (a conversation of its own, as
// IMAP THREAD treats it).
func threadKeysOf(raw []byte) string {
	info := &message.Info{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, info); err != nil {
			info = &message.Info{}
		}
	}
	k := store.SortKeysOf(info)
	m := thread.Msg{Date: k.Date, InReplyTo: k.InReplyTo, References: k.References}
	out := threadKeys{Links: m.Links(), Base: k.BaseSubject}
	if out.Links == nil {
		out.Links = []string{}
	}
	if !k.Date.IsZero() {
		out.Date = k.Date.UnixMilli()
	}
	b, err := json.Marshal(out)
	if err != nil {
		// A struct of strings and a number always marshals.
		panic(err)
	}
	return string(b)
}

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
// Step 1 is a union-find kept in tables: thread_ids maps every id an
// account's message has or names to its component (thread_comps), and a
// message whose ids meet several components merges them into the oldest.
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
// is "subject " and that base subject, or "conv " and the component when
// the subject is empty (never merged); a space never occurs in a
// message id, so these never meet a key of an earlier version.
//
// Keys are fixed as messages arrive: an expunge or purge does not split
// a conversation or change its subject (THREAD, run again, would), so a
// conversation does not come apart as its oldest messages age out. When
// a component's last message row is deleted, its ids go with it.
//
// Messages stored before this step are keyed in the background, oldest
// first (fillThreads): their thread_comp is 0 until then.
const threadsSchema = `
ALTER TABLE messages ADD COLUMN thread_comp INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_thread_comp ON messages(thread_comp);
CREATE TABLE thread_comps (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
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
-- Scratch rows of the trigger below, empty between statements: the keys
-- of the message being keyed, its ids, and the components they meet.
CREATE TABLE thread_cur (id INTEGER PRIMARY KEY CHECK (id = 0), keys TEXT NOT NULL);
CREATE TABLE thread_new (msgid TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE thread_merge (comp INTEGER PRIMARY KEY);

DROP TRIGGER messages_thread_root;
-- A new row is keyed by the trigger below.
CREATE TRIGGER messages_thread_root AFTER INSERT ON messages WHEN NEW.thread_comp = 0 BEGIN
	UPDATE messages SET thread_comp = -1 WHERE id = NEW.id;
END;

-- Keys a row whose thread_comp is set to -1 (stored, or refilled).
CREATE TRIGGER messages_thread_key AFTER UPDATE OF thread_comp ON messages WHEN NEW.thread_comp = -1 BEGIN
	INSERT OR REPLACE INTO thread_cur (id, keys) VALUES (0, thread_keys((SELECT info FROM bodies WHERE id = NEW.body_id)));
	INSERT OR IGNORE INTO thread_new (msgid)
		SELECT NEW.message_id WHERE NEW.message_id != ''
		UNION ALL SELECT j.value FROM thread_cur c, json_each(c.keys, '$.links') j WHERE j.value != '';
	INSERT INTO thread_merge (comp) SELECT DISTINCT comp FROM thread_ids
		WHERE account_id = NEW.account_id AND msgid IN (SELECT msgid FROM thread_new);
	-- None met: a component of its own.
	INSERT INTO thread_comps (first_sent, first_id, subject) SELECT 0, 0, '' WHERE NOT EXISTS (SELECT 1 FROM thread_merge);
	-- (Not max(id): an aggregate gives a row, NULL, even when the
	-- condition is false, and a NULL key is given the next rowid.)
	INSERT INTO thread_merge (comp) SELECT id FROM thread_comps WHERE NOT EXISTS (SELECT 1 FROM thread_merge) ORDER BY id DESC LIMIT 1;
	-- The oldest component met takes the others and this message.
	UPDATE thread_comps SET (first_sent, first_id, subject) = (SELECT s, i, b FROM (
			SELECT first_sent AS s, first_id AS i, subject AS b FROM thread_comps
				WHERE id IN (SELECT comp FROM thread_merge) AND first_id != 0
			UNION ALL SELECT coalesce(nullif(json_extract(c.keys, '$.date'), 0), NEW.received), NEW.id, json_extract(c.keys, '$.base')
				FROM thread_cur c)
			ORDER BY s, i LIMIT 1)
		WHERE id = (SELECT min(comp) FROM thread_merge);
	UPDATE messages SET thread_comp = (SELECT min(comp) FROM thread_merge) WHERE id = NEW.id;
	-- (The components taken are sought by the index; the one that takes
	-- them, maybe long, is not read.)
	UPDATE messages SET thread_comp = (SELECT min(comp) FROM thread_merge)
		WHERE thread_comp IN (SELECT comp FROM thread_merge WHERE comp != (SELECT min(comp) FROM thread_merge));
	UPDATE thread_ids SET comp = (SELECT min(comp) FROM thread_merge)
		WHERE comp IN (SELECT comp FROM thread_merge WHERE comp != (SELECT min(comp) FROM thread_merge));
	DELETE FROM thread_comps WHERE id IN (SELECT comp FROM thread_merge) AND id != (SELECT min(comp) FROM thread_merge);
	INSERT OR IGNORE INTO thread_ids (account_id, msgid, comp)
		SELECT NEW.account_id, msgid, (SELECT min(comp) FROM thread_merge) FROM thread_new;
	-- This row, and when components merged or this message is the
	-- earliest (its subject may be the conversation's now) every row of
	-- the component whose key changed, move to their conversation; the
	-- triggers of conversations.go count. Otherwise the index is sought
	-- for no component (-2): a message joining a long conversation does
	-- not read it.
	UPDATE messages SET thread = (SELECT CASE subject WHEN '' THEN 'conv ' || id ELSE 'subject ' || subject END
			FROM thread_comps WHERE id = (SELECT min(comp) FROM thread_merge))
		WHERE id = NEW.id;
	UPDATE messages SET thread = (SELECT CASE subject WHEN '' THEN 'conv ' || id ELSE 'subject ' || subject END
			FROM thread_comps WHERE id = (SELECT min(comp) FROM thread_merge))
		WHERE thread_comp = CASE WHEN (SELECT count(*) FROM thread_merge) > 1
				OR (SELECT first_id FROM thread_comps WHERE id = (SELECT min(comp) FROM thread_merge)) = NEW.id
			THEN (SELECT min(comp) FROM thread_merge) ELSE -2 END
		AND thread != (SELECT CASE subject WHEN '' THEN 'conv ' || id ELSE 'subject ' || subject END
			FROM thread_comps WHERE id = (SELECT min(comp) FROM thread_merge));
	DELETE FROM thread_cur;
	DELETE FROM thread_new;
	DELETE FROM thread_merge;
END;

-- A component's last row purged: its ids go.
CREATE TRIGGER messages_thread_gone AFTER DELETE ON messages WHEN OLD.thread_comp > 0 BEGIN
	DELETE FROM thread_ids WHERE comp = OLD.thread_comp
		AND NOT EXISTS (SELECT 1 FROM messages WHERE thread_comp = OLD.thread_comp);
	DELETE FROM thread_comps WHERE id = OLD.thread_comp
		AND NOT EXISTS (SELECT 1 FROM messages WHERE thread_comp = OLD.thread_comp);
END;
`

// threadChunk is how many messages one write of fillThreads keys: small
// enough that deliveries waiting for the writer wait little.
const threadChunk = 500

// fillThreads keys the messages stored before threadsSchema (thread_comp
// 0), in chunks of threadChunk in id order, each its own write. Which
// messages are left is in the rows themselves, so a restart goes on
// where it stopped, and deliveries keyed meanwhile by the trigger end in
// the same conversations (see threadsSchema: the keying does not depend
// on order).
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
	err = s.write(ctx, func(t *tx) error {
		// The index on thread_comp holds the rows not keyed (0) in id
		// order: the chunk is a seek, however many rows are keyed.
		res, err := t.Exec("UPDATE messages SET thread_comp = -1 WHERE id IN (SELECT id FROM messages WHERE thread_comp = 0 ORDER BY id LIMIT ?)", threadChunk)
		if err != nil {
			return fmt.Errorf("key stored messages' conversations: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return err
		}
		n, more = int(k), k == threadChunk
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
