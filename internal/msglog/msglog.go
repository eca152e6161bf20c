// Package msglog owns the message log's event kinds, the building of
// their records, and the bounded background writer that front ends hand
// records to.
//
// The message log is what an administrator searches to learn whether a
// message arrived, was sent, refused or moved, and who signed in from
// where. Every kind is declared here (Kinds lists them, in the order the
// CLI shows them); store.LogStatus is only the type the store keeps.
//
// How a front end uses it:
//
//   - A record that belongs to a store write (a message stored, queued,
//     delivered) is built with Message and With and goes into the same
//     store.Delivery or queue settle: it is durable exactly when the
//     message is.
//   - A record of its own (a sign-in, a refusal, a move) goes to a Writer
//     with Add: the answer to the client does not wait for a durable
//     write, the queue is bounded (a full queue makes the caller wait, it
//     never drops), and Close drains it at shutdown. The service makes one
//     Writer and gives it to every listener (capture, submission, IMAP,
//     the web sign-in); a server built without one makes its own.
//
// Sign-ins: Session builds them, Login with detail "IMAP sign-in",
// "submission sign-in", "web sign-in", LoginFailed likewise.
package msglog

import (
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// The kinds of message log records.
const (
	// Captured: a copy arrived on the capture listener (one record per
	// message, Rcpt lists its recipients).
	Captured store.LogStatus = "captured"
	// Refused: a recipient or a message was refused; Detail has the
	// reply and the reason.
	Refused store.LogStatus = "refused"
	// Stored: one copy was stored in a mailbox (Detail names it).
	Stored store.LogStatus = "stored"
	// Duplicate: a copy was not stored again because the mailbox holds
	// the same message (Message-ID and body digest).
	Duplicate store.LogStatus = "duplicate"
	// Deleted, Restored, Purged: written by the store's backends inside
	// their own transactions (expunge, restore, the retention purge).
	Deleted  store.LogStatus = "deleted"
	Restored store.LogStatus = "restored"
	Purged   store.LogStatus = "purged"
	// Moved: a message was moved between mailboxes (IMAP MOVE).
	Moved store.LogStatus = "moved"
	// Redelivered: an administrator sent a stored (or deleted) copy to
	// the user's primary mailbox through the domain's relay host
	// (Detail names it); the queue's records follow.
	Redelivered store.LogStatus = "redelivered"
	// Login and LoginFailed: a sign-in (IMAP, submission, web) and a
	// failed one for an address held here; Detail says where.
	Login       store.LogStatus = "login"
	LoginFailed store.LogStatus = "login-failed"
	// Submitted: a signed-in user sent a message (Rcpt lists all).
	Submitted store.LogStatus = "submitted"
	// Queued, Delivered, Deferred, Bounced, Expired (and Cancelled,
	// below): one recipient's way through the outbound queue; Detail has
	// the remote answer.
	Queued    store.LogStatus = "queued"
	Delivered store.LogStatus = "delivered"
	Deferred  store.LogStatus = "deferred"
	Bounced   store.LogStatus = "bounced"
	Expired   store.LogStatus = "expired"
	// Cancelled: an administrator deleted a recipient's queue entry
	// before it was delivered (Detail says who): nothing more is sent
	// to that recipient, and the sender gets no notice. Written by the
	// store's backends in the delete's transaction.
	Cancelled store.LogStatus = "cancelled"
)

// Kinds returns every kind, in the order the CLI lists them. A kind not
// here is refused by searches, so that a typo never reads as "no such
// events".
func Kinds() []store.LogStatus {
	return []store.LogStatus{
		Captured, Refused, Stored, Duplicate, Deleted, Restored, Purged, Moved, Login, LoginFailed,
		Submitted, Queued, Delivered, Deferred, Bounced, Expired, Cancelled, Redelivered,
	}
}

// Message returns the part of a record that every record about one
// message shares: its Message-ID and subject (from info, which may be
// nil), the envelope sender, the size and the client's address. Add the
// kind and the rest with With.
func Message(t time.Time, info *message.Info, mailFrom string, size int64, remoteIP string) store.LogEvent {
	ev := store.LogEvent{Time: t, MailFrom: mailFrom, Size: size, RemoteIP: remoteIP}
	if info != nil {
		ev.MessageID, ev.Subject = info.MessageID, info.Subject
	}
	return ev
}

// With returns a copy of base with its kind, recipient, tenant and detail
// set.
func With(base store.LogEvent, kind store.LogStatus, rcpt string, domainID int64, detail string) store.LogEvent {
	base.Status, base.Rcpt, base.DomainID, base.Detail = kind, rcpt, domainID, detail
	return base
}

// Session returns a record about a session rather than a message (a
// sign-in, a failed one): address is the account, scoped to its domain.
func Session(t time.Time, kind store.LogStatus, address string, domainID int64, remoteIP, detail string) store.LogEvent {
	return store.LogEvent{Time: t, Status: kind, Rcpt: address, DomainID: domainID, RemoteIP: remoteIP, Detail: detail}
}
