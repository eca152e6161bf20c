package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// rekeyWindow is how long the conversations that rows left by a merge
// are remembered (thread_rekeys): a list whose last update is older
// reads its rows again.
const rekeyWindow = 30 * 24 * time.Hour

// rekeyedRow is a live message row whose conversation key a merge is
// about to change, with the key it had.
type rekeyedRow struct {
	id, account, mailbox int64
	old                  string
}

// rowsToRekey returns the live rows of components comps whose key is
// not key: those the merge that gives them key changes. Each component
// is its first row and the rows the thread_comp index holds, the same
// seeks as the updates that re-key them.
func (t *tx) rowsToRekey(comps []int64, key string) ([]rekeyedRow, error) {
	var out []rekeyedRow
	for _, c := range comps {
		rows, err := t.Query(`SELECT id, account_id, mailbox_id, thread FROM messages WHERE id = ?1 AND thread_comp = ?1
				AND expunged_modseq = 0 AND thread != ?2
			UNION ALL SELECT id, account_id, mailbox_id, thread FROM messages INDEXED BY messages_thread_comp
				WHERE thread_comp = ?1 AND thread_comp != id AND expunged_modseq = 0 AND thread != ?2`, c, key)
		if err != nil {
			return nil, fmt.Errorf("read rows of conversation %d: %w", c, err)
		}
		for rows.Next() {
			var r rekeyedRow
			if err := rows.Scan(&r.id, &r.account, &r.mailbox, &r.old); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read rows of conversation %d: %w", c, err)
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read rows of conversation %d: %w", c, err)
		}
	}
	return out, nil
}

// noteRekeyed makes a merge's re-keyed rows reach whoever follows their
// mailboxes: per mailbox, the rows get one new modseq (so CHANGEDSINCE
// and the webmail's changes name them, RFC 7162 section 3.1: a message's
// mod-sequence may rise whatever of its metadata changed, and its
// conversation is the webmail's), the change feed announces them, and
// the conversations they left are recorded at that modseq
// (RekeyedSince): rows whose conversation changed are found from their
// ids, but the rows they left are not.
//
// A new modseq rather than an event alone: the webmail's lists follow a
// folder by its modseq (ChangedSince), as IMAP clients do, so a change
// that left the modseq where it was would be read by nobody.
func (t *tx) noteRekeyed(rows []rekeyedRow) error {
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b rekeyedRow) int {
		return cmp.Or(cmp.Compare(a.mailbox, b.mailbox), cmp.Compare(a.id, b.id))
	})
	now := time.Now()
	for len(rows) > 0 {
		mb := rows[0].mailbox
		n := 1
		for n < len(rows) && rows[n].mailbox == mb {
			n++
		}
		group := rows[:n]
		rows = rows[n:]
		var modseq uint64
		if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", mb).Scan(&modseq); err != nil {
			return fmt.Errorf("new modseq for re-keyed messages of mailbox %d: %w", mb, err)
		}
		var olds []string
		for _, r := range group {
			var uid uint32
			if err := t.QueryRow("UPDATE messages SET modseq = ? WHERE id = ? RETURNING uid", modseq, r.id).Scan(&uid); err != nil {
				return fmt.Errorf("new modseq for re-keyed message %d: %w", r.id, err)
			}
			t.changes = append(t.changes, store.Change{AccountID: r.account, MailboxID: mb, Kind: store.ChangeFlags, UID: uid, ModSeq: modseq})
			if r.old != "" && !slices.Contains(olds, r.old) {
				olds = append(olds, r.old)
			}
		}
		for _, k := range olds {
			if _, err := t.Exec("INSERT OR IGNORE INTO thread_rekeys (mailbox_id, modseq, thread, at) VALUES (?, ?, ?, ?)",
				mb, modseq, k, now.UnixMilli()); err != nil {
				return fmt.Errorf("record conversation left in mailbox %d: %w", mb, err)
			}
		}
		if err := t.forgetRekeys(mb, now.Add(-rekeyWindow)); err != nil {
			return err
		}
	}
	return nil
}

