package store

import (
	"context"
	"mime"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/thread"
)

// SortKeys are what IMAP SORT and THREAD (RFC 5256, RFC 5957) and the
// webmail's conversation view order and group messages by. They are
// derived once per body at ingest (SortKeysOf) and stored beside it, so
// that sorting or threading a 100,000-message mailbox reads one row per
// message and never a body's pre-parsed Info (issue 11 part 7).
type SortKeys struct {
	// Date is the Date header; zero when missing or unparseable (SORT
	// then uses the arrival time, RFC 5256 section 2.2).
	Date time.Time
	// BaseSubject is the subject's base subject (RFC 5256 section 2.1)
	// in thread.BaseSubject's canonical case; Reply says whether the
	// subject was a reply or forward (REFERENCES step 5).
	BaseSubject string
	Reply       bool
	// From, To and Cc are the first address's mailbox (local part), as
	// RFC 5256 section 3 sorts them; DisplayFrom and DisplayTo its
	// display name, decoded, or the address without one (RFC 5957).
	From, To, Cc           string
	DisplayFrom, DisplayTo string
	// InReplyTo is the first message id of In-Reply-To and References
	// the ids of References, oldest first, all without angle brackets.
	InReplyTo  string
	References []string
}

// SortKeysOf derives a body's sort keys from its pre-parsed Info: the one
// place that decides them, for every backend.
func SortKeysOf(info *message.Info) SortKeys {
	env := &info.Envelope
	k := SortKeys{Date: info.Date, References: info.References}
	k.BaseSubject, k.Reply = thread.BaseSubject(info.Subject)
	var dec mime.WordDecoder
	first := func(list []message.Address) (mailbox, display string) {
		for _, a := range list {
			if a.GroupStart || a.GroupEnd {
				continue
			}
			display = a.Name
			if d, err := dec.DecodeHeader(display); err == nil {
				display = d
			}
			if strings.TrimSpace(display) == "" {
				display = a.Mailbox + "@" + a.Host
			}
			return a.Mailbox, display
		}
		return "", ""
	}
	k.From, k.DisplayFrom = first(env.From)
	k.To, k.DisplayTo = first(env.To)
	k.Cc, _ = first(env.Cc)
	if i := strings.IndexByte(env.InReplyTo, '<'); i >= 0 {
		if j := strings.IndexByte(env.InReplyTo[i:], '>'); j > 0 {
			k.InReplyTo = env.InReplyTo[i+1 : i+j]
		}
	}
	return k
}

// SortRow is one live message with what sorting and threading need.
type SortRow struct {
	UID       uint32
	Received  time.Time
	Size      int64
	MessageID string // without angle brackets
	BodyID    int64
	// Keys are the body's stored sort keys; HasKeys is false for a body
	// whose keys are not stored yet (stored before they existed, until
	// the backend has filled them in): the caller derives them with
	// SortKeysOf from the body's Info.
	Keys    SortKeys
	HasKeys bool
}

// Sorting reads messages with their sort keys.
type Sorting interface {
	// SortRows lists the live messages of a mailbox in the UID ranges
	// (nil: all), in UID order, each with its body's sort keys, in one
	// read however many ranges there are.
	SortRows(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange) ([]SortRow, error)
	// EachSortRow is SortRows calling fn with each row, in UID order,
	// instead of listing them: the first SORT of a 100,000-message
	// mailbox spent a third of its CPU copying rows between lists. The
	// row is reused for the next one; fn may keep its strings and
	// slices, not the row.
	EachSortRow(ctx context.Context, accountID, mailboxID int64, ranges []UIDRange, fn func(*SortRow)) error
}
