package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xtramail/xtramail/internal/store"
)

func (s *Store) MailboxByID(ctx context.Context, accountID, id int64) (store.Mailbox, error) {
	m, err := scanMailbox(s.queryRow(ctx, "SELECT "+mailboxCols+" FROM mailboxes WHERE id = ? AND account_id = ?", id, accountID))
	if err != nil {
		return m, notFound(err, fmt.Sprintf("mailbox %d of account %d", id, accountID))
	}
	return m, nil
}

// ownedMailbox is the condition on messages.mailbox_id that admits the
// mailbox only if the account owns it: a foreign id selects nothing. Its
// arguments are the mailbox id and the account id. The subquery runs
// once, so the mailbox's indexes still serve the query.
const ownedMailbox = "mailbox_id = (SELECT id FROM mailboxes WHERE id = ? AND account_id = ?)"

// checkMailbox tells an empty mailbox of the account from a mailbox that
// does not exist or is another account's (store.ErrNotFound). Lists call
// it only when they found nothing: rows found under ownedMailbox already
// prove ownership.
func (s *Store) checkMailbox(ctx context.Context, accountID, mailboxID int64) error {
	var one int
	err := s.queryRow(ctx, "SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?", mailboxID, accountID).Scan(&one)
	if err != nil {
		return notFound(err, fmt.Sprintf("mailbox %d of account %d", mailboxID, accountID))
	}
	return nil
}

// orNotFound returns list, or ErrNotFound when it is empty because the
// mailbox is not the account's.
func orNotFound[T any](s *Store, ctx context.Context, accountID, mailboxID int64, list []T, err error) ([]T, error) {
	if err != nil || len(list) > 0 {
		return list, err
	}
	if err := s.checkMailbox(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	return list, nil
}

// checkMailbox is the writer's ownership check, before any change.
func (t *tx) checkMailbox(accountID, mailboxID int64) error {
	var one int
	err := t.QueryRow("SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?", mailboxID, accountID).Scan(&one)
	if err != nil {
		return notFound(err, fmt.Sprintf("mailbox %d of account %d", mailboxID, accountID))
	}
	return nil
}

// checkMailboxName refuses names IMAP cannot carry or that break the
// hierarchy.
func checkMailboxName(name string) (string, error) {
	name = store.CanonicalMailbox(name)
	if name == store.Inbox {
		return name, nil
	}
	// The reason goes to the user (IMAP's NO text, the webmail's
	// message): say what is wrong, not only that it is.
	why := ""
	switch {
	case name == "":
		why = "it is empty"
	case len(name) > 512:
		why = "it is longer than 512 bytes"
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		why = `a level of it is empty ("/" at its start or end, or "//")`
	case slices.ContainsFunc(strings.Split(name, "/"), func(l string) bool { return l == "." || l == ".." }):
		// Clients that keep mail in Maildir or mbox files (mbsync,
		// offlineimap, mutt) make a directory of each level, where
		// these would name the level itself or its parent.
		why = `a level of it is "." or ".."`
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == '*' || r == '%' }):
		why = `it holds "*", "%" or a control character`
	}
	if why != "" {
		if len(name) > 64 {
			name = strings.ToValidUTF8(name[:64], "") + "..."
		}
		return "", fmt.Errorf("mailbox name %q cannot be used: %s: %w", name, why, store.ErrInvalid)
	}
	return name, nil
}

