package store

import "context"

// Conversations pages a mailbox by conversation: each conversation
// (the messages of the mailbox that share a thread root) is one entry,
// placed at its newest message, so that a list can show a long thread
// once however many pages its messages would span. Like Webmail, every
// method takes the signed-in account: another account's mailbox is
// ErrNotFound.
//
// A message's thread root is fixed when it is stored: the first message
// id of its References (RFC 5322 3.6.4: the thread's first message), else
// its In-Reply-To, else its own Message-ID, else its body (a message
// without ids is a conversation of its own, with its copies). It is the
// References part of IMAP THREAD=REFERENCES (RFC 5256 section 3) without
// the subject merge, kept per mailbox as messages arrive, move, change
// flags and go, so that a page is an index walk at any size.
//
// A message marked \Deleted is not counted (see Webmail: it is leaving,
// or back on Undo).
type Conversations interface {
	// ConversationPage lists up to limit conversations of a mailbox's
	// live messages, newest first by their newest message (Received
	// descending, then id), after the cursor: the zero Cursor starts at
	// the newest, and CursorOf(c.Newest) goes on after c.
	ConversationPage(ctx context.Context, accountID, mailboxID int64, after Cursor, limit int) ([]Conversation, error)
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
