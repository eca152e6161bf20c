package store

import "context"

// ConversationRekeys lets a list shown by conversation follow a merge of
// conversations (issue 14). A message that links two conversations
// joins them: the rows of one (or of both, when the joined conversation
// takes the other's subject) get the other's key, each in its mailbox
// under a new modseq, so the change feed and ChangedSince name them and
// ConversationRows returns the conversation they joined. The rows' old
// conversation is no longer found from them; this names it.
type ConversationRekeys interface {
	// RekeyedSince returns, once each, the conversations of mailboxID
	// that messages of it left by a merge after modseq, as
	// ConversationPage would list them now: Messages 0 (and a zero
	// Newest) for one that has no listed message left, so that its row
	// can go. Merges are remembered for a window (30 days): complete is
	// false when modseq is older than what is remembered, and the list
	// reads its rows again.
	RekeyedSince(ctx context.Context, accountID, mailboxID int64, modseq uint64) (convs []Conversation, complete bool, err error)
}
