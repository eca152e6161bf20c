package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/blob"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// The webmail's compose side (store.Compose): drafts, the outbox behind
// "undo send", contacts for autocompletion, delivery status.

func (s *Store) SaveDraft(ctx context.Context, accountID, replaces int64, d *store.Delivery) (store.Delivered, error) {
	if d.Body == nil || d.Size < 0 {
		return store.Delivered{}, fmt.Errorf("draft without body: %w", store.ErrInvalid)
	}
	return s.saveDraft(ctx, accountID, replaces, d, d.Body, d.Size, nil)
}

// saveDraft stores size bytes of body as a blob and the draft d with it
// in place of replaces. bodyKey, when not nil, makes the body's blob_key
// from that blob's key inside the write (SaveDraftSharing: a body in
// pieces), before the replaced version goes.
func (s *Store) saveDraft(ctx context.Context, accountID, replaces int64, d *store.Delivery, body io.Reader, size int64,
	bodyKey func(t *tx, key string) (string, error)) (store.Delivered, error) {
	var out store.Delivered
	if d.Info == nil || d.Body == nil || d.Size < 0 {
		return out, fmt.Errorf("draft without body or its parsed info: %w", store.ErrInvalid)
	}
	if d.Received.IsZero() {
		d.Received = time.Now()
	}
	info, err := json.Marshal(d.Info)
	if err != nil {
		return out, fmt.Errorf("encode draft info: %w", err)
	}
	var key string
	var syncBody func() error
	if bd, ok := s.blobs.(blob.Deferred); ok {
		key, syncBody, err = bd.PutDeferred(ctx, body, size)
	} else {
		key, err = s.blobs.Put(ctx, body, size)
	}
	if err != nil {
		return out, storageErr(fmt.Errorf("store draft body: %w", err))
	}
	copy := store.Copy{AccountID: accountID, Mailbox: store.Drafts, Flags: store.FlagDraft | store.FlagSeen}
	err = s.writeSynced(ctx, syncBody, func(t *tx) error {
		stored := key
		if bodyKey != nil {
			var err error
			if stored, err = bodyKey(t, key); err != nil {
				return err
			}
		}
		if replaces != 0 {
			// First, so that a draft gone or held meanwhile stores
			// nothing.
			if err := t.checkNotHeld(accountID, replaces); err != nil {
				return err
			}
			if err := t.dropDraft(s, accountID, replaces); err != nil {
				return err
			}
		}
		res, err := t.Exec(insertBody, stored, d.Size, 1, info)
		if err != nil {
			return fmt.Errorf("insert draft body: %w", err)
		}
		bodyID, err := res.LastInsertId()
		if err != nil {
			return err
		}
		t.index = append(t.index, ftsRow{bodyID, d.Info.Search})
		// Stored with the body, as for every delivery: the sort keys'
		// background fill only walks the bodies of earlier versions.
		keys := store.SortKeysOf(d.Info)
		if err := t.insertSortKeys(bodyID, &keys); err != nil {
			return err
		}
		if out, err = t.addMessage(bodyID, d, &keys, copy); err != nil {
			return err
		}
		if replaces != 0 {
			if err := t.recordSuccessor(s, accountID, replaces, out.MessageID); err != nil {
				return err
			}
		} else if d.DraftKey != "" {
			if err := t.recordDraftKey(s, accountID, d.DraftKey, out.MessageID); err != nil {
				return err
			}
		}
		return t.appendLog(d.Events)
	})
	if err != nil {
		if derr := s.blobs.Delete(context.Background(), key); derr != nil {
			s.log.Warn("remove body of failed draft", "key", key, "err", derr)
		}
		return store.Delivered{}, storageErr(err)
	}
	return out, nil
}

// draftSuccessorsSchema is the migration step that remembers which
// draft version replaced which (store.Compose.DraftSuccessor).
const draftSuccessorsSchema = `
-- Each row: the draft version draft_id (a message id; ids are never
-- reused) was replaced by successor_id, of the same account, at created
-- (unix milliseconds). Rows older than store.DraftSuccessorsKept go at
-- the next save.
CREATE TABLE IF NOT EXISTS draft_successors (
	draft_id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL,
	successor_id INTEGER NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS draft_successors_created ON draft_successors(created);
`

