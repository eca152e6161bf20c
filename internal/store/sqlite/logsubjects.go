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
// its results are the same. logMessagesSchema replaced the subjects'
// rows with one record per message.
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

// logMessagesSchema is the migration step that gives the message log one
// record per message, holding what all its events share: the Message-ID
// and the subject (issue 13, speed). A submitted message gets four events
// (submitted, stored, queued, delivered), and each used to carry both
// and enter msglog_msgid and msglog_subject on its own, while its subject
// had a row of msglog_subjects found through a UNIQUE index on the text:
// three B-trees with random keys, and pages of them dirtied by every
// commit. Now each event names its message's record (msglog.subject_id,
// the column's name from when it named a subject), found by Message-ID
// once per request; the record's words are indexed once, as the
// subjects' were; a search by Message-ID or subject word finds the
// records, then their events through msglog_message, so its results are
// the same.
//
// msglog_rcpt and msglog_from leave out the events that a search by
// address finds through the other: an event whose recipient is its
// sender (the Sent copy's "stored") is found by the sender, and those
// without a sender (sign-ins) by their address in rcpt. The searches
// state these conditions so that the partial indexes apply.
//
// Every statement can run twice (TestThreadsUpgrade winds user_version
// back and runs the later steps again): on the second run no event holds
// a Message-ID or subject of its own, and the word index is built again
// from the records.
const logMessagesSchema = `
CREATE TABLE IF NOT EXISTS msglog_messages (
	id INTEGER PRIMARY KEY,
	message_id TEXT NOT NULL,
	subject TEXT NOT NULL
);
CREATE INDEX msglog_messages_pair ON msglog_messages(message_id, subject);
INSERT INTO msglog_messages (message_id, subject)
	SELECT DISTINCT message_id, subject FROM msglog WHERE message_id != '' OR subject != '';
UPDATE msglog SET message_id = '', subject = '', subject_id = (SELECT max(m.id) FROM msglog_messages m
		WHERE m.message_id = msglog.message_id AND m.subject = msglog.subject)
	WHERE message_id != '' OR subject != '';
DROP INDEX msglog_messages_pair;
CREATE INDEX IF NOT EXISTS msglog_messages_msgid ON msglog_messages(message_id) WHERE message_id != '';
DROP TABLE IF EXISTS msglog_subjects;
DROP TABLE IF EXISTS msglog_subject_fts;
-- Contentless: the subject is in msglog_messages, under the same rowid.
-- detail=none: which records hold each word, not where; a search asks
-- for words (subjectMatch), never a phrase, and each commit that adds
-- records writes and merges smaller segments. columnsize=0: no row of
-- _docsize per record (a page each commit), which only ranking reads;
-- a record's words are deleted by the 'delete' command instead, with
-- its subject, which never changes.
CREATE VIRTUAL TABLE msglog_subject_fts USING fts5(subject, content='', columnsize=0, detail=none,
	tokenize='` + logWordsTokenizer + `');
-- automerge 2 (FTS5's default is 4): each commit adds a segment of a few
-- records, and merging them two by two wrote 7% less per message
-- (BenchmarkAppendLog, 10,000 messages: 95.5 -> 88.5 KiB).
INSERT INTO msglog_subject_fts (msglog_subject_fts, rank) VALUES ('automerge', 2);
INSERT INTO msglog_subject_fts (rowid, subject) SELECT id, subject FROM msglog_messages WHERE subject != '';
CREATE TRIGGER IF NOT EXISTS msglog_messages_gone AFTER DELETE ON msglog_messages WHEN OLD.subject != '' BEGIN
	INSERT INTO msglog_subject_fts (msglog_subject_fts, rowid, subject) VALUES ('delete', OLD.id, OLD.subject);
END;
DROP INDEX IF EXISTS msglog_msgid;
DROP INDEX IF EXISTS msglog_subject;
CREATE INDEX IF NOT EXISTS msglog_message ON msglog(subject_id) WHERE subject_id != 0;
DROP INDEX IF EXISTS msglog_rcpt;
CREATE INDEX msglog_rcpt ON msglog(rcpt, time) WHERE rcpt != mail_from;
DROP INDEX IF EXISTS msglog_from;
CREATE INDEX msglog_from ON msglog(mail_from, time) WHERE mail_from != '';
`

// logWordsTokenizer is how msglog_subject_fts splits subjects into words.
const logWordsTokenizer = "unicode61 remove_diacritics 2"

// The message records' statements (hot: every request that logs runs
// them; hotQueries names them).
const (
	// selectLogSubject finds the newest record of a Message-ID: a
	// message's later events (delivered, deferred) share it when the
	// subject is the same too.
	selectLogSubject = "SELECT id, subject FROM msglog_messages WHERE message_id = ? AND message_id != '' ORDER BY id DESC LIMIT 1"
	// OR FAIL, no statement journal: see insertLogEvents.
	insertLogSubject = "INSERT OR FAIL INTO msglog_messages (message_id, subject) VALUES (?, ?)"
	insertLogWords   = "INSERT INTO msglog_subject_fts (rowid, subject) VALUES (?, ?)"
	// dropLogSubject deletes a record no event names any more (after
	// the retention purge of the message log).
	dropLogSubject = "DELETE FROM msglog_messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM msglog WHERE subject_id = ? AND subject_id != 0)"
)

// logSubject is a new record whose subject's words are indexed when its
// group commits, outside the per-request savepoints (see ftsRow).
type logSubject struct {
	id      int64
	subject string
}

// logKey is what the events of one message share.
type logKey struct{ messageID, subject string }

// logSubjectID returns the id of the record of an event's message
// (msglog_messages), adding it (and queueing its subject's words for the
// index) when there is none; 0 for an event about no message. known
// holds the records this request used so far: a message's events share
// one. An event without a Message-ID gets a record of its own per
// request: there is nothing to find it by.
func (t *tx) logSubjectID(k logKey, known map[logKey]int64) (int64, error) {
	if k.messageID == "" && k.subject == "" {
		return 0, nil
	}
	if id, ok := known[k]; ok {
		return id, nil
	}
	var id int64
	if k.messageID != "" {
		var subject string
		err := t.QueryRow(selectLogSubject, k.messageID).Scan(&id, &subject)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, fmt.Errorf("find message log record of %s: %w", k.messageID, err)
		case subject != k.subject:
			id = 0 // the same Message-ID on another message
		}
	}
	if id == 0 {
		r, err := t.Exec(insertLogSubject, k.messageID, k.subject)
		if err != nil {
			return 0, fmt.Errorf("add message log record: %w", err)
		}
		if id, err = r.LastInsertId(); err != nil {
			return 0, fmt.Errorf("add message log record: %w", err)
		}
		if k.subject != "" {
			t.logSubjects = append(t.logSubjects, logSubject{id, k.subject})
		}
	}
	known[k] = id
	return id, nil
}

// dropLogSubjects deletes the records of purged events that no event
// names any more (their words go with them, by trigger).
func (t *tx) dropLogSubjects(ids map[int64]bool) error {
	for id := range ids {
		if _, err := t.Exec(dropLogSubject, id, id); err != nil {
			return fmt.Errorf("drop message log record %d: %w", id, err)
		}
	}
	return nil
}
