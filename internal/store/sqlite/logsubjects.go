package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
)

// logSubjectsSchema is the migration step that indexes the message log's
// subject words once per distinct subject instead of once per record
// (issue 13, speed). A submitted message gets four or more records
// (submitted, stored, queued, delivered), and each of them used to feed
// msglog_fts through a trigger inside its request's savepoint, where FTS5
// flushes its pending terms: about a third of the single writer's time.
// Now each record names its subject's row (subject_id), whose words are
// indexed once, at the end of the group commit like the bodies' words;
// a search by subject word finds the subjects, then their records, so
// its results are the same.
const logSubjectsSchema = `
DROP TRIGGER msglog_fts_add;
DROP TRIGGER msglog_fts_del;
DROP TABLE msglog_fts;
CREATE TABLE msglog_subjects (
	id INTEGER PRIMARY KEY,
	subject TEXT NOT NULL UNIQUE
);
INSERT INTO msglog_subjects (subject) SELECT DISTINCT subject FROM msglog WHERE subject != '';
ALTER TABLE msglog ADD COLUMN subject_id INTEGER NOT NULL DEFAULT 0;
UPDATE msglog SET subject_id = (SELECT s.id FROM msglog_subjects s WHERE s.subject = msglog.subject)
	WHERE subject != '';
CREATE INDEX msglog_subject ON msglog(subject_id);
-- Contentless: the subject is in msglog_subjects, under the same rowid.
CREATE VIRTUAL TABLE msglog_subject_fts USING fts5(subject, content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 2');
INSERT INTO msglog_subject_fts (rowid, subject) SELECT id, subject FROM msglog_subjects;
CREATE TRIGGER msglog_subject_fts_del AFTER DELETE ON msglog_subjects BEGIN
	DELETE FROM msglog_subject_fts WHERE rowid = OLD.id;
END;
`

// The log subjects' statements (hot: every record of a message runs one).
const (
	selectLogSubject = "SELECT id FROM msglog_subjects WHERE subject = ?"
	insertLogSubject = "INSERT INTO msglog_subjects (subject) VALUES (?)"
	insertLogWords   = "INSERT INTO msglog_subject_fts (rowid, subject) VALUES (?, ?)"
	// dropLogSubject deletes a subject no record names any more (after
	// the retention purge of the message log).
	dropLogSubject = "DELETE FROM msglog_subjects WHERE id = ? AND NOT EXISTS (SELECT 1 FROM msglog WHERE subject_id = ?)"
)

// logSubject is a new subject whose words are indexed when its group
// commits, outside the per-request savepoints (see ftsRow).
type logSubject struct {
	id      int64
	subject string
}

// logSubjectID returns the id of a subject's row, adding it (and queueing
// its words for the index) when it is new; 0 for no subject. known holds
// the ids found by this request so far: a message's records share one.
func (t *tx) logSubjectID(subject string, known map[string]int64) (int64, error) {
	if subject == "" {
		return 0, nil
	}
	if id, ok := known[subject]; ok {
		return id, nil
	}
	var id int64
	err := t.QueryRow(selectLogSubject, subject).Scan(&id)
	if err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("find message log subject: %w", err)
		}
		r, err := t.Exec(insertLogSubject, subject)
		if err != nil {
			return 0, fmt.Errorf("add message log subject: %w", err)
		}
		if id, err = r.LastInsertId(); err != nil {
			return 0, fmt.Errorf("add message log subject: %w", err)
		}
		t.logSubjects = append(t.logSubjects, logSubject{id, subject})
	}
	known[subject] = id
	return id, nil
}

// dropLogSubjects deletes the subjects of purged records that no record
// names any more (their words go with them, by trigger).
func (t *tx) dropLogSubjects(ids map[int64]bool) error {
	for id := range ids {
		if _, err := t.Exec(dropLogSubject, id, id); err != nil {
			return fmt.Errorf("drop message log subject %d: %w", id, err)
		}
	}
	return nil
}