// draftKeysSchema is the migration step that remembers the compose
// page's key of each new draft (store.Compose.DraftByKey).
const draftKeysSchema = `
-- Each row: the account's draft first saved as draft_id came from the
-- compose page with this key, at created (unix milliseconds). Rows go
-- with the replacements, after store.DraftSuccessorsKept.
CREATE TABLE IF NOT EXISTS draft_keys (
	account_id INTEGER NOT NULL,
	key TEXT NOT NULL,
	draft_id INTEGER NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (account_id, key)
);
CREATE INDEX IF NOT EXISTS draft_keys_created ON draft_keys(created);
`

// recordDraftKey remembers that the account's new draft id came from
// the page with key; a key the account has already is store.ErrExists.
func (t *tx) recordDraftKey(s *Store, accountID int64, key string, id int64) error {
	res, err := t.Exec("INSERT OR IGNORE INTO draft_keys (account_id, key, draft_id, created) VALUES (?, ?, ?, ?)",
		accountID, key, id, s.clock.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("record the page key of draft %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record the page key of draft %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("page key of draft %d names another draft: %w", id, store.ErrExists)
	}
	return nil
}

// recordSuccessor remembers that next replaced the draft version old,
// and forgets replacements past store.DraftSuccessorsKept.
func (t *tx) recordSuccessor(s *Store, accountID, old, next int64) error {
	now := s.clock.Now()
	if _, err := t.Exec("INSERT OR REPLACE INTO draft_successors (draft_id, account_id, successor_id, created) VALUES (?, ?, ?, ?)",
		old, accountID, next, now.UnixMilli()); err != nil {
		return fmt.Errorf("record that draft %d replaced %d: %w", next, old, err)
	}
	if _, err := t.Exec("DELETE FROM draft_successors WHERE created < ?", now.Add(-store.DraftSuccessorsKept).UnixMilli()); err != nil {
		return fmt.Errorf("forget old draft replacements: %w", err)
	}
	if _, err := t.Exec("DELETE FROM draft_keys WHERE created < ?", now.Add(-store.DraftSuccessorsKept).UnixMilli()); err != nil {
		return fmt.Errorf("forget old draft page keys: %w", err)
	}
	return nil
}

// checkNotHeld refuses to replace a draft held for sending: the outbox
// sends the version it holds, and a save must not drop it underneath.
func (t *tx) checkNotHeld(accountID, id int64) error {
	var one int
	err := t.QueryRow("SELECT 1 FROM outbox WHERE draft_id = ? AND account_id = ? AND sent = 0 AND error = ''", id, accountID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("is draft %d held for sending: %w", id, err)
	}
	return fmt.Errorf("draft %d is being sent: %w", id, store.ErrExists)
}

// draftSuccessor follows the replacements of a draft version of the
// account, from id itself, to the last one recorded (at most
// store.MaxDraftChain steps, each a primary-key lookup): that version,
// the steps taken, and whether it is a live draft of the account. One
// statement, so one snapshot: a save committing in between cannot make
// it see a version replaced and not yet its replacement.
const draftSuccessor = `WITH RECURSIVE chain(id, n) AS (
		SELECT ?1, 0
		UNION ALL
		SELECT s.successor_id, chain.n + 1 FROM draft_successors s JOIN chain ON s.draft_id = chain.id
		WHERE s.account_id = ?2 AND chain.n < ?3)
	SELECT last.id, last.n, EXISTS (SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
			WHERE m.id = last.id AND m.account_id = ?2 AND b.name = ?4 AND m.expunged_modseq = 0)
	FROM (SELECT id, n FROM chain ORDER BY n DESC LIMIT 1) last`

func (s *Store) DraftSuccessor(ctx context.Context, accountID, id int64) (int64, error) {
	var last, steps int64
	var live bool
	if err := s.queryRow(ctx, draftSuccessor, id, accountID, store.MaxDraftChain, store.Drafts).Scan(&last, &steps, &live); err != nil {
		return 0, fmt.Errorf("follow replacements of draft %d: %w", id, err)
	}
	if live {
		return last, nil
	}
	// Gone: was it a draft of the account? Replaced in it, sent from it
	// within the outbox's day, or its row still in Drafts, expunged.
	var ours bool
	err := s.queryRow(ctx, `SELECT ?3 > 0
			OR EXISTS (SELECT 1 FROM outbox WHERE draft_id = ?1 AND account_id = ?2)
			OR EXISTS (SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
				WHERE m.id = ?1 AND m.account_id = ?2 AND b.name = ?4)`, last, accountID, steps, store.Drafts).Scan(&ours)
	if err != nil {
		return 0, fmt.Errorf("is draft %d the account's: %w", id, err)
	}
	if ours {
		return 0, fmt.Errorf("draft %d: %w", id, store.ErrDraftGone)
	}
	return 0, fmt.Errorf("draft %d: %w", id, store.ErrNotFound)
}

func (s *Store) DraftByKey(ctx context.Context, accountID int64, key string) (int64, error) {
	var first int64
	err := s.queryRow(ctx, "SELECT draft_id FROM draft_keys WHERE account_id = ? AND key = ?", accountID, key).Scan(&first)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("draft of page key: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("find the draft of a page key: %w", err)
	}
	cur, err := s.DraftSuccessor(ctx, accountID, first)
	if errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrDraftGone) {
		// The key's row says the draft was the account's, even once
		// DraftSuccessor can no longer tell (a purged expunge).
		return 0, fmt.Errorf("draft %d of page key: %w", first, store.ErrDraftGone)
	}
	return cur, err
}

