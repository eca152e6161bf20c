package store

import "context"

// ConversationRows lets a list shown by conversation follow changes
// without re-reading it: given the messages the change feed named, it
// returns the rows of their conversations as they are now, each with a
// Key that says which row it replaces (issue 14: a live list updated in
// constant time at any mailbox size). Like Webmail, it takes the
// signed-in account: another account's mailbox is ErrNotFound.
type ConversationRows interface {
	// ConversationRows returns, once each, the conversations of
	// mailboxID that hold the messages ids (live, marked \Deleted, or
	// expunged from it; ids of other mailboxes are skipped), as
	// ConversationPage would list them now. A conversation left without
	// a listed message comes back with Messages 0 and a zero Newest, so
	// that its row can go.
	ConversationRows(ctx context.Context, accountID, mailboxID int64, ids []int64) ([]Conversation, error)
}
