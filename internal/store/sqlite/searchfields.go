package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// searchFieldsSchema keeps each body's top-level From, To, Cc, Bcc and
// Subject fields (message.SearchFields) in the database, so that SEARCH on
// those keys checks the candidates the full-text index gives without
// opening their messages (issue 11 part 6: SEARCH TO at 100,000 messages
// spent most of its time opening a thousand files and decoding their
// Info). Bodies stored before this step are filled in the background, from
// the highest id down (fillSearchFieldsStep); until then a search reads them.
const searchFieldsSchema = `
-- The From, To, Cc, Bcc and Subject fields of each body's top-level
-- header as written (message.SearchFields); a body whose fields are too
-- long has no row, and searches read it.
CREATE TABLE IF NOT EXISTS search_fields (
	body_id INTEGER PRIMARY KEY,
	fields BLOB NOT NULL
);
-- Bodies at or below this id were stored before search_fields existed:
-- fillSearchFields fills them in and lowers the mark.
INSERT OR REPLACE INTO meta VALUES ('search_fields_unfilled_max', (SELECT coalesce(max(id), 0) FROM bodies));
`

const insertSearchFields = "INSERT OR REPLACE INTO search_fields (body_id, fields) VALUES (?, ?)"

// insertSearchFields stores a body's search fields, when they were short
// enough to keep.
func (t *tx) insertSearchFields(bodyID int64, st *message.SearchText) error {
	if !st.FieldsOK {
		return nil
	}
	if _, err := t.Exec(insertSearchFields, bodyID, st.Fields); err != nil {
		return fmt.Errorf("insert search fields of body %d: %w", bodyID, err)
	}
	return nil
}

// SearchFieldRows implements store.SearchFields: the message rows joined
// with their body's fields, one query.
func (s *Store) SearchFieldRows(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.SearchFieldRow, error) {
	cond, args := uidFilterOn("m.uid", ranges)
	rows, err := s.query(ctx, `SELECT `+joinedMessageCols+`, f.fields
		FROM messages m LEFT JOIN search_fields f ON f.body_id = m.body_id
		WHERE m.`+ownedMailbox+` AND m.expunged_modseq = 0`+cond+` ORDER BY m.uid`,
		append([]any{mailboxID, accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list messages with search fields: %w", err)
	}
	defer rows.Close()
	var out []store.SearchFieldRow
	for rows.Next() {
		var r store.SearchFieldRow
		var fields []byte
		if err := scanJoinedMessage(rows, &r.Message, &fields); err != nil {
			return nil, fmt.Errorf("list messages with search fields: %w", err)
		}
		// A NULL column (no row) scans as nil; an empty one as empty.
		r.Fields, r.HasFields = fields, fields != nil
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list messages with search fields: %w", err)
	}
	return orNotFound(s, ctx, accountID, mailboxID, out, nil)
}

// fillFieldsBatch is how many bodies fillSearchFieldsStep fills.
const fillFieldsBatch = 256

// fillSearchFieldsStep fills the bodies just at or below the mark, and
// returns the next mark (0 when none is left).
func (s *Store) fillSearchFieldsStep(ctx context.Context, below int64) (int64, error) {
	rows, err := s.query(ctx, "SELECT id, blob_key, info FROM bodies WHERE id <= ? ORDER BY id DESC LIMIT ?", below, fillFieldsBatch)
	if err != nil {
		return 0, fmt.Errorf("list bodies without search fields: %w", err)
	}
	type filled struct {
		id     int64
		fields []byte
	}
	var todo []filled
	seen, last := 0, int64(0)
	type body struct {
		id   int64
		key  string
		info []byte
	}
	var bodies []body
	for rows.Next() {
		var b body
		if err := rows.Scan(&b.id, &b.key, &b.info); err != nil {
			rows.Close()
			return 0, err
		}
		bodies = append(bodies, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, b := range bodies {
		seen++
		last = b.id
		var info message.Info
		if err := json.Unmarshal(b.info, &info); err != nil {
			s.log.Warn("decode stored message info for search fields", "body", b.id, "err", err)
			continue
		}
		header, err := s.readBlobPrefix(ctx, b.key, info.Part.BodyStart)
		if err != nil {
			// Purged meanwhile, or unreadable: searches read it.
			s.log.Warn("read stored message header for search fields", "body", b.id, "err", err)
			continue
		}
		if f, ok := message.SearchFields(header); ok {
			todo = append(todo, filled{b.id, f})
		}
	}
	next := int64(0)
	if seen == fillFieldsBatch {
		next = last - 1
	}
	err = s.write(ctx, func(t *tx) error {
		for _, f := range todo {
			// A body purged meanwhile gets no row; one indexed
			// meanwhile keeps its own.
			if _, err := t.Exec(`INSERT OR IGNORE INTO search_fields (body_id, fields)
				SELECT ?, ? WHERE EXISTS (SELECT 1 FROM bodies WHERE id = ?)`, f.id, f.fields, f.id); err != nil {
				return fmt.Errorf("fill search fields of body %d: %w", f.id, err)
			}
		}
		_, err := t.Exec("UPDATE meta SET value = ? WHERE key = 'search_fields_unfilled_max'", next)
		return err
	})
	return next, err
}

// readBlobPrefix reads the first n bytes of a blob.
func (s *Store) readBlobPrefix(ctx context.Context, key string, n int64) ([]byte, error) {
	rc, err := s.openBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, n))
}