// dropDraft removes a live message of the account's Drafts for good:
// like an expunge for IMAP (a new modseq, a vanished UID, the change
// feed), but the row and its body reference go at once, as an old draft
// version is nothing to restore.
func (t *tx) dropDraft(s *Store, accountID, id int64) error {
	var c mailboxChange
	var mailboxID, bodyID int64
	err := t.QueryRow(`SELECT m.id, m.account_id, m.uid, m.flags, m.size, m.mailbox_id, m.body_id
		FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		WHERE m.id = ? AND m.account_id = ? AND b.name = ? AND m.expunged_modseq = 0`, id, accountID, store.Drafts).
		Scan(&c.id, &c.accountID, &c.uid, &c.flags, &c.size, &mailboxID, &bodyID)
	if err != nil {
		return notFound(err, fmt.Sprintf("draft %d", id))
	}
	var modseq uint64
	if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", mailboxID).Scan(&modseq); err != nil {
		return notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
	}
	if _, err := t.Exec("DELETE FROM messages WHERE id = ?", id); err != nil {
		return fmt.Errorf("remove draft %d: %w", id, err)
	}
	if _, err := t.Exec("INSERT OR REPLACE INTO vanished (mailbox_id, uid, modseq, at) VALUES (?, ?, ?, ?)",
		mailboxID, c.uid, modseq, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("record removal of draft %d: %w", id, err)
	}
	if err := t.count(mailboxID, -1, c); err != nil {
		return err
	}
	t.changes = append(t.changes, store.Change{AccountID: accountID, MailboxID: mailboxID, Kind: store.ChangeExpunge, UID: c.uid, ModSeq: modseq})
	_, err = t.unref(s, bodyID)
	return err
}

const outboxCols = "id, account_id, draft_id, send_at, created, lease_until, attempts, error, remote_ip, sent"

// sentOutboxKept is how long a sent entry stays findable by
// OutboxEntry, for its undo page.
const sentOutboxKept = 24 * time.Hour