func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (store.Mailbox, error) {
	name, err := checkMailboxName(name)
	if err != nil {
		return store.Mailbox{}, err
	}
	use, ok := store.CanonicalSpecialUse(specialUse)
	if !ok {
		return store.Mailbox{}, fmt.Errorf("special use %q: %w", specialUse, store.ErrInvalid)
	}
	specialUse = use
	var id int64
	err = s.write(ctx, func(t *tx) error {
		// Parents are created too (RFC 9051 6.3.4).
		parts := strings.Split(name, "/")
		for i := range parts {
			n := strings.Join(parts[:i+1], "/")
			var exists int
			t.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ? AND name = ?", accountID, n).Scan(&exists)
			if exists > 0 {
				if i == len(parts)-1 {
					return fmt.Errorf("mailbox %s: %w", n, store.ErrExists)
				}
				continue
			}
			use := ""
			if i == len(parts)-1 {
				use = specialUse
			}
			if id, err = t.createMailboxBounded(accountID, n, use, s.maxMailboxes); err != nil {
				return err
			}
		}
		t.changes = append(t.changes, store.Change{AccountID: accountID, Kind: store.ChangeMailboxes})
		return nil
	})
	if err != nil {
		return store.Mailbox{}, err
	}
	return s.MailboxByID(ctx, accountID, id)
}

// createMailboxBounded is createMailbox for a change asked by a user
// (CreateMailbox, RenameMailbox of INBOX): refused with store.ErrLimit
// when the account holds limit mailboxes already. Counted in the
// transaction that creates, so that concurrent ones see each other.
func (t *tx) createMailboxBounded(accountID int64, name, specialUse string, limit int) (int64, error) {
	var n int
	if err := t.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ?", accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count mailboxes: %w", err)
	}
	if n >= limit {
		// The reason first: IMAP's NO text is cut at 200 bytes.
		return 0, fmt.Errorf("too many folders: the account has %d, the most it may have; delete one first (%s not created): %w",
			n, name, store.ErrLimit)
	}
	return t.createMailbox(accountID, name, specialUse)
}

func (s *Store) RenameMailbox(ctx context.Context, accountID int64, from, to string) error {
	to, err := checkMailboxName(to)
	if err != nil {
		return err
	}
	if to == store.Inbox {
		return fmt.Errorf("rename to INBOX: %w", store.ErrExists)
	}
	from = store.CanonicalMailbox(from)
	if to == from || from != store.Inbox && strings.HasPrefix(to, from+"/") {
		// Under itself, the children's rename below would take the
		// mailbox a second time ("a" to "a/b", then to "a/b/b").
		return fmt.Errorf("rename %s to %s: a mailbox cannot move under itself: %w", from, to, store.ErrInvalid)
	}
	// Renaming INBOX moves all its messages.
	return s.writeAlone(ctx, func(t *tx) error {
		var fromID int64
		if err := t.QueryRow("SELECT id FROM mailboxes WHERE account_id = ? AND name = ?", accountID, from).Scan(&fromID); err != nil {
			return notFound(err, "mailbox "+from)
		}
		var n int
		t.QueryRow("SELECT count(*) FROM mailboxes WHERE account_id = ? AND (name = ? OR name LIKE ? ESCAPE '\\')", accountID, to, likePrefix(to+"/")).Scan(&n)
		if n > 0 {
			return fmt.Errorf("mailbox %s: %w", to, store.ErrExists)
		}
		t.changes = append(t.changes, store.Change{AccountID: accountID, MailboxID: fromID, Kind: store.ChangeMailboxes})
		if from == store.Inbox {
			// INBOX stays; its messages move to the new mailbox.
			toID, err := t.createMailboxBounded(accountID, to, "", s.maxMailboxes)
			if err != nil {
				return err
			}
			uids, err := t.uids(fromID)
			if err != nil {
				return err
			}
			_, err = t.move(fromID, uids, toID)
			return err
		}
		if _, err := t.Exec("UPDATE mailboxes SET name = ? WHERE id = ?", to, fromID); err != nil {
			return fmt.Errorf("rename mailbox: %w", err)
		}
		// Subscriptions follow the renamed mailbox and its children, as
		// in Dovecot: a client listing only subscribed folders keeps
		// seeing them.
		if _, err := t.Exec("UPDATE OR REPLACE subscriptions SET name = ? WHERE account_id = ? AND name = ?", to, accountID, from); err != nil {
			return fmt.Errorf("rename subscription: %w", err)
		}
		if _, err := t.Exec("UPDATE OR REPLACE subscriptions SET name = ? || substr(name, ?) WHERE account_id = ? AND name LIKE ? ESCAPE '\\'",
			to+"/", len(from)+2, accountID, likePrefix(from+"/")); err != nil {
			return fmt.Errorf("rename subscriptions: %w", err)
		}
		_, err := t.Exec("UPDATE mailboxes SET name = ? || substr(name, ?) WHERE account_id = ? AND name LIKE ? ESCAPE '\\'",
			to+"/", len(from)+2, accountID, likePrefix(from+"/"))
		return err
	})
}

