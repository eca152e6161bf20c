package store

import (
	"context"
	"time"
)

// Webmail is what the webmail reads beyond the IMAP-shaped methods: pages
// of messages newest first, account-wide search and the deleted messages
// of all folders. Its "live" messages are those not expunged and not
// marked \Deleted: a message the webmail deleted stays in its mailbox,
// marked, during its undo window (PendingDeletes), and one an IMAP
// client marked is on its way out too. Every method takes the signed-in account: a mailbox id
// of another account is ErrNotFound, and other accounts' messages are
// never listed.
//
// Pages are keyed by a Cursor (the last message of the previous page), not
// by an offset, so that a page costs the same at the end of a 100,000
// message mailbox as at its start, and a message arriving meanwhile does
// not shift the next page.
type Webmail interface {
	// MessagePage lists up to limit live messages of a mailbox, newest
	// first (Received descending, then id descending), that come after
	// the cursor in that order; the zero Cursor starts at the newest.
	MessagePage(ctx context.Context, accountID, mailboxID int64, after Cursor, limit int) ([]Message, error)
	// SearchPage lists, in MessagePage's order, up to limit live
	// messages of the account after the cursor that match q's mailbox,
	// flags and dates exactly and may contain q.Terms (candidates, as
	// SearchCandidates returns: a superset that the caller checks for
	// the substrings).
	SearchPage(ctx context.Context, accountID int64, q MailSearch, after Cursor, limit int) ([]Message, error)
	// DeletedPage lists, in MessagePage's order, up to limit deleted,
	// still restorable messages of every mailbox of the account: those
	// expunged (IMAP EXPUNGE and the webmail's delete alike), which
	// Restore brings back to their mailbox (Message.MailboxID), and the
	// live ones marked \Deleted (an IMAP client's mark, or a webmail
	// delete in its undo window), which the webmail no longer lists in
	// their folder and RestoreMarked brings back (Message.Expunged
	// tells them apart). A user who deleted a message in a mail app
	// that only marks it finds it here, not nowhere.
	DeletedPage(ctx context.Context, accountID int64, after Cursor, limit int) ([]Message, error)
	// LiveUnseen counts, per mailbox of the account (by id), the live
	// messages without \Seen: Mailbox.Unseen (IMAP's UNSEEN, which
	// counts every message still in the mailbox, RFC 9051 6.3.11) less
	// those marked \Deleted, which the webmail's lists leave out. So a
	// folder's unread badge matches its list, also during a delete's
	// undo window. Every mailbox of the account has an entry.
	LiveUnseen(ctx context.Context, accountID int64) (map[int64]uint32, error)
	// MessagesByMessageID lists the account's live messages whose
	// Message-ID (without angle brackets) is one of ids, for threads.
	MessagesByMessageID(ctx context.Context, accountID int64, ids []string) ([]Message, error)
}

// Cursor is a position in a newest-first list of messages: the list goes
// on with the messages received before Received, or at the same time with
// a lower ID.
type Cursor struct {
	Received time.Time
	ID       int64
}

// IsZero reports whether c is the start of a list.
func (c Cursor) IsZero() bool { return c.ID == 0 && c.Received.IsZero() }

// CursorOf is the cursor just after m.
func CursorOf(m Message) Cursor { return Cursor{Received: m.Received, ID: m.ID} }

// MailSearch selects messages across the account's mailboxes. Zero fields
// select everything.
type MailSearch struct {
	MailboxID int64 // only this mailbox when not 0 (ErrNotFound if not the account's)
	// Terms must each occur where they say (see SearchCandidates).
	Terms []SearchTerm
	// FoldAccents makes the Terms match accents or not
	// (message.FoldAccents): "resume" may occur as "résumé", and the
	// reverse, as a person searching expects (IMAP SEARCH does not).
	FoldAccents bool
	// With and Without are flags the message must have and lack.
	With, Without Flags
	// Since and Before bound Received: Since <= Received < Before.
	Since, Before time.Time
}
