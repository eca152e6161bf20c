package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// unref drops one reference to a body. The last one deletes the row, its
// index entry and, once the transaction commits, its blob. It reports the
// bytes freed.
func (t *tx) unref(s *Store, bodyID int64) (int64, error) {
	var refs, size int64
	var key string
	err := t.QueryRow("UPDATE bodies SET refs = refs - 1 WHERE id = ? RETURNING refs, size, blob_key", bodyID).Scan(&refs, &size, &key)
	if err != nil {
		return 0, fmt.Errorf("unref body %d: %w", bodyID, err)
	}
	if refs > 0 {
		return 0, nil
	}
	for _, q := range []string{"DELETE FROM bodies WHERE id = ?", "DELETE FROM search_fts WHERE rowid = ?", "DELETE FROM sort_keys WHERE body_id = ?", "DELETE FROM search_fields WHERE body_id = ?"} {
		if _, err := t.Exec(q, bodyID); err != nil {
			return 0, fmt.Errorf("delete body %d: %w", bodyID, err)
		}
	}
	// The blob goes only after commit, and only when no other body
	// refers to it (draftshare.go); blob_trash remembers it across a
	// crash in between.
	if err := t.releaseBlob(key); err != nil {
		return 0, fmt.Errorf("release blob of body %d: %w", bodyID, err)
	}
	s.infos.drop(bodyID)
	return size, nil
}

