package store

import (
	"context"
	"io"
)

// MessageBody is a live message with its body: what IMAP FETCH of
// ENVELOPE, BODYSTRUCTURE or a body section needs of each message.
type MessageBody struct {
	Message
	// Body is the message's body (Store.Body), its Info shared as there:
	// never modify it.
	Body Body
	// Open reads the raw message, as Store.OpenBody does, without
	// looking the body up again. It may be called after the listing's
	// context ended, with a context of its own.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// MessageBodies reads many messages with their bodies at once.
type MessageBodies interface {
	// MessageBodies lists the live messages of a mailbox in the UID
	// ranges (nil: all), in UID order, as MessagesByUID does, each with
	// its body, in one read however many messages and ranges: a FETCH
	// of the newest 50 envelopes must not cost a query per message
	// (issue 11 part 6).
	MessageBodies(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]MessageBody, error)
}
