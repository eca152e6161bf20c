package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// insertSortKeys stores one body's sort keys (store.SortKeysOf), in the
// transaction that stores the body.
const insertSortKeys = "INSERT OR REPLACE INTO sort_keys (body_id, keys) VALUES (?, ?)"

func (t *tx) insertSortKeys(bodyID int64, k *store.SortKeys) error {
	if _, err := t.Exec(insertSortKeys, bodyID, packSortKeys(k)); err != nil {
		return fmt.Errorf("insert sort keys of body %d: %w", bodyID, err)
	}
	return nil
}

// keySep separates the fields of packed sort keys. Control characters
// cannot occur in them: packSortKeys turns them into spaces.
const keySep = "\x1f"

// packSortKeys packs the keys into one string: date (unix milliseconds, 0
// for none), reply (0 or 1), base subject, from, to, cc, display from,
// display to, in-reply-to, references (space separated). One column per
// row instead of eleven: reading columns through database/sql was most
// of the cost of listing a 100,000-message mailbox.
func packSortKeys(k *store.SortKeys) string {
	var date int64
	if !k.Date.IsZero() {
		date = k.Date.UnixMilli()
	}
	reply := "0"
	if k.Reply {
		reply = "1"
	}
	clean := strings.NewReplacer(keySep, " ")
	fields := []string{strconv.FormatInt(date, 10), reply, k.BaseSubject, k.From, k.To, k.Cc,
		k.DisplayFrom, k.DisplayTo, k.InReplyTo, strings.Join(k.References, " ")}
	for i := 2; i < len(fields); i++ {
		fields[i] = clean.Replace(fields[i])
	}
	return strings.Join(fields, keySep)
}

// unpackSortKeys reverses packSortKeys; false if p is not such a string.
func unpackSortKeys(p string, k *store.SortKeys) bool {
	var f [10]string
	for i := range 9 {
		j := strings.Index(p, keySep)
		if j < 0 {
			return false
		}
		f[i], p = p[:j], p[j+1:]
	}
	f[9] = p
	date, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return false
	}
	if date != 0 {
		k.Date = time.UnixMilli(date)
	}
	k.Reply = f[1] == "1"
	k.BaseSubject, k.From, k.To, k.Cc = f[2], f[3], f[4], f[5]
	k.DisplayFrom, k.DisplayTo, k.InReplyTo = f[6], f[7], f[8]
	if f[9] != "" {
		k.References = strings.Fields(f[9])
	}
	return true
}

// SortRows implements store.Sorting: the messages with their body's keys,
// one query with a join, in UID order.
func (s *Store) SortRows(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.SortRow, error) {
	var out []store.SortRow
	err := s.EachSortRow(ctx, accountID, mailboxID, ranges, func(r *store.SortRow) { out = append(out, *r) })
	return out, err
}

// sortRowsQuery lists a mailbox's sort rows, cond narrowing the UIDs. It
// takes from messages only columns of messages_sort: the scan reads that
// index, never the table's wide rows (TestSortRowsReadOnlyTheIndex).
func sortRowsQuery(cond string) string {
	return `SELECT m.uid, m.received, m.size, m.message_id, m.body_id, coalesce(k.keys, '')
		FROM messages m INDEXED BY messages_sort LEFT JOIN sort_keys k ON k.body_id = m.body_id
		WHERE m.` + ownedMailbox + ` AND m.expunged_modseq = 0` + cond + ` ORDER BY m.uid`
}

// EachSortRow implements store.Sorting.
func (s *Store) EachSortRow(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange, fn func(*store.SortRow)) error {
	cond, args := uidFilterOn("m.uid", ranges)
	rows, err := s.query(ctx, sortRowsQuery(cond), append([]any{mailboxID, accountID}, args...)...)
	if err != nil {
		return fmt.Errorf("list sort keys: %w", err)
	}
	defer rows.Close()
	var r store.SortRow
	var received int64
	var packed sql.RawBytes // unpacked into one string per row
	n := 0
	for rows.Next() {
		r = store.SortRow{}
		if err := rows.Scan(&r.UID, &received, &r.Size, &r.MessageID, &r.BodyID, &packed); err != nil {
			return fmt.Errorf("list sort keys: %w", err)
		}
		r.Received = time.UnixMilli(received)
		r.HasKeys = len(packed) > 0 && unpackSortKeys(string(packed), &r.Keys)
		fn(&r)
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list sort keys: %w", err)
	}
	if n == 0 {
		return s.checkMailbox(ctx, accountID, mailboxID)
	}
	return nil
}

// fillBatch is how many bodies fillSortKeysStep fills.
const fillBatch = 256

// sortKeysMarkSchema records the highest id of the bodies without sort
// keys, once: every body stored since gets its keys with it, so the
// background fill walks down from there and, once done, costs nothing at
// the next start (it used to look for bodies without keys among all of
// them at every start: a quarter of a second of CPU at 100,000 messages,
// beside the first SORT after a restart).
const sortKeysMarkSchema = `INSERT OR REPLACE INTO meta VALUES ('sort_keys_unfilled_max',
	(SELECT coalesce(max(id), 0) FROM bodies b WHERE NOT EXISTS (SELECT 1 FROM sort_keys k WHERE k.body_id = b.id)));`

// fillSortKeysStep fills the bodies just at or below the mark that have
// no keys, and returns the next mark (0 when none is left).
func (s *Store) fillSortKeysStep(ctx context.Context, below int64) (int64, error) {
	rows, err := s.query(ctx, `SELECT b.id, CASE WHEN k.body_id IS NULL THEN b.info END FROM bodies b
		LEFT JOIN sort_keys k ON k.body_id = b.id WHERE b.id <= ? ORDER BY b.id DESC LIMIT ?`, below, fillBatch)
	if err != nil {
		return 0, fmt.Errorf("list bodies without sort keys: %w", err)
	}
	type keyed struct {
		id   int64
		keys store.SortKeys
	}
	var todo []keyed
	var last int64
	seen := 0
	for rows.Next() {
		seen++
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return 0, err
		}
		last = id
		if raw == nil {
			continue // has keys
		}
		var info message.Info
		if err := json.Unmarshal(raw, &info); err != nil {
			s.log.Warn("decode stored message info for sort keys", "body", id, "err", err)
			continue
		}
		todo = append(todo, keyed{id, store.SortKeysOf(&info)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	next := int64(0)
	if seen == fillBatch {
		next = last - 1
	}
	err = s.write(ctx, func(t *tx) error {
		for i := range todo {
			// A body purged meanwhile gets no keys.
			var one int
			if err := t.QueryRow("SELECT 1 FROM bodies WHERE id = ?", todo[i].id).Scan(&one); err != nil {
				continue
			}
			if err := t.insertSortKeys(todo[i].id, &todo[i].keys); err != nil {
				return err
			}
		}
		_, err := t.Exec("UPDATE meta SET value = ? WHERE key = 'sort_keys_unfilled_max'", next)
		return err
	})
	return next, err
}
