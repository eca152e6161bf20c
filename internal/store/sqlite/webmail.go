package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// maxPage bounds one page of a list, whatever a caller asks.
const maxPage = 500

func pageLimit(limit int) int {
	if limit <= 0 || limit > maxPage {
		return maxPage
	}
	return limit
}

// after is the keyset condition for a newest-first page after c, with its
// arguments; none for the first page. Row values compare as the index
// messages_page orders, so SQLite seeks to the cursor instead of skipping.
func after(c store.Cursor) (string, []any) {
	if c.IsZero() {
		return "", nil
	}
	return " AND (received, id) < (?, ?)", []any{c.Received.UnixMilli(), c.ID}
}

// MessagePage implements store.Webmail.
func (s *Store) MessagePage(ctx context.Context, accountID, mailboxID int64, c store.Cursor, limit int) ([]store.Message, error) {
	cond, args := after(c)
	q := "INDEXED BY messages_page WHERE " + ownedMailbox + " AND expunged_modseq = 0 AND flags & 8 = 0" + cond + " ORDER BY received DESC, id DESC LIMIT ?"
	ms, err := s.queryMessages(ctx, q, append(append([]any{mailboxID, accountID}, args...), pageLimit(limit))...)
	return orNotFound(s, ctx, accountID, mailboxID, ms, err)
}

// DeletedPage implements store.Webmail: the expunged messages and the
// live ones marked \Deleted, each walked newest first by its own partial
// index (messages_deleted_page, messages_marked_page) up to a page, and
// merged. The marked are few (they wait for an EXPUNGE), so their walk
// is short.
func (s *Store) DeletedPage(ctx context.Context, accountID int64, c store.Cursor, limit int) ([]store.Message, error) {
	cond, args := after(c)
	limit = pageLimit(limit)
	args = append(append([]any{accountID}, args...), limit)
	gone, err := s.queryMessages(ctx, "INDEXED BY messages_deleted_page WHERE account_id = ? AND expunged_modseq != 0"+cond+" ORDER BY received DESC, id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	marked, err := s.queryMessages(ctx, "INDEXED BY messages_marked_page WHERE account_id = ? AND "+liveDeleted+cond+" ORDER BY received DESC, id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	out := make([]store.Message, 0, min(len(gone)+len(marked), limit))
	for len(out) < limit && (len(gone) > 0 || len(marked) > 0) {
		if len(marked) == 0 || len(gone) > 0 && newerFirst(gone[0], marked[0]) {
			out, gone = append(out, gone[0]), gone[1:]
		} else {
			out, marked = append(out, marked[0]), marked[1:]
		}
	}
	return out, nil
}

// newerFirst reports whether a comes before b in a newest-first list.
func newerFirst(a, b store.Message) bool {
	ra, rb := a.Received.UnixMilli(), b.Received.UnixMilli()
	return ra > rb || ra == rb && a.ID > b.ID
}

// LiveUnseen implements store.Webmail: each mailbox's unseen counter less
// its unseen messages marked \Deleted, counted by seeks of the partial
// index messages_deleted (only marked rows are read).
func (s *Store) LiveUnseen(ctx context.Context, accountID int64) (map[int64]uint32, error) {
	rows, err := s.query(ctx, `SELECT b.id, b.unseen - (SELECT count(*) FROM messages INDEXED BY messages_deleted
			WHERE mailbox_id = b.id AND `+liveDeleted+` AND flags & 1 = 0)
		FROM mailboxes b WHERE b.account_id = ?`, accountID)
	if err != nil {
		return nil, fmt.Errorf("count unseen messages of account %d: %w", accountID, err)
	}
	defer rows.Close()
	out := map[int64]uint32{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count unseen messages of account %d: %w", accountID, err)
		}
		out[id] = uint32(max(n, 0))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count unseen messages of account %d: %w", accountID, err)
	}
	return out, nil
}

// MessagesByMessageID implements store.Webmail.
func (s *Store) MessagesByMessageID(ctx context.Context, accountID int64, ids []string) ([]store.Message, error) {
	var out []store.Message
	const chunk = 100
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		args := []any{accountID}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		ms, err := s.queryMessages(ctx, "INDEXED BY messages_msgid WHERE account_id = ? AND expunged_modseq = 0 AND flags & 8 = 0 AND message_id != '' AND message_id IN (?"+
			strings.Repeat(", ?", n-1)+") ORDER BY received, id", args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		ids = ids[n:]
	}
	return out, nil
}

