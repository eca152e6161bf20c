package store

import (
	"context"
	"time"
)

// PendingDeletes are the webmail's deletes during their undo window. A
// delete that is expunged at once and restored on "Undo" gives the
// message a new UID (Restore: an expunged UID is never used again, RFC
// 9051 2.3.1.1), so an IMAP client would fetch it again as a new
// message. Instead, the message stays in its mailbox under its UID,
// marked \Deleted (what an IMAP client does before EXPUNGE, RFC 9051
// 6.4.3), until the window ends; Undo clears the mark, and the UID never
// changes. When the window ends the store expunges it, if it still
// carries \Deleted, as IMAP's UID EXPUNGE would: into Deleted, logged as
// deleted. Until then IMAP sessions see it with \Deleted (a FETCH FLAGS
// update) and may expunge it themselves; the webmail's lists leave out
// every message marked \Deleted (Webmail, Conversations).
type PendingDeletes interface {
	// DeleteLater marks the account's live messages ids \Deleted, to be
	// expunged at due, and returns the ids marked (ids of messages
	// expunged or gone are left out; another account's are ErrNotFound).
	DeleteLater(ctx context.Context, accountID int64, ids []int64, due time.Time) ([]int64, error)
	// UndoDelete takes back pending deletes of ids: each message still
	// pending and live loses the \Deleted mark DeleteLater set (one it
	// had before stays) and keeps its UID. It returns the ids taken
	// back; ids not pending are left out.
	UndoDelete(ctx context.Context, accountID int64, ids []int64) ([]int64, error)
	// RestoreMarked brings back the account's live messages of ids that
	// carry \Deleted, whoever set it (an IMAP client's STORE, or a
	// pending delete of the webmail): the mark is cleared under the
	// same UID, as STORE -FLAGS (\Deleted) would (RFC 9051 6.4.6), and
	// a pending delete of them is forgotten. The webmail lists such
	// messages in Deleted (DeletedPage) until they are expunged, and
	// this is their Restore; each message brought back is logged as
	// restored, as Restore logs one that was expunged, in the same
	// write. It returns the ids brought back; ids that
	// are expunged or not marked are left out, another account's are
	// ErrNotFound.
	RestoreMarked(ctx context.Context, accountID int64, ids []int64) ([]int64, error)
	// ExpungeDue expunges, of the pending deletes due at or before now,
	// at most limit, those still live and marked \Deleted, and forgets
	// them; it returns how many it looked at (callers loop while it
	// returns limit). The store calls it itself when deletes fall due.
	ExpungeDue(ctx context.Context, now time.Time, limit int) (int, error)
}
