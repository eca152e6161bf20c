package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// insertFTS indexes one body's words, by column (see search_fts in
// schema.go).
const insertFTS = "INSERT INTO search_fts (rowid, subject, hfrom, hto, hcc, hbcc, header, body, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

// ftsRow is a body's words for the full-text index. FTS5 flushes its
// pending terms at every savepoint, so rows are indexed once per group
// commit, outside the per-request savepoints: one index segment per batch
// instead of one per message.
type ftsRow struct {
	bodyID int64
	text   message.SearchText
}

func (t *tx) insertFTS(r ftsRow) error {
	partial := ""
	if r.text.Partial {
		partial = "1"
	}
	st := &r.text
	if _, err := t.Exec(insertFTS, r.bodyID, st.Subject, st.From, st.To, st.Cc, st.Bcc, st.Header, st.Body, partial); err != nil {
		return err
	}
	// The fields that SEARCH FROM, TO, CC, BCC and SUBJECT check go
	// with the index (searchfields.go).
	return t.insertSearchFields(r.bodyID, st)
}

// words returns the indexed words of a row, for the vocabulary.
func (r *ftsRow) words() []string {
	st := &r.text
	var out []string
	for _, col := range []string{st.Subject, st.From, st.To, st.Cc, st.Bcc, st.Header, st.Body} {
		out = append(out, strings.Fields(col)...)
	}
	return out
}

// ftsColumn is the search_fts column of a field; "" for all columns.
func ftsColumn(t store.SearchTerm) string {
	switch t.Field {
	case store.SearchBody:
		return "body"
	case store.SearchSubject:
		return "subject"
	case store.SearchFrom:
		return "hfrom"
	case store.SearchTo:
		return "hto"
	case store.SearchCc:
		return "hcc"
	case store.SearchBcc:
		return "hbcc"
	case store.SearchHeader:
		switch strings.ToLower(t.Header) {
		case "subject":
			return "subject"
		case "from":
			return "hfrom"
		case "to":
			return "hto"
		case "cc":
			return "hcc"
		case "bcc":
			return "hbcc"
		}
		return "header"
	}
	return ""
}

// maxAlternatives bounds the indexed words one word of a search string may
// stand for: a fragment in more words than that narrows little, and is
// left out of the query.
const maxAlternatives = 1000

