package store

import (
	"context"
	"fmt"
	"time"
)

// MaxDraftChain bounds the replacements DraftSuccessor follows: a page
// left open while more versions than that were saved elsewhere finds its
// draft gone, as after a send.
const MaxDraftChain = 4096

// DraftSuccessorsKept is how long a replacement is remembered.
const DraftSuccessorsKept = 30 * 24 * time.Hour

// ErrDraftGone is the ErrNotFound of DraftSuccessor for a draft of the
// account whose last version was sent or deleted (as far as the store
// still knows: a replacement recorded, a send in the outbox's last day,
// the message's row in Drafts): a page can say so instead of "not
// found". Another account's id, or a message that was never a draft, is
// plain ErrNotFound.
var ErrDraftGone = fmt.Errorf("draft sent or deleted: %w", ErrNotFound)

// OutboxEntry is a message the user sent from the webmail that is held
// until SendAt, so that "undo send" can still take it back. The message
// itself is a draft (DraftID, a message of the account's Drafts); only
// when the hold ends is it handed to submission, which stores the Sent
// copy and queues it. Nothing of it leaves, nor reaches a colleague's
// INBOX, before then.
type OutboxEntry struct {
	ID        int64
	AccountID int64
	DraftID   int64 // the Drafts message that is sent
	SendAt    time.Time
	Created   time.Time
	// LeaseUntil, when in the future, says a sender holds the entry:
	// it can no longer be cancelled.
	LeaseUntil time.Time
	// Attempts counts the claims of the entry: above 1, an earlier
	// sender may have submitted it before it died (see ClaimSends).
	Attempts int
	// Error is why sending failed for good; the draft is kept.
	Error string
	// RemoteIP is the address of the browser that sent it, carried to
	// the message log's submitted and queued events as submission's are.
	RemoteIP string
	// Sent, when set, is when the message was submitted: the entry is
	// kept a day after (OutboxEntry finds it, so that the undo page
	// still answers its own user), and is no longer listed or claimed.
	Sent time.Time
}

// Contact is an address the user exchanged mail with, for autocompletion.
type Contact struct {
	Address  string // lower case
	Name     string // display name last seen, decoded
	Uses     int    // how often the user wrote to it
	LastUsed time.Time
}

// RecipientState is where a sent message stands for one recipient.
type RecipientState string

const (
	// RecipientQueued: waiting for its first attempt.
	RecipientQueued RecipientState = "queued"
	// RecipientDeferred: a temporary failure; retried at Next.
	RecipientDeferred RecipientState = "deferred"
	// RecipientDelivered: the remote server accepted it (Detail has the
	// host and reply).
	RecipientDelivered RecipientState = "delivered"
	// RecipientBounced: refused for good; a notification went to INBOX.
	RecipientBounced RecipientState = "bounced"
	// RecipientExpired: retried until the queue lifetime ran out.
	RecipientExpired RecipientState = "expired"
	// RecipientCancelled: an administrator deleted it from the queue
	// before it was delivered (Detail says who).
	RecipientCancelled RecipientState = "cancelled"
	// RecipientStored: a protected colleague, who got the INBOX copy.
	RecipientStored RecipientState = "stored"
)

// RecipientStatus is the delivery status of a sent message for one
// recipient, from the queue (live entries) and the message log.
type RecipientStatus struct {
	Rcpt     string
	State    RecipientState
	Time     time.Time // of the last event
	Detail   string    // remote host and reply, or the deferral reason
	Next     time.Time // next attempt, for RecipientDeferred and RecipientQueued
	Attempts int
	// Local is set for a protected colleague, whose continuity INBOX got
	// the message at once (it may be relayed too: State says how that
	// went).
	Local bool
}