// driveByIndex is how many bodies a search's most selective word may
// match for the full-text index to drive the query (each match looked up
// by body, all sorted by date). Above it the account's newest-first index
// is walked, each message tested against the matches (an in-memory set),
// stopping after a page: at 100,000 messages a word in 1,869 bodies took
// 25-130 ms driven by the index and 2-3 ms walked (BenchmarkSearchPage).
const driveByIndex = 200

// SearchPage implements store.Webmail.
func (s *Store) SearchPage(ctx context.Context, accountID int64, q store.MailSearch, c store.Cursor, limit int) ([]store.Message, error) {
	var where strings.Builder
	args := []any{}
	index := "messages_account_page"
	if q.MailboxID != 0 {
		if err := s.checkMailbox(ctx, accountID, q.MailboxID); err != nil {
			return nil, err
		}
		index = "messages_page"
		where.WriteString("m.mailbox_id = ? AND ")
		args = append(args, q.MailboxID)
	}
	where.WriteString("m.account_id = ? AND m.expunged_modseq = 0 AND m.flags & 8 = 0")
	args = append(args, accountID)
	if q.With != 0 {
		where.WriteString(" AND m.flags & ? = ?")
		args = append(args, int64(q.With), int64(q.With))
	}
	if q.Without != 0 {
		where.WriteString(" AND m.flags & ? = 0")
		args = append(args, int64(q.Without))
	}
	if !q.Since.IsZero() {
		where.WriteString(" AND m.received >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.Before.IsZero() {
		where.WriteString(" AND m.received < ?")
		args = append(args, q.Before.UnixMilli())
	}
	if !c.IsZero() {
		where.WriteString(" AND (m.received, m.id) < (?, ?)")
		args = append(args, c.Received.UnixMilli(), c.ID)
	}
	var fts ftsQuery
	if len(q.Terms) > 0 {
		var count int
		if err := s.queryRow(ctx, "SELECT coalesce(sum(messages), 0) FROM mailboxes WHERE account_id = ?", accountID).Scan(&count); err != nil {
			return nil, fmt.Errorf("count messages of account %d: %w", accountID, err)
		}
		var err error
		if fts, err = s.ftsMatch(ctx, q.Terms, count, q.FoldAccents); err != nil {
			return nil, err
		}
	}
	order := " ORDER BY m.received DESC, m.id DESC LIMIT ?"
	cols := "m." + strings.ReplaceAll(messageCols, ", ", ", m.")
	below := s.unindexed.Load()
	switch {
	case fts.match == "":
		return s.queryMessages(ctx, "m INDEXED BY "+index+" WHERE "+where.String()+order, append(args, pageLimit(limit))...)
	case below <= 0 && fts.fewest >= 0 && fts.fewest <= driveByIndex:
		// Few bodies hold the rarest word: start from them.
		// Each body's messages by messages_body: left to itself, SQLite
		// may scan the account's or mailbox's index once per body. Only
		// the ids are sorted (a body shared by many messages gives many
		// rows), and the page's rows read after.
		return s.scanMessages(ctx, "SELECT "+cols+" FROM messages m WHERE m.id IN (SELECT m.id FROM search_fts f CROSS JOIN messages m INDEXED BY messages_body ON m.body_id = f.rowid WHERE search_fts MATCH ? AND "+
			where.String()+order+")"+strings.TrimSuffix(order, " LIMIT ?"), append(append([]any{fts.match}, args...), pageLimit(limit))...)
	case below > 0:
		where.WriteString(" AND (m.body_id <= ? OR m.body_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))")
		args = append(args, below, fts.match)
	default:
		where.WriteString(" AND m.body_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)")
		args = append(args, fts.match)
	}
	return s.queryMessages(ctx, "m INDEXED BY "+index+" WHERE "+where.String()+order, append(args, pageLimit(limit))...)
}

// scanMessages runs a whole query whose columns are messageCols.
func (s *Store) scanMessages(ctx context.Context, query string, args ...any) ([]store.Message, error) {
	return collect("list messages", scanMessage)(s.query(ctx, query, args...))
}