// likePrefix makes a LIKE pattern matching names that start with p.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	name = store.CanonicalMailbox(name)
	if name == store.Inbox {
		return fmt.Errorf("INBOX cannot be deleted: %w", store.ErrInvalid)
	}
	return s.writeAlone(ctx, func(t *tx) error {
		var id int64
		var use string
		if err := t.QueryRow("SELECT id, special_use FROM mailboxes WHERE account_id = ? AND name = ?", accountID, name).Scan(&id, &use); err != nil {
			return notFound(err, "mailbox "+name)
		}
		if use != "" {
			return fmt.Errorf("mailbox %s is the %s folder and cannot be deleted: %w", name, use, store.ErrInvalid)
		}
		var trashID int64
		if err := t.QueryRow("SELECT id FROM mailboxes WHERE account_id = ? AND special_use = '\\Trash'", accountID).Scan(&trashID); err != nil {
			return notFound(err, "Trash mailbox")
		}
		uids, err := t.uids(id)
		if err != nil {
			return err
		}
		if _, err := t.move(id, uids, trashID); err != nil {
			return err
		}
		// Deleted messages of the folder go to Trash too, still deleted,
		// so that they stay restorable.
		if _, err := t.Exec("UPDATE messages SET mailbox_id = ?, uid = uid + (SELECT uidnext FROM mailboxes WHERE id = ?) WHERE mailbox_id = ?", trashID, trashID, id); err != nil {
			return fmt.Errorf("move deleted messages to Trash: %w", err)
		}
		if _, err := t.Exec("UPDATE mailboxes SET uidnext = coalesce((SELECT max(uid) FROM messages WHERE mailbox_id = ?), 0) + 1 WHERE id = ? AND uidnext <= coalesce((SELECT max(uid) FROM messages WHERE mailbox_id = ?), 0)", trashID, trashID, trashID); err != nil {
			return err
		}
		for _, q := range []string{"DELETE FROM vanished WHERE mailbox_id = ?", "DELETE FROM dedup WHERE mailbox_id = ?", "DELETE FROM mailboxes WHERE id = ?"} {
			if _, err := t.Exec(q, id); err != nil {
				return fmt.Errorf("delete mailbox %s: %w", name, err)
			}
		}
		t.changes = append(t.changes, store.Change{AccountID: accountID, MailboxID: id, Kind: store.ChangeMailboxes})
		return nil
	})
}

func (s *Store) SetSubscribed(ctx context.Context, accountID, mailboxID int64, subscribed bool) error {
	mb, err := s.MailboxByID(ctx, accountID, mailboxID)
	if err != nil {
		return err
	}
	err = s.SetSubscription(ctx, accountID, mb.Name, subscribed)
	if !subscribed && errors.Is(err, store.ErrNotFound) {
		return nil // the mailbox exists: it just was not subscribed
	}
	return err
}

func (s *Store) SetSubscription(ctx context.Context, accountID int64, name string, subscribed bool) error {
	name, err := checkMailboxName(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		var n int
		if err := t.QueryRow("SELECT count(*) FROM accounts WHERE id = ?", accountID).Scan(&n); err != nil {
			return fmt.Errorf("subscription of account %d: %w", accountID, err)
		}
		if n == 0 {
			return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		if subscribed {
			_, err := t.Exec("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", accountID, name)
			return err
		}
		res, err := t.Exec("DELETE FROM subscriptions WHERE account_id = ? AND name = ?", accountID, name)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("subscription %s: %w", name, store.ErrNotFound)
		}
		return nil
	})
}