// emptyTrash deletes blobs of purged bodies (again: Delete of a missing
// blob is fine) and forgets them.
func (s *Store) emptyTrash(ctx context.Context, limit int) error {
	keys, err := collect("list blob trash", scanOne[string])(s.query(ctx, "SELECT key FROM blob_trash LIMIT ?", limit))
	if err != nil || len(keys) == 0 {
		return err
	}
	var done []string
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			s.log.Warn("delete purged body", "key", k, "err", err)
			continue
		}
		done = append(done, k)
	}
	return s.write(ctx, func(t *tx) error {
		for _, k := range done {
			if _, err := t.Exec("DELETE FROM blob_trash WHERE key = ?", k); err != nil {
				return fmt.Errorf("forget trashed blob: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) Purge(ctx context.Context, now, logBefore time.Time, limit int) (store.PurgeResult, error) {
	if limit <= 0 {
		limit = 500
	}
	var res store.PurgeResult
	if err := s.emptyTrash(ctx, limit); err != nil {
		return res, err
	}

	domains, err := s.Domains(ctx)
	if err != nil {
		return res, err
	}
	for _, d := range domains {
		cutoff := now.Add(-time.Duration(d.RetentionDays) * 24 * time.Hour)
		err := s.writeAlone(ctx, func(t *tx) error {
			r, err := t.purgeDomain(s, d, now, cutoff, limit-res.Messages)
			if err != nil {
				return err
			}
			res.Messages += r.Messages
			res.Bodies += r.Bodies
			res.Bytes += r.Bytes
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("purge domain %s: %w", d.Name, err)
		}
		if res.Messages >= limit {
			return res, nil
		}
	}

	err = s.writeAlone(ctx, func(t *tx) error {
		// Each record's subject goes when no record names it any more
		// (logsubjects.go).
		rows, err := t.Query(purgeLog, logBefore.UnixMilli(), limit)
		if err != nil {
			return err
		}
		subjects := map[int64]bool{}
		n := 0
		for rows.Next() {
			var sid int64
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return err
			}
			n++
			if sid != 0 {
				subjects[sid] = true
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		res.Events = n
		if err := t.dropLogSubjects(subjects); err != nil {
			return err
		}
		res.Sends, err = t.pruneSends(now, limit)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("purge message log: %w", err)
	}
	return res, nil
}

// purgeDomain purges up to limit messages of domain d that arrived
// before cutoff. now stamps what the purge records: its log events and
// the vanished list, whose age QRESYNC's pruning reads.
//
// The window counts from arrival, not INTERNALDATE: an APPEND keeps the
// client's date, so mail a user dragged in from the primary mailbox was
// purged at the next pass. A message never arrives before its
// INTERNALDATE (addMessage), so the candidates are taken by the
// INTERNALDATE index (messages_retention) and those that arrived within
// the window are passed over; arrived 0 (a message the service dated
// itself, or one stored before arrivals were kept) counts as at
// INTERNALDATE. No index is written per message for it.
func (t *tx) purgeDomain(s *Store, d store.Domain, now, cutoff time.Time, limit int) (store.PurgeResult, error) {
	var res store.PurgeResult
	rows, err := t.Query(`SELECT m.id, m.account_id, m.mailbox_id, m.uid, m.flags, m.size, m.expunged_modseq,
			m.body_id, m.subject, m.message_id, a.address
		FROM messages m INDEXED BY messages_retention JOIN accounts a ON a.id = m.account_id
		WHERE m.domain_id = ? AND m.received < ? AND m.arrived < ? LIMIT ?`, d.ID, cutoff.UnixMilli(), cutoff.UnixMilli(), limit)
	if err != nil {
		return res, err
	}
	type victim struct {
		mailboxChange
		mailboxID, bodyID int64
		address           string
	}
	var vs []victim
	for rows.Next() {
		var v victim
		var exp uint64
		if err := rows.Scan(&v.id, &v.accountID, &v.mailboxID, &v.uid, &v.flags, &v.size, &exp, &v.bodyID, &v.subject, &v.messageID, &v.address); err != nil {
			rows.Close()
			return res, err
		}
		v.expunged = exp != 0
		vs = append(vs, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	var events []store.LogEvent
	for _, v := range vs {
		// The message's duplicate key leaves with it: a copy arriving
		// after the window is stored again.
		for _, q := range []string{"DELETE FROM messages WHERE id = ?", "DELETE FROM dedup WHERE message = ?"} {
			if _, err := t.Exec(q, v.id); err != nil {
				return res, err
			}
		}
		if !v.expunged {
			// A live message leaving is an expunge for IMAP sessions.
			var modseq uint64
			if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", v.mailboxID).Scan(&modseq); err != nil {
				return res, err
			}
			if _, err := t.Exec("INSERT OR REPLACE INTO vanished (mailbox_id, uid, modseq, at) VALUES (?, ?, ?, ?)", v.mailboxID, v.uid, modseq, now.UnixMilli()); err != nil {
				return res, err
			}
			if err := t.count(v.mailboxID, -1, v.mailboxChange); err != nil {
				return res, err
			}
			t.changes = append(t.changes, store.Change{AccountID: v.accountID, MailboxID: v.mailboxID, Kind: store.ChangeExpunge, UID: v.uid, ModSeq: modseq})
		}
		freed, err := t.unref(s, v.bodyID)
		if err != nil {
			return res, err
		}
		if freed > 0 {
			res.Bodies++
			res.Bytes += freed
		}
		res.Messages++
		events = append(events, store.LogEvent{Time: now, Status: msglog.Purged, MessageID: v.messageID, Subject: v.subject,
			Rcpt: v.address, Size: v.size, DomainID: d.ID, Detail: fmt.Sprintf("kept here more than the %d-day window", d.RetentionDays)})
	}
	// Expunge records older than the window describe UIDs no client can
	// still hold a valid cache for.
	if _, err := t.Exec(`DELETE FROM vanished WHERE at < ? AND mailbox_id IN
			(SELECT m.id FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE a.domain_id = ?)`, cutoff.UnixMilli(), d.ID); err != nil {
		return res, err
	}
	return res, t.appendLog(events)
}

// purgeLog deletes up to a limit of the message log's records older than
// a time, returning their subjects.
const purgeLog = "DELETE FROM msglog WHERE id IN (SELECT id FROM msglog WHERE time < ? LIMIT ?) RETURNING subject_id"
