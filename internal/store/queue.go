package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Outbound is one recipient of a message that leaves through the outbound
// queue. A Delivery carrying Outbound entries stores them in the same
// transaction as its copies (the Sent copy, a colleague's INBOX copy), so
// that what a client was told is sent is both kept and queued, or neither.
type Outbound struct {
	// AccountID is the sending account, required: it owns the entry (and
	// so may read its body) and receives the delivery status
	// notifications (RFC 3464) in its INBOX.
	AccountID int64
	MailFrom  string // envelope sender, empty for the null sender
	Rcpt      string // one envelope recipient
	// Route, when set, is the host ("host" or "host:port", port 25 by
	// default) this entry is delivered to instead of the recipient
	// domain's MX or the configured relay: a domain's own relay host
	// (its primary mailbox) for an administrator's redelivery.
	Route string
	// DSN is what the sender asked of notifications for this recipient.
	DSN DSN
	// Continuity says that the recipient is protected and got the
	// message in their continuity INBOX in the same transaction: this
	// entry is only the copy for their primary mailbox, which a
	// notification about it says (a failure there is no failure to
	// reach them).
	Continuity bool
	// Origin is how the message reached the service, for the trace
	// field the queue puts on it.
	Origin Origin
}

// Origin says how a queued message reached the service, for the
// Received field the queue adds when it sends it on (RFC 5321 4.4: its
// FROM clause is required). The zero value: the service made the message
// itself (a sign-in mail, an administrator's redelivery), or queued it
// before origins were kept.
type Origin struct {
	// Client is the name the submitting client gave in EHLO, as given
	// (the listener bounds it; the queue checks it is a domain before
	// writing it), or "webmail" for the webmail.
	Client string
	// With is the protocol of the field's WITH clause, one of IANA's
	// Mail Transmission Types: "ESMTPSA" for SMTP submission, always
	// signed in over TLS (RFC 3848); "" where none fits (the webmail's
	// HTTPS is not one).
	With string
}

// DSN is what a sender asked of delivery status notifications with the
// DSN extension of SMTP (RFC 3461), kept with each queue entry so that the
// queue honours it on every attempt, after restarts too. The zero value
// means nothing was asked: the usual failure and delay notices.
type DSN struct {
	// Notify is the recipient's NOTIFY (RFC 3461 4.1): "NEVER", or
	// some of "SUCCESS", "FAILURE" and "DELAY" joined by commas; "" when
	// not given.
	Notify string
	// ORcpt is the recipient's ORCPT (4.2), decoded, as
	// "type;address" ("rfc822;bob@example.org"); "" when not given.
	ORcpt string
	// Ret is the message's RET (4.3): "FULL", "HDRS" or "".
	Ret string
	// EnvID is the message's ENVID (4.4), decoded; "" when not given.
	EnvID string
}

// QueueEntry is one recipient of one queued message.
type QueueEntry struct {
	ID         int64
	AccountID  int64
	DomainID   int64 // the sender's domain (tenant scope), 0 without one
	BodyID     int64
	MailFrom   string
	Rcpt       string
	RcptDomain string
	Route      string // see Outbound.Route; "" for the usual way
	DSN        DSN    // see Outbound.DSN
	Continuity bool   // see Outbound.Continuity
	Origin     Origin // see Outbound.Origin
	MessageID  string // of the message, for the log
	Subject    string
	Size       int64
	Queued     time.Time
	// NextAttempt is when the entry is due; LeaseUntil, when in the
	// future, says a worker holds it and others must leave it alone.
	NextAttempt time.Time
	LeaseUntil  time.Time
	Attempts    int
	LastError   string
	// DelayNotified is set once the delay notification went out.
	DelayNotified bool
	// BodyKey is where the store keeps the body, as ClaimQueue found it
	// in the claim's own transaction, for OpenQueuedBody; opaque outside
	// the store, and empty in entries from anything but a claim.
	BodyKey string
}

// QueueOutcome is what became of one attempt at an entry.
type QueueOutcome int

const (
	// QueueDelivered: the remote server accepted it; the entry goes.
	QueueDelivered QueueOutcome = iota + 1
	// QueueDeferred: a temporary failure; the entry waits until Next.
	QueueDeferred
	// QueueFailed: a permanent failure or the lifetime ran out; the
	// entry goes.
	QueueFailed
	// QueueReleased: not attempted (its session broke on another
	// entry first); the lease ends and the entry is as it was before
	// the claim, its attempts and error unchanged, due again at Next
	// when it is set, else at once.
	QueueReleased
)

// QueueSettle records the outcome of an attempt. Applied through
// Delivery.Settle, it commits together with a delivery status
// notification and the log events, so that a crash never loses the
// notification nor sends it twice.
type QueueSettle struct {
	ID      int64
	Outcome QueueOutcome
	// Next is the new due time for QueueDeferred (and QueueReleased).
	Next time.Time
	// Error is the reason of a deferral, kept for `queue list`.
	Error string
	// DelayNotified marks that this settle carries the delay notice.
	DelayNotified bool
}

// QueueQuery selects queue entries. Zero fields match everything.
type QueueQuery struct {
	// DomainIDs is the tenant scope: nil means all (the CLI, the worker),
	// empty none.
	DomainIDs []int64
	// AccountID, when set, limits the entries to one sender (a user
	// reading their own outgoing mail).
	AccountID int64
	// AfterID, when set, lists only entries with a greater id: the
	// cursor of the next page (entries are listed by id).
	AfterID int64
	Limit   int // default 1000, oldest first
}

