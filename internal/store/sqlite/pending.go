package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// live is the condition of a row that counts in a conversation (and that
// the webmail lists): not expunged and not marked \Deleted (flag bit 8),
// for a row alias such as OLD or NEW.
func live(row string) string {
	return "(" + row + ".expunged_modseq = 0 AND " + row + ".flags & 8 = 0)"
}

// pendingSchema is the migration step of store.PendingDeletes: the
// pending deletes, and the conversation triggers of conversationsSchema
// again with "live" meaning also "not marked \Deleted", so that a message
// the webmail deleted (or an IMAP client marked) leaves its conversation
// at once, and comes back on Undo, as its flags change. Conversations
// that hold such messages are counted again.
var pendingSchema = strings.NewReplacer("LIVE(OLD)", live("OLD"), "LIVE(NEW)", live("NEW")).Replace(`
-- One row per message the webmail deleted, until due (unix
-- milliseconds); had_deleted: it carried \Deleted already, which Undo
-- then leaves.
CREATE TABLE pending_deletes (
	message INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL,
	due INTEGER NOT NULL,
	had_deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pending_deletes_due ON pending_deletes(due);

DROP TRIGGER messages_thread_move;
DROP TRIGGER messages_thread_seen;
DROP TRIGGER messages_thread_delete;

CREATE TRIGGER messages_thread_move AFTER UPDATE OF expunged_modseq, mailbox_id, thread, received, flags ON messages
	WHEN (LIVE(OLD) OR LIVE(NEW)) AND NOT (LIVE(OLD) AND LIVE(NEW) AND OLD.mailbox_id = NEW.mailbox_id
		AND OLD.thread = NEW.thread AND OLD.received = NEW.received) BEGIN
	UPDATE threads SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0)
		WHERE LIVE(OLD) AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread;
	DELETE FROM threads WHERE LIVE(OLD) AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread
		AND messages <= 0;
	UPDATE threads SET (newest_received, newest_id) = (SELECT received, id FROM messages INDEXED BY messages_thread
			WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND expunged_modseq = 0 AND flags & 8 = 0
			ORDER BY received DESC, id DESC LIMIT 1)
		WHERE LIVE(OLD) AND OLD.thread != '' AND mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND newest_id = OLD.id;
	INSERT INTO threads (mailbox_id, thread, newest_received, newest_id, messages, unseen)
		SELECT NEW.mailbox_id, NEW.thread, NEW.received, NEW.id, 1, (NEW.flags & 1) = 0 WHERE LIVE(NEW) AND NEW.thread != ''
		ON CONFLICT (mailbox_id, thread) DO UPDATE SET messages = messages + 1, unseen = unseen + excluded.unseen,
			newest_id = CASE WHEN (excluded.newest_received, excluded.newest_id) > (newest_received, newest_id) THEN excluded.newest_id ELSE newest_id END,
			newest_received = max(newest_received, excluded.newest_received);
END;

-- \Seen set or cleared on a row that stays where it is.
CREATE TRIGGER messages_thread_seen AFTER UPDATE OF flags ON messages
	WHEN LIVE(OLD) AND LIVE(NEW) AND OLD.mailbox_id = NEW.mailbox_id AND OLD.thread = NEW.thread
		AND OLD.received = NEW.received AND NEW.thread != '' AND (OLD.flags & 1) != (NEW.flags & 1) BEGIN
	UPDATE threads SET unseen = unseen + CASE WHEN NEW.flags & 1 THEN -1 ELSE 1 END
		WHERE mailbox_id = NEW.mailbox_id AND thread = NEW.thread;
END;

-- A live row purged (retention, a mailbox or account removed).
CREATE TRIGGER messages_thread_delete AFTER DELETE ON messages WHEN LIVE(OLD) AND OLD.thread != '' BEGIN
	UPDATE threads SET messages = messages - 1, unseen = unseen - ((OLD.flags & 1) = 0)
		WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread;
	DELETE FROM threads WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND messages <= 0;
	UPDATE threads SET (newest_received, newest_id) = (SELECT received, id FROM messages INDEXED BY messages_thread
			WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND expunged_modseq = 0 AND flags & 8 = 0
			ORDER BY received DESC, id DESC LIMIT 1)
		WHERE mailbox_id = OLD.mailbox_id AND thread = OLD.thread AND newest_id = OLD.id;
END;

-- Conversations with messages marked \Deleted before this step: counted
-- again without them (one seek per such message, not a scan).
CREATE TEMP TABLE recount AS SELECT DISTINCT mailbox_id, thread FROM messages INDEXED BY messages_deleted
	WHERE expunged_modseq = 0 AND flags & 8 != 0 AND thread != '';
DELETE FROM threads WHERE (mailbox_id, thread) IN (SELECT mailbox_id, thread FROM recount);
INSERT INTO threads (mailbox_id, thread, newest_received, newest_id, messages, unseen)
	SELECT r.mailbox_id, r.thread, n.received, n.id,
		(SELECT count(*) FROM messages WHERE mailbox_id = r.mailbox_id AND thread = r.thread AND expunged_modseq = 0 AND flags & 8 = 0),
		(SELECT count(*) FROM messages WHERE mailbox_id = r.mailbox_id AND thread = r.thread AND expunged_modseq = 0 AND flags & 9 = 0)
	FROM recount r JOIN messages n ON n.id = (SELECT id FROM messages INDEXED BY messages_thread
		WHERE mailbox_id = r.mailbox_id AND thread = r.thread AND expunged_modseq = 0 AND flags & 8 = 0
		ORDER BY received DESC, id DESC LIMIT 1);
DROP TABLE recount;
`)

