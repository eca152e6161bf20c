package store

import "context"

// Conversations pages a mailbox by conversation: each conversation
// (the messages of the mailbox that share a thread root) is one entry,
// placed at its newest message, so that a list can show a long thread
// once however many pages its messages would span. Like Webmail, every
// method takes the signed-in account: another account's mailbox is
// ErrNotFound.
//
// Conversations group messages as IMAP THREAD=REFERENCES threads them
// (RFC 5256 section 3), account-wide: messages linked through their
// Message-ID and the ids of their References (or In-Reply-To, without
// References: thread.Msg.Links), also through ids of messages not
// stored, are one tree; trees whose earliest message (by sent date) has
// the same non-empty base subject are one conversation (step 5, the
// subject merge). Within one mailbox this is THREAD's grouping of that
// mailbox whatever order the messages arrived in, as long as replies are
// dated after what they answer (THREAD merges by the subject of a tree's
// root, which is then its earliest message). A message's conversation is
// fixed as messages arrive: expunging or purging messages neither
// splits a conversation nor changes its subject, where THREAD, run
// again, might. Conversations are kept per mailbox as messages arrive,
// move, change flags and go, so that a page is an index walk at any
// size.
//
// A message marked \Deleted is not counted (see Webmail: it is leaving,
// or back on Undo).
type Conversations interface {
	// ConversationPage lists up to limit conversations of a mailbox's
	// live messages, newest first by their newest message (Received
	// descending, then id), after the cursor: the zero Cursor starts at
	// the newest, and CursorOf(c.Newest) goes on after c.
	ConversationPage(ctx context.Context, accountID, mailboxID int64, after Cursor, limit int) ([]Conversation, error)
	// ConversationOf lists the newest limit live messages of the
	// account, in any of its mailboxes, in the conversation of message id
	// (itself included unless it is expunged, marked \Deleted or older
	// than those), oldest first (Received, then id): the message page's
	// conversation view.
	ConversationOf(ctx context.Context, accountID, id int64, limit int) ([]Message, error)
}

// Conversation is one conversation of a mailbox.
type Conversation struct {
	Newest   Message // its newest live message in the mailbox
	Messages int     // its live messages in the mailbox
	Unseen   int     // of which without \Seen
	// Key names the conversation within its mailbox, the same in
	// ConversationPage and ConversationRows; opaque.
	Key string
}