func (s *Store) ClaimRecent(ctx context.Context, accountID, mailboxID int64, upTo uint32) (uint32, error) {
	var first uint32
	err := s.write(ctx, func(t *tx) error {
		var prev uint32
		if err := t.QueryRow("SELECT recent_uid FROM mailboxes WHERE id = ? AND account_id = ?", mailboxID, accountID).Scan(&prev); err != nil {
			return notFound(err, fmt.Sprintf("mailbox %d of account %d", mailboxID, accountID))
		}
		first = prev + 1
		if upTo > prev {
			if _, err := t.Exec("UPDATE mailboxes SET recent_uid = ? WHERE id = ?", upTo, mailboxID); err != nil {
				return fmt.Errorf("claim recent in mailbox %d: %w", mailboxID, err)
			}
		}
		return nil
	})
	return first, err
}

func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	return collect("list subscriptions", scanOne[string])(s.query(ctx, "SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", accountID))
}

const liveUIDs = "SELECT uid FROM messages WHERE mailbox_id = ? AND expunged_modseq = 0 ORDER BY uid"

func (t *tx) uids(mailboxID int64) ([]uint32, error) {
	return scanUIDs(t.Query(liveUIDs, mailboxID))
}

// scanUIDs reads a one-column result of UIDs.
func scanUIDs(rows *sql.Rows, err error) ([]uint32, error) {
	return collect("list uids", scanOne[uint32])(rows, err)
}

func (s *Store) UIDs(ctx context.Context, accountID, mailboxID int64) ([]uint32, error) {
	uids, err := scanUIDs(s.query(ctx, "SELECT uid FROM messages WHERE "+ownedMailbox+" AND expunged_modseq = 0 ORDER BY uid", mailboxID, accountID))
	return orNotFound(s, ctx, accountID, mailboxID, uids, err)
}

// uidFilter turns ranges into an SQL condition on uid.
func uidFilter(ranges []store.UIDRange) (string, []any) { return uidFilterOn("uid", ranges) }

// rangesSpan is how many UIDs ranges (as uidFilter reads them) may name,
// for writeBulk: at most bulkMessages, which it means when nil (every
// message).
func rangesSpan(ranges []store.UIDRange) int {
	if ranges == nil {
		return bulkMessages
	}
	n := 0
	for _, r := range ranges {
		if n += int(r.Last-r.First) + 1; n >= bulkMessages {
			return bulkMessages
		}
	}
	return n
}

// uidFilterOn is uidFilter on the UID column col (a table's alias.uid in
// a join).
func uidFilterOn(col string, ranges []store.UIDRange) (string, []any) {
	if ranges == nil {
		return "", nil
	}
	if len(ranges) == 0 {
		return " AND 0", nil
	}
	if len(ranges) > 4 {
		// Many ranges (a SEARCH's scattered candidates): one statement
		// with the UIDs as a JSON array, looked up through the
		// (mailbox_id, uid) index, instead of a statement per range
		// or an OR of hundreds of terms re-prepared each time (issue 11
		// part 6: SEARCH FROM at 100,000 messages).
		var n uint64
		for _, r := range ranges {
			n += uint64(r.Last-r.First) + 1
		}
		if n <= maxUIDList {
			b := make([]byte, 0, n*7)
			b = append(b, '[')
			for _, r := range ranges {
				for u := uint64(r.First); u <= uint64(r.Last); u++ {
					if len(b) > 1 {
						b = append(b, ',')
					}
					b = strconv.AppendUint(b, u, 10)
				}
			}
			b = append(b, ']')
			return " AND " + col + " IN (SELECT value FROM json_each(?))", []any{string(b)}
		}
	}
	var conds []string
	var args []any
	for _, r := range ranges {
		conds = append(conds, col+" BETWEEN ? AND ?")
		args = append(args, r.First, r.Last)
	}
	return " AND (" + strings.Join(conds, " OR ") + ")", args
}

