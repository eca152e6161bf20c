package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// conversationsSchema is the schema step of store.Conversations: each
// message's thread root (messages.thread) and, per mailbox and root, its
// live messages' count, unseen count and newest message (threads), kept
// by triggers on messages so that every path that stores, copies, moves,
// flags, expunges, restores or purges a message keeps them right without
// knowing of them. Pages walk threads_page, never the messages.
//
// The root is computed from the body's parsed Info (bodies.info, JSON
// text: json_extract needs it cast, since a BLOB is read as JSONB): the
// first References id, else In-Reply-To without its brackets, else the
// message's own Message-ID, else '#' and the body id. Rows stored before
// this step get theirs at its end.
const conversationsSchema = `
ALTER TABLE messages ADD COLUMN thread TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_thread ON messages(mailbox_id, thread, received, id) WHERE expunged_modseq = 0;
CREATE TABLE threads (
	mailbox_id INTEGER NOT NULL,
	thread TEXT NOT NULL,
	newest_received INTEGER NOT NULL,
	newest_id INTEGER NOT NULL,
	messages INTEGER NOT NULL,
	unseen INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, thread)
) WITHOUT ROWID;
CREATE INDEX threads_page ON threads(mailbox_id, newest_received, newest_id);

-- A new row gets its root; the update below adds it to its conversation.
CREATE TRIGGER messages_thread_root AFTER INSERT ON messages WHEN NEW.thread = '' BEGIN
	UPDATE messages SET thread = (SELECT coalesce(
			nullif(json_extract(CAST(b.info AS TEXT), '$.refs[0]'), ''),
			nullif(trim(json_extract(CAST(b.info AS TEXT), '$.env.irt'), '<> '), ''),
			nullif(NEW.message_id, ''),
			'#' || NEW.body_id) FROM bodies b WHERE b.id = NEW.body_id)
		WHERE id = NEW.id;
END;

-- A row joins or leaves a conversation (stored, moved, expunged,
-- restored, given its root) or changes its date: it leaves the one it was
-- in and joins its new one, both counted in place. Only when the row that
-- left was its conversation's newest is the next newest looked up: one
-- seek of messages_thread. Nothing here reads a whole conversation, so
-- expunging every copy of one message from a mailbox costs the same per
-- row as any other message.
CREATE TRIGGER messages_thread_move AFTER UPDATE OF expunged_modseq, mailbox_id, thread, received ON messages
	WHEN NOT (OLD.expunged_modseq = 0 AND NEW.expunged_modseq = 0 AND OLD.mailbox_id = NEW.mailbox_id AND OLD.thread = NEW.thread
		AND OLD.received = NEW.received) BEGIN
	UPDATE threads SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0)
		WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread;
	DELETE FROM threads WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread
		AND messages <= 0;
	UPDATE threads SET (newest_received, newest_id) = (SELECT received, id FROM messages INDEXED BY messages_thread
			WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND expunged_modseq = 0 ORDER BY received DESC, id DESC LIMIT 1)
		WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND newest_id = OLD.id;
	INSERT INTO threads (mailbox_id, thread, newest_received, newest_id, messages, unseen)
		SELECT NEW.mailbox_id, NEW.thread, NEW.received, NEW.id, 1, (NEW.flags & 1) = 0 WHERE NEW.expunged_modseq = 0 AND NEW.thread != ''
		ON CONFLICT (mailbox_id, thread) DO UPDATE SET messages = messages + 1, unseen = unseen + excluded.unseen,
			newest_id = CASE WHEN (excluded.newest_received, excluded.newest_id) > (newest_received, newest_id) THEN excluded.newest_id ELSE newest_id END,
			newest_received = max(newest_received, excluded.newest_received);
END;

-- \Seen set or cleared on a row that stays where it is.
CREATE TRIGGER messages_thread_seen AFTER UPDATE OF flags ON messages
	WHEN OLD.expunged_modseq = 0 AND NEW.expunged_modseq = 0 AND OLD.mailbox_id = NEW.mailbox_id AND OLD.thread = NEW.thread
		AND NEW.thread != '' AND (OLD.flags & 1) != (NEW.flags & 1) BEGIN
	UPDATE threads SET unseen = unseen + CASE WHEN NEW.flags & 1 THEN -1 ELSE 1 END
		WHERE mailbox_id = NEW.mailbox_id AND thread = NEW.thread;
END;

-- A live row purged (retention, a mailbox or account removed).
CREATE TRIGGER messages_thread_delete AFTER DELETE ON messages WHEN OLD.expunged_modseq = 0 AND OLD.thread != '' BEGIN
	UPDATE threads SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0)
		WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread;
	DELETE FROM threads WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread
		AND messages <= 0;
	UPDATE threads SET (newest_received, newest_id) = (SELECT received, id FROM messages INDEXED BY messages_thread
			WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND expunged_modseq = 0 ORDER BY received DESC, id DESC LIMIT 1)
		WHERE OLD.expunged_modseq = 0 AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND newest_id = OLD.id;
END;

-- Rows stored before this step.
UPDATE messages SET thread = (SELECT coalesce(
		nullif(json_extract(CAST(b.info AS TEXT), '$.refs[0]'), ''),
		nullif(trim(json_extract(CAST(b.info AS TEXT), '$.env.irt'), '<> '), ''),
		nullif(messages.message_id, ''),
		'#' || messages.body_id) FROM bodies b WHERE b.id = messages.body_id)
	WHERE thread = '';
`