// SearchCandidates implements store.Store. Each word of each term's value
// (message.IndexWords) must be a substring of an indexed word in the
// term's column: the index's words that contain it are found in the
// in-memory vocabulary and ORed in the FTS5 query, since IMAP SEARCH
// matches substrings (RFC 9051 6.4.4). Bodies indexed only in part, and
// bodies older than the index not yet indexed, are always candidates.
func (s *Store) SearchCandidates(ctx context.Context, accountID, mailboxID int64, terms []store.SearchTerm) ([]uint32, error) {
	if err := s.checkMailbox(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	var count int
	if err := s.queryRow(ctx, "SELECT messages FROM mailboxes WHERE id = ?", mailboxID).Scan(&count); err != nil {
		return nil, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
	}
	q, err := s.ftsMatch(ctx, terms, count, false)
	if err != nil {
		return nil, err
	}
	if q.match == "" {
		// Nothing to narrow with (punctuation, or fragments in too many
		// words): every live message is a candidate.
		return s.UIDs(ctx, accountID, mailboxID)
	}
	// Which side drives the query: the index's matches when they are
	// fewer than the mailbox's messages (each is then looked up by body),
	// else the mailbox's messages, each checked against the matches. The
	// index spans every mailbox of every account, so a common word can
	// match far more bodies than one mailbox holds.
	if below := s.unindexed.Load(); below <= 0 && q.fewest >= 0 && q.fewest <= count {
		return scanUIDs(s.query(ctx, searchByIndex, q.match, mailboxID))
	}
	if below := s.unindexed.Load(); below > 0 {
		return scanUIDs(s.query(ctx, `SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND m.expunged_modseq = 0
			AND (m.body_id <= ? OR m.body_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)) ORDER BY m.uid`,
			mailboxID, below, q.match))
	}
	return scanUIDs(s.query(ctx, `SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND m.expunged_modseq = 0
		AND m.body_id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?) ORDER BY m.uid`, mailboxID, q.match))
}

// searchByIndex lists a mailbox's live messages whose bodies match an
// FTS5 query, starting from the matching bodies. INDEXED BY: without
// statistics SQLite took messages_uid for the mailbox term and scanned
// the whole mailbox once per matching body (SEARCH TEXT on a word in 100
// of 100,000 messages: 23 s instead of 4 ms).
const searchByIndex = `SELECT m.uid FROM search_fts f CROSS JOIN messages m INDEXED BY messages_body ON m.body_id = f.rowid
	WHERE search_fts MATCH ? AND m.mailbox_id = ? AND m.expunged_modseq = 0 ORDER BY m.uid`

// ftsQuery is what the full-text index makes of a list of search terms.
type ftsQuery struct {
	// match is the FTS5 MATCH expression for the bodies that may contain
	// every term; "" when nothing narrows (every message is a candidate).
	match string
	// fewest is the fewest bodies, across the store, that one clause of
	// match may select (-1 when unknown): small means the index should
	// drive the query.
	fewest int
}

// ftsMatch builds the index query for terms over a set of count messages
// (a mailbox, an account). Each word of each term's value
// (message.IndexWords) must be a substring of an indexed word in the
// term's column: the index's words that contain it are found in the
// in-memory vocabulary and ORed, since IMAP SEARCH matches substrings.
// With foldAccents, each word is taken without its accents and stands
// also for the indexed words that are the same without theirs
// (message.FoldAccents, the webmail's search).
func (s *Store) ftsMatch(ctx context.Context, terms []store.SearchTerm, count int, foldAccents bool) (ftsQuery, error) {
	if err := s.vocab.ensure(ctx, s); err != nil {
		return ftsQuery{}, err
	}
	type clause struct {
		expr string
		docs int // at most this many bodies match it
	}
	var all []clause
	none := false // a word is in no indexed word: only partial bodies can match
	fewest := -1  // the fewest bodies a clause may match, across the store
	look := s.vocab.containing
	if foldAccents {
		look = s.vocab.containingBase
	}
	need := func(col, word string) {
		vocab, docs := look(word, maxAlternatives)
		if len(vocab) == 0 {
			none = true
			return
		}
		if len(vocab) > maxAlternatives {
			return
		}
		if fewest < 0 || docs < fewest {
			fewest = docs
		}
		for i, v := range vocab {
			vocab[i] = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
		}
		c := "(" + strings.Join(vocab, " OR ") + ")"
		if col != "" {
			c = col + " : " + c
		}
		all = append(all, clause{c, docs})
	}
	for _, t := range terms {
		col := ftsColumn(t)
		if col == "header" {
			// The field's name is in the header column too.
			message.IndexWords(t.Header, func(w string) { need(col, w) })
		}
		v := t.Value
		if foldAccents {
			v = message.FoldAccents(v)
		}
		message.IndexWords(v, func(w string) { need(col, w) })
	}
	if none {
		return ftsQuery{match: `partial : "1"`, fewest: 0}, nil
	}
	// A clause far less selective than the most selective one costs
	// reading its long list of bodies and narrows little ("example" and
	// "net" of FROM "s42@example.net"): it is left to the check.
	var clauses []string
	for _, c := range all {
		if c.docs <= 16*fewest || c.docs <= count/8 {
			clauses = append(clauses, c.expr)
		}
	}
	if len(clauses) == 0 {
		return ftsQuery{fewest: -1}, nil
	}
	return ftsQuery{match: "(" + strings.Join(clauses, " AND ") + `) OR partial : "1"`, fewest: fewest}, nil
}

// reindexBatch is how many bodies one step of reindex indexes.
const reindexBatch = 64

// reindex indexes, in the background, the bodies stored before the
// search_fts index existed, newest first, a batch per write, lowering
// the search_unindexed_max mark as it goes: searches take the bodies at
// or below the mark as candidates, so they miss nothing meanwhile.
func (s *Store) reindex() {
	defer s.bg.Done()
	ctx := context.Background()
	for {
		select {
		case <-s.closing:
			return
		default:
		}
		below := s.unindexed.Load()
		if below <= 0 {
			return
		}
		n, err := s.reindexStep(ctx, below)
		if err != nil {
			if !errors.Is(err, errClosed) {
				s.log.Error("index stored messages for search; retried at next start", "err", err)
			}
			return
		}
		if n == 0 {
			return
		}
	}
}

// reindexStep indexes the bodies just at or below the mark, and returns
// how many it looked at.
func (s *Store) reindexStep(ctx context.Context, below int64) (int, error) {
	rows, err := s.query(ctx, "SELECT id, blob_key FROM bodies WHERE id <= ? ORDER BY id DESC LIMIT ?", below, reindexBatch)
	if err != nil {
		return 0, fmt.Errorf("list bodies to index: %w", err)
	}
	type body struct {
		id  int64
		key string
	}
	var bodies []body
	for rows.Next() {
		var b body
		if err := rows.Scan(&b.id, &b.key); err != nil {
			rows.Close()
			return 0, err
		}
		bodies = append(bodies, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	next := int64(0) // nothing left below
	if len(bodies) == reindexBatch {
		next = bodies[len(bodies)-1].id - 1
	}
	var index []ftsRow
	for _, b := range bodies {
		raw, err := s.readBlob(ctx, b.key)
		if err != nil {
			// Purged meanwhile, or unreadable: a body with no row is
			// no candidate, and FETCH reports the unreadable one.
			s.log.Warn("index stored message for search", "body", b.id, "err", err)
			continue
		}
		index = append(index, ftsRow{b.id, message.Parse(raw).Search})
	}
	err = s.write(ctx, func(t *tx) error {
		t.index = append(t.index, index...)
		_, err := t.Exec("UPDATE meta SET value = ? WHERE key = 'search_unindexed_max'", next)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.unindexed.Store(next)
	return len(bodies), nil
}

func (s *Store) readBlob(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.openBlob(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