// Compose is the store's part for writing mail in the webmail: drafts,
// the outbox behind "undo send", address autocompletion and delivery
// status. Like every method that takes an id, each names the account
// (the signed-in principal): another account's id is ErrNotFound.
type Compose interface {
	// SaveDraft stores d as a new message of the account's Drafts with
	// \Draft and \Seen, and in the same write removes the draft it
	// replaces (a message id of the account's Drafts; 0 for none) for
	// good: a draft's old versions are not deletions to restore. IMAP
	// sessions see the new message and the old one vanish. d's copies
	// are ignored; its events are appended. Replacing a draft that is
	// gone (sent, or deleted over IMAP) is ErrNotFound, and nothing is
	// stored. Replacing a draft held for sending (ScheduleSend, not yet
	// sent nor failed) is ErrExists: what is sent is what was held. The
	// store remembers that the new message replaced the old one, for
	// DraftSuccessor. A new draft (replaces 0) with a d.DraftKey keeps
	// it for DraftByKey; a key the account already has (the draft first
	// saved with it live, sent or deleted, as long as replacements are
	// remembered) is ErrExists, and nothing is stored. A replacement
	// ignores d.DraftKey: the first version's key stands for every
	// version after it.
	SaveDraft(ctx context.Context, accountID, replaces int64, d *Delivery) (Delivered, error)

	// DraftSuccessor returns the live draft that stands now for the
	// draft id: id itself while it is a live message of the account's
	// Drafts, else the version that replaced it, following the
	// replacements SaveDraft recorded for the account (at most
	// MaxDraftChain of them, kept DraftSuccessorsKept). A page whose
	// save was stored but whose answer was lost still names the old
	// version: its next save or send lands on the current one instead of
	// failing. ErrNotFound when there is none: an id that was never a
	// draft of the account (another account's), or whose last version was
	// sent or deleted (ErrDraftGone, where the store can tell). SaveDraft itself does not follow replacements
	// (SaveDraftSharing's ranges are of the exact version named): a
	// caller resolves, reads that version, saves, and resolves again if
	// the save finds it replaced meanwhile (ErrNotFound).
	DraftSuccessor(ctx context.Context, accountID, id int64) (int64, error)

	// DraftByKey is DraftSuccessor of the draft the account first saved
	// with this key (Delivery.DraftKey): a compose page whose first save
	// was stored but whose answer was lost names no draft, only its key,
	// and its next save lands on that draft instead of making a second.
	// ErrNotFound when the account saved no draft with the key (another
	// account's key is not the account's); ErrDraftGone when that
	// draft's last version was sent or deleted. Keys are remembered as
	// long as replacements (DraftSuccessorsKept).
	DraftByKey(ctx context.Context, accountID int64, key string) (int64, error)

	// ScheduleSend holds the draft draftID for sending at sendAt, sent
	// from remoteIP (the browser's address, for the message log). A
	// draft already held is ErrExists.
	ScheduleSend(ctx context.Context, accountID, draftID int64, sendAt time.Time, remoteIP string) (OutboxEntry, error)
	// OutboxEntry returns one entry of the account, held, failed or sent
	// within the last day; another account's id is ErrNotFound.
	OutboxEntry(ctx context.Context, accountID, id int64) (OutboxEntry, error)
	// CancelSend takes a held message back before it is sent: it
	// removes the outbox entry and returns it (the draft stays in
	// Drafts). Once a sender claimed the entry, or it is gone, it is
	// ErrNotFound: too late to undo.
	CancelSend(ctx context.Context, accountID, id int64) (OutboxEntry, error)
	// ClaimSends leases up to limit entries due at now (SendAt reached,
	// no live lease, not failed), until now+lease, for any account, and
	// counts an attempt on each. A sender that dies leaves the lease to
	// run out, and the entry is claimed again: one claimed with Attempts
	// above 1 may have been submitted already, which the sender checks
	// (the message log's submitted event) before submitting again.
	ClaimSends(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxEntry, error)
	// FinishSend settles a claimed entry. With failure empty the message
	// was submitted: the draft goes and the entry is marked sent, in one
	// write (entries sent over a day ago go then too). Else the entry
	// stays, failed with that reason, and the draft stays.
	FinishSend(ctx context.Context, accountID, id int64, failure string) error
	// Outbox lists the account's entries, held or failed (not sent),
	// oldest first.
	Outbox(ctx context.Context, accountID int64) ([]OutboxEntry, error)
	// NextSend is the earliest SendAt of an entry not yet claimed or
	// failed (for the sender's timer); zero when there is none.
	NextSend(ctx context.Context) (time.Time, error)

	// Contacts returns up to limit addresses the account sent mail to
	// whose address, or a word of whose name, starts with prefix
	// (case-insensitive; all when empty), the most used first. The list
	// is kept by Deliver: every delivery with a copy into an account's
	// Sent records the To, Cc and Bcc addresses as that account's
	// contacts.
	Contacts(ctx context.Context, accountID int64, prefix string, limit int) ([]Contact, error)

	// DeliveryStatus returns, per recipient, where the account's sent
	// message with this Message-ID (without angle brackets) stands: live
	// queue entries first, else the last message log event for that
	// recipient. Empty when nothing is known.
	DeliveryStatus(ctx context.Context, accountID int64, messageID string) ([]RecipientStatus, error)
}