// ConversationPage implements store.Conversations.
func (s *Store) ConversationPage(ctx context.Context, accountID, mailboxID int64, c store.Cursor, limit int) ([]store.Conversation, error) {
	args := []any{mailboxID, accountID}
	cond := ""
	if !c.IsZero() {
		cond = " AND (t.newest_received, t.newest_id) < (?, ?)"
		args = append(args, c.Received.UnixMilli(), c.ID)
	}
	args = append(args, pageLimit(limit))
	rows, err := s.query(ctx, "SELECT t.thread, t.messages, t.unseen, "+qualified("m", messageCols)+
		" FROM threads t INDEXED BY threads_page JOIN messages m ON m.id = t.newest_id"+
		" WHERE t.mailbox_id = (SELECT id FROM mailboxes WHERE id = ? AND account_id = ?)"+cond+
		" ORDER BY t.newest_received DESC, t.newest_id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("list conversations of mailbox %d: %w", mailboxID, err)
	}
	defer rows.Close()
	var out []store.Conversation
	for rows.Next() {
		var cv store.Conversation
		m, err := scanMessage(prefixScan{rows, []any{&cv.Key, &cv.Messages, &cv.Unseen}})
		if err != nil {
			return nil, fmt.Errorf("list conversations of mailbox %d: %w", mailboxID, err)
		}
		cv.Newest = m
		out = append(out, cv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list conversations of mailbox %d: %w", mailboxID, err)
	}
	return orNotFound(s, ctx, accountID, mailboxID, out, nil)
}

// prefixScan scans a row's first columns into pre and the rest into what
// its caller asks for.
type prefixScan struct {
	rows *sql.Rows
	pre  []any
}

func (p prefixScan) Scan(dest ...any) error {
	return p.rows.Scan(append(append([]any(nil), p.pre...), dest...)...)
}

// qualified prefixes each column of a comma-separated list with a table
// alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// threadsInsertSchema is the migration step of keys given at insert
// (issue 13, speed: the row is written once, with its key; threads.go,
// keyThread): a row inserted with its key joins its conversation, as the
// update trigger (messages_thread_move) does for a row given its key
// after the insert.
var threadsInsertSchema = strings.NewReplacer("LIVE(NEW)", live("NEW")).Replace(`
CREATE TRIGGER IF NOT EXISTS messages_thread_insert AFTER INSERT ON messages WHEN LIVE(NEW) AND NEW.thread != '' BEGIN
	INSERT INTO threads (mailbox_id, thread, newest_received, newest_id, messages, unseen)
		VALUES (NEW.mailbox_id, NEW.thread, NEW.received, NEW.id, 1, (NEW.flags & 1) = 0)
		ON CONFLICT (mailbox_id, thread) DO UPDATE SET messages = messages + 1, unseen = unseen + excluded.unseen,
			newest_id = CASE WHEN (excluded.newest_received, excluded.newest_id) > (newest_received, newest_id) THEN excluded.newest_id ELSE newest_id END,
			newest_received = max(newest_received, excluded.newest_received);
END;
`)