// noteRefilled makes the background refill's re-keyed rows (fillThreads:
// a database stored before threadsSchema, whose rows carry an older
// key) reach the lists open by conversation, as a merge's do, without a
// new modseq for every row: a CONDSTORE client would then fetch every
// message's flags again (RFC 7162 section 3.1), for a change it cannot
// see. Per mailbox the chunk re-keyed rows in, one of them (the newest)
// gets a new modseq, so that HIGHESTMODSEQ stays the highest of its
// messages' (RFC 7162 section 3.1.2.1) and the change feed announces
// the mailbox, and a mark (an empty thread) is left at that modseq: a list
// whose modseq is older is told by RekeyedSince to read its rows again,
// since the rows' keys changed under it without modseqs to say which.
// A list read after the mark is answered as before. The mark stands for
// every record below it (a list older than it reads its rows anyway), so
// those go: the table holds one mark per mailbox however many chunks the
// refill takes.
func (t *tx) noteRefilled(rows []rekeyedRow, now time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b rekeyedRow) int {
		return cmp.Or(cmp.Compare(a.mailbox, b.mailbox), cmp.Compare(b.id, a.id))
	})
	for i, r := range rows {
		if i > 0 && rows[i-1].mailbox == r.mailbox {
			continue // the newest row of each mailbox comes first
		}
		var modseq uint64
		if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", r.mailbox).Scan(&modseq); err != nil {
			return fmt.Errorf("new modseq for refilled conversations of mailbox %d: %w", r.mailbox, err)
		}
		var uid uint32
		if err := t.QueryRow("UPDATE messages SET modseq = ? WHERE id = ? RETURNING uid", modseq, r.id).Scan(&uid); err != nil {
			return fmt.Errorf("new modseq for refilled message %d: %w", r.id, err)
		}
		t.changes = append(t.changes, store.Change{AccountID: r.account, MailboxID: r.mailbox, Kind: store.ChangeFlags, UID: uid, ModSeq: modseq})
		if _, err := t.Exec("DELETE FROM thread_rekeys WHERE mailbox_id = ? AND modseq < ?", r.mailbox, modseq); err != nil {
			return fmt.Errorf("replace conversation records of mailbox %d: %w", r.mailbox, err)
		}
		if _, err := t.Exec("INSERT INTO thread_rekeys (mailbox_id, modseq, thread, at) VALUES (?, ?, '', ?)", r.mailbox, modseq, now.UnixMilli()); err != nil {
			return fmt.Errorf("mark refilled conversations of mailbox %d: %w", r.mailbox, err)
		}
	}
	return nil
}

// forgetRekeys drops mailbox mb's records older than cutoff, leaving a
// mark (thread ”) at the newest modseq dropped, so that RekeyedSince
// can tell a list it is older than what is remembered.
func (t *tx) forgetRekeys(mb int64, cutoff time.Time) error {
	var upTo sql.NullInt64
	if err := t.QueryRow("SELECT max(modseq) FROM thread_rekeys WHERE mailbox_id = ? AND thread != '' AND at < ?",
		mb, cutoff.UnixMilli()).Scan(&upTo); err != nil {
		return fmt.Errorf("find old conversation records of mailbox %d: %w", mb, err)
	}
	if !upTo.Valid {
		return nil
	}
	if _, err := t.Exec("DELETE FROM thread_rekeys WHERE mailbox_id = ? AND (modseq <= ? OR thread = '')", mb, upTo.Int64); err != nil {
		return fmt.Errorf("forget old conversation records of mailbox %d: %w", mb, err)
	}
	if _, err := t.Exec("INSERT INTO thread_rekeys (mailbox_id, modseq, thread, at) VALUES (?, ?, '', ?)", mb, upTo.Int64, cutoff.UnixMilli()); err != nil {
		return fmt.Errorf("mark old conversation records of mailbox %d forgotten: %w", mb, err)
	}
	return nil
}

// RekeyedSince implements store.ConversationRekeys.
func (s *Store) RekeyedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]store.Conversation, bool, error) {
	if err := s.checkMailbox(ctx, accountID, mailboxID); err != nil {
		return nil, false, err
	}
	rows, err := s.query(ctx, "SELECT DISTINCT thread FROM thread_rekeys WHERE mailbox_id = ? AND modseq > ? ORDER BY thread", mailboxID, modseq)
	if err != nil {
		return nil, false, fmt.Errorf("conversations left in mailbox %d: %w", mailboxID, err)
	}
	var keys []string
	complete := true
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("conversations left in mailbox %d: %w", mailboxID, err)
		}
		if k == "" {
			complete = false
			continue
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("conversations left in mailbox %d: %w", mailboxID, err)
	}
	if !complete {
		return nil, false, nil
	}
	cvs, err := s.conversationRowsByKey(ctx, mailboxID, keys)
	return cvs, true, err
}