// setDeletedFlag sets or clears \Deleted on live messages of one mailbox
// under one new modseq, as IMAP STORE does, and tells the change feed.
func (t *tx) setDeletedFlag(mailboxID int64, msgs []mailboxChange, set bool) error {
	if len(msgs) == 0 {
		return nil
	}
	var modseq uint64
	if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", mailboxID).Scan(&modseq); err != nil {
		return notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
	}
	for _, m := range msgs {
		f := m.flags | store.FlagDeleted
		if !set {
			f = m.flags &^ store.FlagDeleted
		}
		if _, err := t.Exec("UPDATE messages SET flags = ?, modseq = ? WHERE id = ?", f, modseq, m.id); err != nil {
			return fmt.Errorf("flag message %d: %w", m.id, err)
		}
		t.changes = append(t.changes, store.Change{AccountID: m.accountID, MailboxID: mailboxID, Kind: store.ChangeFlags, UID: m.uid, ModSeq: modseq})
	}
	return nil
}

// pendingRow is one message of a pending delete, as the write reads it.
type pendingRow struct {
	mailboxChange
	mailboxID  int64
	hadDeleted bool
}

// groupByMailbox keeps the order of first appearance.
func groupByMailbox(rows []pendingRow) (order []int64, by map[int64][]mailboxChange) {
	by = map[int64][]mailboxChange{}
	for _, r := range rows {
		if _, ok := by[r.mailboxID]; !ok {
			order = append(order, r.mailboxID)
		}
		by[r.mailboxID] = append(by[r.mailboxID], r.mailboxChange)
	}
	return order, by
}

// pendingColumns are the columns of a message (aliased m) that a pending
// delete's write reads, in the order of pendingRow.scan.
const pendingColumns = "m.id, m.account_id, m.uid, m.flags, m.size, m.expunged_modseq, m.subject, m.message_id, m.mailbox_id"

// scan reads pendingColumns, then more, from row into r; it returns the
// row's expunged_modseq.
func (r *pendingRow) scan(row interface{ Scan(...any) error }, more ...any) (expunged uint64, err error) {
	dest := append([]any{&r.id, &r.accountID, &r.uid, &r.flags, &r.size, &expunged, &r.subject, &r.messageID, &r.mailboxID}, more...)
	err = row.Scan(dest...)
	return expunged, err
}

