package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/xtramail/xtramail/internal/store"
)

// insertLogEvents[n] is the statement that writes n events (1 to
// logEventsPerInsert), made once rather than at every append; their
// message_id and subject stay empty (the record's, logsubjects.go). A
// message's events go in one statement: each
// statement run costs the writer its binding and database/sql's
// bookkeeping, and the few forms are prepared once (stmtcache.go).
//
// OR IGNORE: an INSERT that can abort halfway (a NOT NULL constraint)
// and writes several B-trees (the table, its indexes, the daily_stats
// trigger) makes SQLite copy every page it changes into a statement
// journal first, to undo the statement alone: 15% of appendLog's CPU
// (BenchmarkAppendLogCPU). Nothing here can conflict (no value is NULL,
// the id is SQLite's), so nothing is ignored. Not OR FAIL: the outer
// statement's choice overrides the trigger's own INSERT OR IGNORE into
// daily_stats, which conflicts by design.
var insertLogEvents = func() (qs [logEventsPerInsert + 1]string) {
	for n := 1; n <= logEventsPerInsert; n++ {
		qs[n] = `INSERT OR IGNORE INTO msglog (time, status, mail_from, rcpt, size, remote_ip, detail, domain_id, subject_id, account)
	VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
	}
	return qs
}()

// logEventsPerInsert bounds the events of one insertLogEvents: a
// submission's events (submitted, stored, queued) and a few recipients'.
const logEventsPerInsert = 4

func (t *tx) appendLog(events []store.LogEvent) error {
	known := make(map[logKey]int64, 1)
	args := make([]any, 0, 10*min(len(events), logEventsPerInsert))
	for i, e := range events {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		// Every record is appended here: one place bounds what clients
		// put in them (store.BoundLogEvent), after lower case, which can
		// make a text longer.
		e.MailFrom, e.Rcpt, e.Account = strings.ToLower(e.MailFrom), strings.ToLower(e.Rcpt), strings.ToLower(e.Account)
		e = store.BoundLogEvent(e)
		rid, err := t.logSubjectID(logKey{e.MessageID, e.Subject}, known)
		if err != nil {
			return err
		}
		args = append(args, e.Time.UnixMilli(), e.Status, e.MailFrom,
			e.Rcpt, e.Size, e.RemoteIP, e.Detail, e.DomainID, rid, logAccount(e.Account))
		if n := len(args) / 10; n == logEventsPerInsert || i == len(events)-1 {
			if _, err := t.Exec(insertLogEvents[n], args...); err != nil {
				return fmt.Errorf("append message log: %w", err)
			}
			args = args[:0]
		}
	}
	return nil
}

// logAccount is LogEvent.Account as stored: NULL when empty, so that
// msglog_account holds only the records of sub-addresses.
func logAccount(a string) any {
	if a == "" {
		return nil
	}
	return a
}

func (s *Store) AppendLog(ctx context.Context, events ...store.LogEvent) error {
	return s.write(ctx, func(t *tx) error { return t.appendLog(events) })
}

func (s *Store) SearchLog(ctx context.Context, q store.LogQuery) ([]store.LogEvent, error) {
	query, args, ok := logSearch(q)
	if !ok {
		return nil, nil
	}
	return collect("search message log", func(sc scanner) (store.LogEvent, error) {
		var e store.LogEvent
		var ms int64
		err := sc.Scan(&e.ID, &ms, &e.Status, &e.MessageID, &e.Subject, &e.MailFrom, &e.Rcpt, &e.Size, &e.RemoteIP, &e.Detail, &e.DomainID, &e.Account)
		e.Time = time.UnixMilli(ms)
		return e, err
	})(s.query(ctx, query, args...))
}

// logSearch is the query SearchLog runs for q; ok is false when q can
// match nothing (a subject without words, an empty list of domains).
// Apart so that TestLogReadersUseIndexes can read each form's plan.
func logSearch(q store.LogQuery) (query string, args []any, ok bool) {
	var where []string
	if q.Address != "" {
		a := strings.ToLower(strings.TrimSpace(q.Address))
		if n, err := store.NormalizeAddress(a); err == nil {
			a = n // as recorded: an internationalised domain in A-labels
		}
		a = store.LogAddress(a) // as recorded
		// The record of a sub-address's copy is found by the address
		// it stands for too (LogEvent.Account).
		// msglog_rcpt and msglog_from leave out the events the other
		// finds, and say so (logMessagesSchema): each term states its
		// index's condition so that the index serves it.
		cond := "((rcpt = ? AND rcpt != mail_from) OR (mail_from = ? AND mail_from != '') OR account = ?)"
		if q.MessageID != "" {
			// A message's few events are found by its record: the
			// address only filters them ("+" keeps its indexes out of
			// the plan, which otherwise read all of a sender's events).
			cond = "((+rcpt = ? AND rcpt != mail_from) OR (+mail_from = ? AND mail_from != '') OR +account = ?)"
		}
		where = append(where, cond)
		args = append(args, a, a, a)
	}
	if q.MessageID != "" {
		// The Message-ID is its message's record's (logsubjects.go).
		where = append(where, "subject_id IN (SELECT id FROM msglog_messages WHERE message_id = ? AND message_id != '') AND subject_id != 0")
		args = append(args, store.LogMessageID(strings.TrimSpace(q.MessageID)))
	}
	if q.Status != "" {
		where = append(where, "status = ?")
		args = append(args, q.Status)
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, q.Since.UnixMilli())
	}
	if !q.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, q.Until.UnixMilli())
	}
	if q.Subject != "" {
		m := subjectMatch(q.Subject)
		if m == "" {
			return "", nil, false
		}
		// The words are indexed per message record (logsubjects.go).
		where = append(where, "subject_id IN (SELECT rowid FROM msglog_subject_fts WHERE msglog_subject_fts MATCH ?) AND subject_id != 0")
		args = append(args, m)
	}
	if !q.BeforeTime.IsZero() {
		// The same rows as "time < T OR time = T AND id < I", written so
		// that the first term bounds a range of msglog_time: the OR alone
		// is no range, and each next page scanned the index from the
		// newest record down to the cursor (TestLogReadersUseIndexes).
		where = append(where, "time <= ? AND (time < ? OR msglog.id < ?)")
		args = append(args, q.BeforeTime.UnixMilli(), q.BeforeTime.UnixMilli(), q.BeforeID)
	}
	if q.DomainIDs != nil {
		ph := strings.TrimSuffix(strings.Repeat("?,", len(q.DomainIDs)), ",")
		if ph == "" {
			return "", nil, false
		}
		where = append(where, "domain_id IN ("+ph+")")
		for _, id := range q.DomainIDs {
			args = append(args, id)
		}
	}
	query = `SELECT msglog.id, time, status, coalesce(m.message_id, ''), coalesce(m.subject, ''), mail_from, rcpt, size, remote_ip,
		detail, domain_id, coalesce(account, '') FROM msglog LEFT JOIN msglog_messages m ON m.id = subject_id`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query += " ORDER BY time DESC, msglog.id DESC LIMIT ?"
	args = append(args, limit)
	return query, args, true
}

// subjectMatch turns the words of a subject search into an FTS5 query
// that asks for all of them, each quoted so that no word is read as an
// operator; "" when there are no words. Each word must be one token of
// the index's tokenizer: the index keeps no positions (detail=none) and
// refuses a phrase of several.
func subjectMatch(q string) string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !wordRune(r) })
	for i, w := range words {
		words[i] = `"` + w + `"`
	}
	return strings.Join(words, " ")
}

// wordRune reports whether r is part of a word for the subject index:
// a letter or digit, as unicode61 has them. Its tables are older than
// Go's, and a few marks that Unicode made letters since (New Tai Lue's
// vowels, two Vedic signs) separate words there
// (TestSubjectWordsOneToken).
func wordRune(r rune) bool {
	if 0x19b0 <= r && r <= 0x19c9 || r == 0x1cf2 || r == 0x1cf3 {
		return false
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}
