package store

import "context"

// MessageCopy is one stored copy of a message (live or deleted and still
// restorable), found by the message's Message-ID.
type MessageCopy struct {
	AccountID int64
	Address   string // the account's address
	ID        int64  // the message's id (Store.Message)
	Mailbox   string // the mailbox's name
	Deleted   bool
}

// Copies finds a message's stored copies in an administrator's subtree:
// what a timeline offers to restore or redeliver.
type Copies interface {
	// MessageCopies returns the copies of the message with this
	// Message-ID (without angle brackets) in accounts of sc's domains,
	// at most limit (default 100), by address then id. It reads the
	// messages' own records through an index on the Message-ID, however
	// many mailboxes the subtree holds.
	MessageCopies(ctx context.Context, sc Scope, messageID string, limit int) ([]MessageCopy, error)
}