// walkPending is the write of DeleteLater and UndoDelete: visit records
// or forgets one id's pending delete and returns its row (nil: skipped);
// the ids of the rows returned are the answer. Then each row that is not
// pending over an earlier \Deleted mark, and whose mark differs from set,
// gets \Deleted set or cleared, one new modseq per mailbox.
func (s *Store) walkPending(ctx context.Context, ids []int64, set bool, visit func(t *tx, id int64) (*pendingRow, error)) ([]int64, error) {
	var out []int64
	err := s.writeBulk(ctx, len(ids), func(t *tx) error {
		out = out[:0]
		var rows []pendingRow
		for _, id := range ids {
			r, err := visit(t, id)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			out = append(out, r.id)
			if !r.hadDeleted && (r.flags&store.FlagDeleted != 0) != set {
				rows = append(rows, *r)
			}
		}
		order, by := groupByMailbox(rows)
		for _, mb := range order {
			if err := t.setDeletedFlag(mb, by[mb], set); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DeleteLater implements store.PendingDeletes.
func (s *Store) DeleteLater(ctx context.Context, accountID int64, ids []int64, due time.Time) ([]int64, error) {
	out, err := s.walkPending(ctx, ids, true, func(t *tx, id int64) (*pendingRow, error) {
		var r pendingRow
		exp, err := r.scan(t.QueryRow("SELECT "+pendingColumns+" FROM messages m WHERE m.id = ? AND m.account_id = ?", id, accountID))
		if err != nil {
			return nil, notFound(err, fmt.Sprintf("message %d", id))
		}
		if exp != 0 {
			return nil, nil
		}
		r.hadDeleted = r.flags&store.FlagDeleted != 0
		if _, err := t.Exec("INSERT INTO pending_deletes (message, account_id, due, had_deleted) VALUES (?, ?, ?, ?) ON CONFLICT (message) DO UPDATE SET due = excluded.due",
			r.id, accountID, due.UnixMilli(), r.hadDeleted); err != nil {
			return nil, fmt.Errorf("record pending delete of message %d: %w", id, err)
		}
		return &r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete messages later: %w", err)
	}
	if len(out) > 0 {
		s.wakePending(due)
	}
	return out, nil
}

// UndoDelete implements store.PendingDeletes.
func (s *Store) UndoDelete(ctx context.Context, accountID int64, ids []int64) ([]int64, error) {
	out, err := s.walkPending(ctx, ids, false, func(t *tx, id int64) (*pendingRow, error) {
		var r pendingRow
		exp, err := r.scan(t.QueryRow("SELECT "+pendingColumns+`, p.had_deleted
			FROM pending_deletes p JOIN messages m ON m.id = p.message WHERE p.message = ? AND p.account_id = ?`, id, accountID), &r.hadDeleted)
		if err != nil {
			return nil, nil // not pending: expunged meanwhile, or never deleted here
		}
		if _, err := t.Exec("DELETE FROM pending_deletes WHERE message = ?", id); err != nil {
			return nil, fmt.Errorf("forget pending delete of message %d: %w", id, err)
		}
		if exp != 0 {
			return nil, nil
		}
		return &r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("undo delete: %w", err)
	}
	return out, nil
}

// RestoreMarked implements store.PendingDeletes.
func (s *Store) RestoreMarked(ctx context.Context, accountID int64, ids []int64) ([]int64, error) {
	var once []int64 // each id once, in order
	for _, id := range ids {
		if !slices.Contains(once, id) {
			once = append(once, id)
		}
	}
	// The log's recipient and folder name, per mailbox (the same in
	// every attempt of the write).
	makers := map[int64]func(mailboxChange) store.LogEvent{}
	out, err := s.walkPending(ctx, once, false, func(t *tx, id int64) (*pendingRow, error) {
		var r pendingRow
		exp, err := r.scan(t.QueryRow("SELECT "+pendingColumns+" FROM messages m WHERE m.id = ? AND m.account_id = ?", id, accountID))
		if err != nil {
			return nil, notFound(err, fmt.Sprintf("message %d", id))
		}
		// A pending delete of it is over either way: brought back now,
		// or expunged already. Whoever set the mark, it goes
		// (hadDeleted stays false).
		if _, err := t.Exec("DELETE FROM pending_deletes WHERE message = ?", id); err != nil {
			return nil, fmt.Errorf("forget pending delete of message %d: %w", id, err)
		}
		if exp != 0 || r.flags&store.FlagDeleted == 0 {
			return nil, nil
		}
		// Logged as Restore logs an expunged message brought back, in
		// the same write: the message log records every restore,
		// whichever way the message had been deleted.
		event, ok := makers[r.mailboxID]
		if !ok {
			if event, err = t.eventMaker(msglog.Restored, r.mailboxID, "restored to"); err != nil {
				return nil, err
			}
			makers[r.mailboxID] = event
		}
		if err := t.appendLog([]store.LogEvent{event(r.mailboxChange)}); err != nil {
			return nil, err
		}
		return &r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore marked messages: %w", err)
	}
	return out, nil
}

// ExpungeDue implements store.PendingDeletes.
func (s *Store) ExpungeDue(ctx context.Context, now time.Time, limit int) (int, error) {
	n := 0
	err := s.writeBulk(ctx, limit, func(t *tx) error {
		n = 0
		rows, err := t.Query(`SELECT p.message, m.id, m.account_id, m.uid, m.flags, m.size, m.expunged_modseq, m.subject, m.message_id, m.mailbox_id
			FROM pending_deletes p INDEXED BY pending_deletes_due LEFT JOIN messages m ON m.id = p.message
			WHERE p.due <= ? ORDER BY p.due LIMIT ?`, now.UnixMilli(), limit)
		if err != nil {
			return fmt.Errorf("find due deletes: %w", err)
		}
		var due []int64
		var expunge []pendingRow
		for rows.Next() {
			var p int64
			var id, accountID, mailboxID, size *int64
			var uid *uint32
			var flags *store.Flags
			var exp *uint64
			var subject, msgID *string
			if err := rows.Scan(&p, &id, &accountID, &uid, &flags, &size, &exp, &subject, &msgID, &mailboxID); err != nil {
				rows.Close()
				return fmt.Errorf("find due deletes: %w", err)
			}
			due = append(due, p)
			// Gone (purged), expunged already (over IMAP), or the
			// mark cleared over IMAP meanwhile: nothing to do.
			if id == nil || *exp != 0 || *flags&store.FlagDeleted == 0 {
				continue
			}
			expunge = append(expunge, pendingRow{mailboxID: *mailboxID, mailboxChange: mailboxChange{id: *id, accountID: *accountID,
				uid: *uid, flags: *flags, size: *size, subject: *subject, messageID: *msgID}})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find due deletes: %w", err)
		}
		for _, p := range due {
			if _, err := t.Exec("DELETE FROM pending_deletes WHERE message = ?", p); err != nil {
				return fmt.Errorf("forget due delete of message %d: %w", p, err)
			}
		}
		order, by := groupByMailbox(expunge)
		for _, mb := range order {
			if err := t.expunge(mb, by[mb]); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("expunge due deletes: %w", err)
	}
	return n, nil
}

// wakePending tells expungePending of a delete due at due.
func (s *Store) wakePending(due time.Time) {
	s.pendingMu.Lock()
	if s.pendingNext.IsZero() || due.Before(s.pendingNext) {
		s.pendingNext = due
	}
	s.pendingMu.Unlock()
	select {
	case s.pendingWake <- struct{}{}:
	default:
	}
}

// nextDue reads the earliest pending delete's due time (zero: none).
func (s *Store) nextDue(ctx context.Context) (time.Time, error) {
	var next *int64
	if err := s.queryRow(ctx, "SELECT min(due) FROM pending_deletes").Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("read pending deletes: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return time.UnixMilli(*next), nil
}

// expungePending runs ExpungeDue when deletes fall due on s.clock: it
// sleeps until the earliest due, read from the table (so deletes pending
// across a restart are expunged after it) and lowered by DeleteLater's
// wakes.
func (s *Store) expungePending() {
	defer s.bg.Done()
	ctx := context.Background()
	next, err := s.nextDue(ctx)
	if err != nil {
		s.log.Warn("pending deletes; retried in a minute", "err", err)
		next = s.clock.Now().Add(time.Minute)
	}
	var pause time.Duration // of real time before the next pass
	for {
		var due <-chan time.Time
		switch {
		case pause > 0:
			due = time.After(pause)
			pause = 0
		case next.IsZero():
			due = s.clock.At(s.clock.Now().Add(time.Hour)) // a look now and then, whatever happened
		default:
			due = s.clock.At(next)
		}
		select {
		case <-s.closing:
			return
		case <-s.pendingWake:
			s.pendingMu.Lock()
			if d := s.pendingNext; !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
			s.pendingNext = time.Time{}
			s.pendingMu.Unlock()
			continue
		case <-due:
		}
		for {
			n, err := s.ExpungeDue(ctx, s.clock.Now(), fillBatch)
			if errors.Is(err, errClosed) {
				return
			}
			if err != nil {
				s.log.Warn("expunge due deletes; retried in a minute", "err", err)
				break
			}
			if n < fillBatch {
				break
			}
		}
		if next, err = s.nextDue(ctx); err != nil {
			s.log.Warn("pending deletes; retried in a minute", "err", err)
			next = s.clock.Now().Add(time.Minute)
		} else if !next.IsZero() && next.Sub(s.clock.Now()) < 100*time.Millisecond {
			// Due now but not expunged: a delete whose write is
			// still on its way, or a failed pass. Not a busy loop:
			// the next pass after 100 ms of real time (a test's
			// clock may not move again).
			pause = 100 * time.Millisecond
		}
	}
}