// QueueStats summarises the queue for metrics.
type QueueStats struct {
	Entries int64
	Oldest  time.Time // queue time of the oldest entry; zero when empty
}

// DKIMKey is a domain's DKIM signing key (RFC 6376).
type DKIMKey struct {
	DomainID  int64
	Selector  string
	Algorithm string // "ed25519" or "rsa"
	// PrivateKey is the PKCS #8 DER encoding of the key.
	PrivateKey []byte
	Created    time.Time
	// Domain is the domain's name, set by PendingDKIMKeys.
	Domain string
}

// RetiredDKIMKey is a key a domain signed with before its current one:
// its TXT record stays published until mail signed with it has been
// verified.
type RetiredDKIMKey struct {
	Selector string
	Retired  time.Time // when the next key replaced it
}

// Queue is the outbound queue's part of a Store. Entries are added by
// Deliver (Delivery.Outbound) and settled by Deliver (Delivery.Settle) or
// SettleQueue.
type Queue interface {
	// ClaimQueue leases up to limit entries due at now whose lease has
	// run out, until now+lease, and returns them oldest first. A worker
	// that dies mid-attempt leaves the lease to expire, so its entries
	// are retried and never lost.
	ClaimQueue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]QueueEntry, error)
	// ReleaseQueueLeases ends every lease and returns how many it ended:
	// for a worker starting where no other one runs, which takes over
	// what a killed process had claimed instead of leaving it to wait out
	// its lease.
	ReleaseQueueLeases(ctx context.Context) (int, error)
	// SettleQueue applies outcomes and appends the events, durably, in
	// one transaction. An entry already gone is skipped, not an error (a
	// concurrent delete).
	SettleQueue(ctx context.Context, settles []QueueSettle, events ...LogEvent) error
	// OpenQueuedBody opens the body of an entry ClaimQueue returned,
	// without looking anything up again (the entry's lease keeps it
	// queued, and so its body kept); for an entry without BodyKey it is
	// OpenBody of the entry's account.
	OpenQueuedBody(ctx context.Context, e QueueEntry) (io.ReadCloser, error)
	// QueueEntries lists entries in q's scope, oldest first.
	QueueEntries(ctx context.Context, q QueueQuery) ([]QueueEntry, error)
	// RetryQueue makes the entries with these ids in q's scope due at now
	// and returns how many it found.
	RetryQueue(ctx context.Context, q QueueQuery, ids []int64, now time.Time) (int, error)
	// DeleteQueue removes the entries with these ids in q's scope and
	// returns how many it removed. In the same transaction it appends,
	// for each entry removed, a message log record at now ("cancelled",
	// kept by package msglog) with the entry's sender, recipient and
	// message, whose detail says the entry was deleted by by ("the
	// command line", an administrator's name; "" says an
	// administrator) and not delivered; ids of no entry in scope get
	// none. An entry leased at now is being delivered: its outcome is
	// not known yet, and a record saying it was not delivered could be
	// followed by its delivery. It is left as it is, and the error, a
	// *SendingError, names it (the others are removed all the same).
	DeleteQueue(ctx context.Context, q QueueQuery, ids []int64, now time.Time, by string) (int, error)
	QueueStats(ctx context.Context) (QueueStats, error)

	// SetDKIMKey stores (replacing) the DKIM key of a domain.
	SetDKIMKey(ctx context.Context, domain string, key DKIMKey) error
	// DKIMKey returns a domain's DKIM key, ErrNotFound without one.
	DKIMKey(ctx context.Context, domain string) (DKIMKey, error)
	// SetPendingDKIMKey stores (replacing) a domain's pending DKIM key:
	// one that does not sign until ActivateDKIMKey makes it the domain's
	// key, once its TXT record is published.
	SetPendingDKIMKey(ctx context.Context, domain string, key DKIMKey) error
	// PendingDKIMKeys returns the pending key of a domain (none: an empty
	// list), or of every domain when domain is "", with Domain set.
	PendingDKIMKeys(ctx context.Context, domain string) ([]DKIMKey, error)
	// ActivateDKIMKey makes the domain's pending key with this selector
	// its DKIM key, in one transaction, and records the key it replaces
	// as retired at now; ErrNotFound when the pending key has another
	// selector (replaced meanwhile) or there is none.
	ActivateDKIMKey(ctx context.Context, domain, selector string, now time.Time) error
	// RetiredDKIMKeys lists the keys a domain signed with before, newest
	// first.
	RetiredDKIMKeys(ctx context.Context, domain string) ([]RetiredDKIMKey, error)
}

// ErrSending reports that a queue entry is being delivered at the moment
// (it is leased): what becomes of it is not known yet, so it cannot be
// cancelled. Its outcome reaches the message log.
var ErrSending = errors.New("being delivered now")

// SendingError names the queue entries an operation left because they
// were being delivered. It matches ErrSending.
type SendingError struct{ IDs []int64 }

func (e *SendingError) Error() string {
	return fmt.Sprintf("queue entries %v: %v", e.IDs, ErrSending)
}

func (e *SendingError) Is(target error) bool { return target == ErrSending }