// maxUIDList bounds the UIDs uidFilter lists in one JSON array.
const maxUIDList = 200_000

func (s *Store) MessagesByUID(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.Message, error) {
	cond, args := uidFilter(ranges)
	ms, err := s.queryMessages(ctx, "WHERE "+ownedMailbox+" AND expunged_modseq = 0"+cond+" ORDER BY uid", append([]any{mailboxID, accountID}, args...)...)
	return orNotFound(s, ctx, accountID, mailboxID, ms, err)
}

func (s *Store) queryFlags(ctx context.Context, where string, args ...any) ([]store.MessageFlags, error) {
	return collect("list flags", func(sc scanner) (store.MessageFlags, error) {
		var m store.MessageFlags
		var kw string
		err := sc.Scan(&m.ID, &m.UID, &m.ModSeq, &m.Flags, &kw)
		if kw != "" {
			m.Keywords = strings.Fields(kw)
		}
		return m, err
	})(s.query(ctx, "SELECT id, uid, modseq, flags, keywords FROM messages "+where, args...))
}

func (s *Store) FlagsByUID(ctx context.Context, accountID, mailboxID int64, ranges []store.UIDRange) ([]store.MessageFlags, error) {
	cond, args := uidFilter(ranges)
	fs, err := s.queryFlags(ctx, "WHERE "+ownedMailbox+" AND expunged_modseq = 0"+cond+" ORDER BY uid", append([]any{mailboxID, accountID}, args...)...)
	return orNotFound(s, ctx, accountID, mailboxID, fs, err)
}

func (s *Store) FirstUnseen(ctx context.Context, accountID, mailboxID int64) (uint32, error) {
	var uid uint32
	err := s.queryRow(ctx, "SELECT uid FROM messages WHERE "+ownedMailbox+" AND expunged_modseq = 0 AND flags & ? = 0 ORDER BY uid LIMIT 1",
		mailboxID, accountID, store.FlagSeen).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, s.checkMailbox(ctx, accountID, mailboxID)
	}
	if err != nil {
		return 0, fmt.Errorf("first unseen message: %w", err)
	}
	return uid, nil
}

func (s *Store) VanishedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) ([]uint32, error) {
	uids, err := scanUIDs(s.query(ctx, "SELECT uid FROM vanished WHERE "+ownedMailbox+" AND modseq > ? ORDER BY uid", mailboxID, accountID, modseq))
	return orNotFound(s, ctx, accountID, mailboxID, uids, err)
}

// applyFlags computes a message's new flags and keywords. remove is
// keywords lower-cased, for FlagsRemove.
func applyFlags(op store.FlagOp, f store.Flags, kw []string, flags store.Flags, keywords []string, remove map[string]bool) (store.Flags, []string) {
	switch op {
	case store.FlagsReplace:
		return flags, store.DedupKeywords(keywords)
	case store.FlagsAdd:
		return f | flags, store.DedupKeywords(append(slices.Clone(kw), keywords...))
	default:
		return f &^ flags, slices.DeleteFunc(slices.Clone(kw), func(k string) bool { return remove[strings.ToLower(k)] })
	}
}