func scanOutbox(sc scanner) (store.OutboxEntry, error) {
	var e store.OutboxEntry
	var sendAt, created, lease, sent int64
	err := sc.Scan(&e.ID, &e.AccountID, &e.DraftID, &sendAt, &created, &lease, &e.Attempts, &e.Error, &e.RemoteIP, &sent)
	e.SendAt, e.Created = time.UnixMilli(sendAt), time.UnixMilli(created)
	if lease > 0 {
		e.LeaseUntil = time.UnixMilli(lease)
	}
	if sent > 0 {
		e.Sent = time.UnixMilli(sent)
	}
	return e, err
}

func (s *Store) OutboxEntry(ctx context.Context, accountID, id int64) (store.OutboxEntry, error) {
	e, err := scanOutbox(s.queryRow(ctx, "SELECT "+outboxCols+" FROM outbox WHERE id = ? AND account_id = ?", id, accountID))
	if err != nil {
		return store.OutboxEntry{}, notFound(err, fmt.Sprintf("held message %d", id))
	}
	return e, nil
}

func (s *Store) ScheduleSend(ctx context.Context, accountID, draftID int64, sendAt time.Time, remoteIP string) (store.OutboxEntry, error) {
	var e store.OutboxEntry
	err := s.write(ctx, func(t *tx) error {
		var one int
		err := t.QueryRow(`SELECT 1 FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
			WHERE m.id = ? AND m.account_id = ? AND b.name = ? AND m.expunged_modseq = 0`, draftID, accountID, store.Drafts).Scan(&one)
		if err != nil {
			return notFound(err, fmt.Sprintf("draft %d", draftID))
		}
		e, err = scanOutbox(t.QueryRow(`INSERT INTO outbox (account_id, draft_id, send_at, created, remote_ip) VALUES (?, ?, ?, ?, ?)
			RETURNING `+outboxCols, accountID, draftID, sendAt.UnixMilli(), s.clock.Now().UnixMilli(), remoteIP))
		if isUnique(err) {
			return fmt.Errorf("draft %d is already being sent: %w", draftID, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("hold draft %d for sending: %w", draftID, err)
		}
		return nil
	})
	return e, err
}

func (s *Store) CancelSend(ctx context.Context, accountID, id int64) (store.OutboxEntry, error) {
	var e store.OutboxEntry
	err := s.write(ctx, func(t *tx) error {
		var err error
		// The lease was taken on the service's clock (ClaimSends' now),
		// so it is read on the same one.
		e, err = scanOutbox(t.QueryRow(`DELETE FROM outbox WHERE id = ? AND account_id = ? AND sent = 0 AND (lease_until <= ? OR error != '')
			RETURNING `+outboxCols, id, accountID, s.clock.Now().UnixMilli()))
		if err != nil {
			return notFound(err, fmt.Sprintf("held message %d", id))
		}
		return nil
	})
	return e, err
}

func (s *Store) ClaimSends(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []store.OutboxEntry
	err := s.write(ctx, func(t *tx) error {
		var err error
		out, err = collect("claim held messages", scanOutbox)(t.Query(`UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN (
				SELECT id FROM outbox WHERE send_at <= ? AND lease_until <= ? AND error = '' AND sent = 0 ORDER BY send_at, id LIMIT ?)
			RETURNING `+outboxCols, now.Add(lease).UnixMilli(), now.UnixMilli(), now.UnixMilli(), limit))
		return err
	})
	return out, err
}

func (s *Store) FinishSend(ctx context.Context, accountID, id int64, failure string) error {
	return s.write(ctx, func(t *tx) error {
		if failure != "" {
			res, err := t.Exec("UPDATE outbox SET error = ?, lease_until = 0 WHERE id = ? AND account_id = ?", failure, id, accountID)
			if err != nil {
				return fmt.Errorf("record failure of held message %d: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return fmt.Errorf("held message %d: %w", id, store.ErrNotFound)
			}
			return nil
		}
		var draftID int64
		now := s.clock.Now()
		err := t.QueryRow("UPDATE outbox SET sent = ?, lease_until = 0 WHERE id = ? AND account_id = ? AND sent = 0 RETURNING draft_id",
			now.UnixMilli(), id, accountID).Scan(&draftID)
		if err != nil {
			return notFound(err, fmt.Sprintf("held message %d", id))
		}
		if _, err := t.Exec("DELETE FROM outbox WHERE account_id = ? AND sent > 0 AND sent < ?",
			accountID, now.Add(-sentOutboxKept).UnixMilli()); err != nil {
			return fmt.Errorf("remove old sent entries: %w", err)
		}
		// The draft may be gone already (deleted over IMAP meanwhile).
		if err := t.dropDraft(s, accountID, draftID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

func (s *Store) Outbox(ctx context.Context, accountID int64) ([]store.OutboxEntry, error) {
	return collect("list outbox", scanOutbox)(s.query(ctx, "SELECT "+outboxCols+" FROM outbox WHERE account_id = ? AND sent = 0 ORDER BY id", accountID))
}

func (s *Store) NextSend(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := s.queryRow(ctx, "SELECT min(max(send_at, lease_until)) FROM outbox WHERE error = '' AND sent = 0").Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next held message: %w", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return time.UnixMilli(next.Int64), nil
}

// maxContactsPerMessage bounds what one message adds to the contacts, so
// that a message to a huge list costs a bounded write.
const maxContactsPerMessage = 100

// collectContacts records the recipients of a delivery's Sent copies as
// contacts of their accounts (store.Compose.Contacts). Only Sent copies
// count: whom the user wrote to is who they want completed, while the
// senders of captured mail include every spammer; and deliveries into
// INBOX, the bulk of the ingest, cost nothing here.
func (t *tx) collectContacts(d *store.Delivery) error {
	for _, c := range d.Copies {
		if c.Mailbox != store.Sent {
			continue
		}
		env := &d.Info.Envelope
		n := 0
		for _, list := range [][]message.Address{env.To, env.Cc, env.Bcc} {
			for _, a := range list {
				if a.GroupStart || a.GroupEnd || n >= maxContactsPerMessage {
					continue
				}
				addr, err := store.NormalizeAddress(a.Mailbox + "@" + a.Host)
				if err != nil {
					continue
				}
				n++
				name := strings.TrimSpace(message.DecodeHeader(a.Name))
				_, err = t.Exec(`INSERT INTO contacts (account_id, address, name, uses, last_used) VALUES (?, ?, ?, 1, ?)
					ON CONFLICT (account_id, address) DO UPDATE SET uses = uses + 1, last_used = excluded.last_used,
						name = CASE WHEN excluded.name != '' THEN excluded.name ELSE name END`,
					c.AccountID, addr, name, d.Received.UnixMilli())
				if err != nil {
					return fmt.Errorf("record contact %s: %w", addr, err)
				}
				for _, w := range contactWords(addr, name) {
					if _, err := t.Exec("INSERT OR IGNORE INTO contact_words (account_id, word, address) VALUES (?, ?, ?)",
						c.AccountID, w, addr); err != nil {
						return fmt.Errorf("index contact %s: %w", addr, err)
					}
				}
			}
		}
	}
	return nil
}

// contactWords are what completion matches a contact by: its address
// and each word of its name, lower case.
func contactWords(addr, name string) []string {
	words := []string{addr}
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == ' ' || r == ',' || r == '"' || r == '(' || r == ')' || r == '.' || r == '-'
	}) {
		if w != "" && len(words) < 10 {
			words = append(words, w)
		}
	}
	return words
}

func (s *Store) Contacts(ctx context.Context, accountID int64, prefix string, limit int) ([]store.Contact, error) {
	if limit <= 0 || limit > 100 {
		limit = 10
	}
	p := strings.ToLower(strings.TrimSpace(prefix))
	var rows *sql.Rows
	var err error
	if p == "" {
		rows, err = s.query(ctx, `SELECT address, name, uses, last_used FROM contacts WHERE account_id = ?
			ORDER BY uses DESC, last_used DESC, address LIMIT ?`, accountID, limit)
	} else {
		// A range on contact_words' key: the address or a name word
		// that starts with what was typed. The first 500 matches in
		// word order are ranked, so that one letter typed in a large
		// address book costs a bounded read (BenchmarkContacts).
		rows, err = s.query(ctx, `SELECT address, name, uses, last_used FROM contacts
			WHERE account_id = ? AND address IN (SELECT address FROM contact_words
				WHERE account_id = ? AND word >= ? AND word < ? || x'f48fbfbf' LIMIT 500)
			ORDER BY uses DESC, last_used DESC, address LIMIT ?`, accountID, accountID, p, p, limit)
	}
	return collect("list contacts", func(sc scanner) (store.Contact, error) {
		var c store.Contact
		var last int64
		err := sc.Scan(&c.Address, &c.Name, &c.Uses, &last)
		c.LastUsed = time.UnixMilli(last)
		return c, err
	})(rows, err)
}

func (s *Store) DeliveryStatus(ctx context.Context, accountID int64, messageID string) ([]store.RecipientStatus, error) {
	var addr string
	if err := s.queryRow(ctx, "SELECT address FROM accounts WHERE id = ?", accountID).Scan(&addr); err != nil {
		return nil, notFound(err, fmt.Sprintf("account %d", accountID))
	}
	if messageID == "" {
		return nil, nil
	}
	var out []store.RecipientStatus
	at := map[string]int{}
	get := func(rcpt string) *store.RecipientStatus {
		i, ok := at[rcpt]
		if !ok {
			i = len(out)
			at[rcpt] = i
			out = append(out, store.RecipientStatus{Rcpt: rcpt})
		}
		return &out[i]
	}
	// The log, oldest first: each recipient's last event wins.
	rows, err := s.query(ctx, deliveryLog, store.LogMessageID(messageID), addr, store.Inbox)
	if err != nil {
		return nil, fmt.Errorf("read delivery log: %w", err)
	}
	for rows.Next() {
		var tm int64
		var status, rcpt, detail string
		if err := rows.Scan(&tm, &status, &rcpt, &detail); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read delivery log: %w", err)
		}
		r := get(rcpt)
		if status == string(msglog.Stored) {
			r.Local = true
			if r.State != "" {
				continue // the relay's outcome says more
			}
			r.State, r.Time, r.Detail = store.RecipientStored, time.UnixMilli(tm), "in their continuity INBOX"
			continue
		}
		r.State, r.Time, r.Detail = store.RecipientState(status), time.UnixMilli(tm), detail
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read delivery log: %w", err)
	}
	// Live queue entries say what is pending now.
	rows, err = s.query(ctx, `SELECT rcpt, attempts, last_error, next_attempt FROM queue
		WHERE account_id = ? AND message_id = ? ORDER BY id`, accountID, messageID)
	if err != nil {
		return nil, fmt.Errorf("read queue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rcpt, lastErr string
		var attempts int
		var next int64
		if err := rows.Scan(&rcpt, &attempts, &lastErr, &next); err != nil {
			return nil, fmt.Errorf("read queue: %w", err)
		}
		// The log keeps addresses in lower case; an entry keeps the
		// local part as it is sent.
		r := get(strings.ToLower(rcpt))
		r.Attempts, r.Next = attempts, time.UnixMilli(next)
		if attempts == 0 {
			r.State = store.RecipientQueued
		} else {
			r.State, r.Detail = store.RecipientDeferred, lastErr
		}
	}
	return out, rows.Err()
}

// deliveryLog reads a sent message's delivery events (DeliveryStatus),
// oldest first.
const deliveryLog = `SELECT time, status, rcpt, detail FROM msglog
	WHERE subject_id IN (SELECT id FROM msglog_messages WHERE message_id = ? AND message_id != '') AND subject_id != 0
		AND mail_from = ? AND (status IN ('queued', 'deferred', 'delivered', 'bounced', 'expired', 'cancelled')
		OR status = 'stored' AND detail = ?) ORDER BY id`
