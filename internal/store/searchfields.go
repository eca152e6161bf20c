package store

import "context"

// SearchFieldRow is a live message with its body's search fields: what
// IMAP SEARCH FROM, TO, CC, BCC and SUBJECT check on each candidate.
type SearchFieldRow struct {
	Message
	// Fields are the body's top-level From, To, Cc, Bcc and Subject
	// header fields as written (message.SearchFields). HasFields is
	// false when the store does not hold them for this body (too long,
	// or stored before the store kept them and not filled in yet): the
	// caller then reads the message.
	Fields    []byte
	HasFields bool
}

// SearchFields reads messages with their search fields.
type SearchFields interface {
	// SearchFieldRows lists the live messages of a mailbox in the UID
	// ranges (nil: all), in UID order, as MessagesByUID does (without
	// their Preview), each with
	// its body's search fields, in one read: a SEARCH TO on a
	// 100,000-message mailbox checks a thousand candidates without
	// opening one message (issue 11 part 6).
	SearchFieldRows(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]SearchFieldRow, error)
}