func (s *Store) StoreFlags(ctx context.Context, accountID, mailboxID int64, uids []uint32, op store.FlagOp, flags store.Flags, keywords []string, unchangedSince uint64) ([]store.MessageFlags, []uint32, error) {
	if err := store.CheckKeywords(keywords); err != nil {
		return nil, nil, err
	}
	remove := make(map[string]bool, len(keywords))
	for _, k := range keywords {
		remove[strings.ToLower(k)] = true
	}
	var changed []store.MessageFlags
	var modified []uint32
	err := s.writeBulk(ctx, len(uids), func(t *tx) error {
		changed, modified = changed[:0], modified[:0]
		var modseq uint64
		if err := t.QueryRow("SELECT highestmodseq + 1 FROM mailboxes WHERE id = ? AND account_id = ?", mailboxID, accountID).Scan(&modseq); err != nil {
			return notFound(err, fmt.Sprintf("mailbox %d of account %d", mailboxID, accountID))
		}
		var unseenDelta int64
		for _, uid := range uids {
			var m store.MessageFlags
			var kw string
			err := t.QueryRow("SELECT id, uid, modseq, flags, keywords FROM messages WHERE mailbox_id = ? AND uid = ? AND expunged_modseq = 0",
				mailboxID, uid).Scan(&m.ID, &m.UID, &m.ModSeq, &m.Flags, &kw)
			if err != nil {
				continue // expunged meanwhile: nothing to change
			}
			if unchangedSince > 0 && m.ModSeq > unchangedSince {
				modified = append(modified, uid)
				continue
			}
			oldKW := strings.Fields(kw)
			nf, nk := applyFlags(op, m.Flags, oldKW, flags, keywords, remove)
			if nf == m.Flags && slices.Equal(nk, oldKW) {
				continue
			}
			if _, err := t.Exec("UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE id = ?", nf, strings.Join(nk, " "), modseq, m.ID); err != nil {
				return fmt.Errorf("store flags: %w", err)
			}
			if (m.Flags&store.FlagSeen == 0) != (nf&store.FlagSeen == 0) {
				if nf&store.FlagSeen != 0 {
					unseenDelta--
				} else {
					unseenDelta++
				}
			}
			m.Flags, m.Keywords, m.ModSeq = nf, nk, modseq
			changed = append(changed, m)
			t.changes = append(t.changes, store.Change{AccountID: accountID, MailboxID: mailboxID, Kind: store.ChangeFlags, UID: uid, ModSeq: modseq})
		}
		if len(changed) > 0 {
			if _, err := t.Exec("UPDATE mailboxes SET highestmodseq = ?, unseen = unseen + ? WHERE id = ?", modseq, unseenDelta, mailboxID); err != nil {
				return err
			}
			if op != store.FlagsRemove {
				if err := t.addKeywords(mailboxID, keywords); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return changed, modified, err
}

func (s *Store) Copy(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]store.CopiedUID, error) {
	var out []store.CopiedUID
	err := s.writeBulk(ctx, len(uids), func(t *tx) error {
		if err := t.sameAccount(accountID, from, to); err != nil {
			return err
		}
		out = out[:0]
		for _, uid := range uids {
			var bodyID, size int64
			var flags store.Flags
			var kw string
			var received, arrived int64
			var subject, fromAddr, msgID, preview, thread string
			var comp int64
			var accountID, domainID int64
			// The copy is in its original's conversation (same body, same
			// ids: keyThread would find it there), and arrived when it
			// did: copying mail around does not renew its window.
			err := t.QueryRow(`SELECT account_id, domain_id, body_id, size, flags, keywords, received, subject, from_addr, message_id, preview, thread, thread_comp, arrived
				FROM messages WHERE mailbox_id = ? AND uid = ? AND expunged_modseq = 0`, from, uid).Scan(
				&accountID, &domainID, &bodyID, &size, &flags, &kw, &received, &subject, &fromAddr, &msgID, &preview, &thread, &comp, &arrived)
			if err != nil {
				continue
			}
			newUID, modseq, err := t.nextUID(to, size, flags)
			if err != nil {
				return err
			}
			if _, err := t.Exec(insertMessage, nil, accountID, domainID, to, newUID, modseq, flags, kw, received, size, bodyID,
				subject, fromAddr, msgID, preview, thread, comp, arrived); err != nil {
				return fmt.Errorf("copy message: %w", err)
			}
			if _, err := t.Exec("UPDATE bodies SET refs = refs + 1 WHERE id = ?", bodyID); err != nil {
				return err
			}
			if err := t.addKeywords(to, strings.Fields(kw)); err != nil {
				return err
			}
			out = append(out, store.CopiedUID{From: uid, To: newUID})
			t.changes = append(t.changes, store.Change{AccountID: accountID, MailboxID: to, Kind: store.ChangeNew, UID: newUID, ModSeq: modseq})
		}
		return nil
	})
	return out, err
}

// nextUID allocates a UID and modseq in a mailbox for a new message and
// counts it.
func (t *tx) nextUID(mailboxID, size int64, flags store.Flags) (uint32, uint64, error) {
	unseen := 0
	if flags&store.FlagSeen == 0 {
		unseen = 1
	}
	var uid uint32
	var modseq uint64
	err := t.QueryRow(`UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1,
			messages = messages + 1, unseen = unseen + ?, size = size + ? WHERE id = ? RETURNING uidnext - 1, highestmodseq`,
		unseen, size, mailboxID).Scan(&uid, &modseq)
	if err != nil {
		return 0, 0, notFound(err, fmt.Sprintf("mailbox %d", mailboxID))
	}
	return uid, modseq, nil
}

// sameAccount checks that both mailboxes are the account's.
func (t *tx) sameAccount(accountID, a, b int64) error {
	if err := t.checkMailbox(accountID, a); err != nil {
		return err
	}
	return t.checkMailbox(accountID, b)
}

func (s *Store) Move(ctx context.Context, accountID, from int64, uids []uint32, to int64) ([]store.CopiedUID, error) {
	var out []store.CopiedUID
	err := s.writeBulk(ctx, len(uids), func(t *tx) error {
		if err := t.sameAccount(accountID, from, to); err != nil {
			return err
		}
		var err error
		out, err = t.move(from, uids, to)
		return err
	})
	return out, err
}

// move re-homes live messages: new UIDs in to, a vanished record in from.
// With to == from the messages get new UIDs in their own mailbox, which
// is a MOVE into the selected mailbox (RFC 6851 section 3.3: COPY then
// EXPUNGE of the originals), done in one transaction.
func (t *tx) move(from int64, uids []uint32, to int64) ([]store.CopiedUID, error) {
	var out []store.CopiedUID
	if len(uids) == 0 {
		return out, nil
	}
	var accountID int64
	var fromModseq uint64
	if err := t.QueryRow("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING account_id, highestmodseq", from).Scan(&accountID, &fromModseq); err != nil {
		return nil, notFound(err, fmt.Sprintf("mailbox %d", from))
	}
	now := time.Now().UnixMilli()
	for _, uid := range uids {
		var c mailboxChange
		var kw string
		err := t.QueryRow("SELECT id, size, flags, keywords FROM messages WHERE mailbox_id = ? AND uid = ? AND expunged_modseq = 0", from, uid).Scan(&c.id, &c.size, &c.flags, &kw)
		if err != nil {
			continue
		}
		if err := t.addKeywords(to, strings.Fields(kw)); err != nil {
			return nil, err
		}
		newUID, modseq, err := t.nextUID(to, c.size, c.flags)
		if err != nil {
			return nil, err
		}
		if _, err := t.Exec("UPDATE messages SET mailbox_id = ?, uid = ?, modseq = ? WHERE id = ?", to, newUID, modseq, c.id); err != nil {
			return nil, fmt.Errorf("move message: %w", err)
		}
		if _, err := t.Exec("INSERT OR REPLACE INTO vanished (mailbox_id, uid, modseq, at) VALUES (?, ?, ?, ?)", from, uid, fromModseq, now); err != nil {
			return nil, err
		}
		if err := t.count(from, -1, c); err != nil {
			return nil, err
		}
		out = append(out, store.CopiedUID{From: uid, To: newUID})
		t.changes = append(t.changes,
			store.Change{AccountID: accountID, MailboxID: from, Kind: store.ChangeExpunge, UID: uid, ModSeq: fromModseq},
			store.Change{AccountID: accountID, MailboxID: to, Kind: store.ChangeNew, UID: newUID, ModSeq: modseq})
	}
	return out, nil
}
