package store

import (
	"bytes"
	"crypto/sha256"
	"hash"

	"github.com/xtramail/xtramail/internal/message"
)

// Duplicates (issue 13 part 5). The same message reaches a mailbox more
// than once in normal operation: an upstream retries a copy whose 250 it
// lost, the upstream filter journals back what the relay carried (the
// sender's Sent copy, a protected colleague's INBOX copy) after
// submission stored both, and mail clients APPEND their own copy to Sent
// after submitting. Deliver stores such a copy once per mailbox.
//
// The rule, which every backend applies in Deliver and nowhere else:
//
//   - Two copies are the same message when their Message-ID (as parsed,
//     without angle brackets) and their body digest (BodyDigest) are
//     equal. The header section is left out of the digest on purpose:
//     relays and filters add Received, authentication and disclaimer
//     headers, and submission strips Bcc from what it sends, so the
//     journaled copy of a message never has the same header bytes as the
//     Sent copy it duplicates. A filter that changes the body (a footer, a
//     re-encoding) makes a different message, which is kept.
//   - A copy is a duplicate when its mailbox holds a live (not expunged)
//     message of the same key that Deliver stored there. A message that
//     was expunged, moved away or purged no longer counts: the new copy
//     is stored and takes the key over. Messages that IMAP COPY or MOVE
//     brought in, or that Restore brought back, hold no key.
//   - A copy may hold a second key (Delivery.KeyAlso): submission's Sent
//     copy of a message whose long lines it re-encoded holds the key of
//     the converted body that was sent, which is what comes back.
//   - Never deduplicated: a message without a Message-ID (nothing
//     identifies it), and copies into the \Drafts mailbox, where clients
//     save successive versions of one draft under one Message-ID and
//     delete the old one after the APPEND.
//   - The key is unique per mailbox in the backend (a unique index, not a
//     look-up before an insert), so concurrent duplicate deliveries store
//     exactly one copy. It is removed with the message when the retention
//     purge removes it, and with its mailbox or account.
//
// A duplicate copy is not stored again: its Delivered names the message
// already there (Duplicate set, its UID for IMAP APPENDUID), its
// Copy.Event is logged with Delivery.DuplicateStatus, and a copy without
// an Event (an IMAP APPEND) gets a "duplicate" record of the store's own,
// with the copy's account as recipient, naming the mailbox and the UID
// (the message log lists every merged copy, whichever came first: issue
// 13 part 8); the delivery as a whole succeeds (capture answers 250, APPEND OK). Outbound entries
// and Delivery.Events are unaffected. When every copy is a duplicate and
// nothing is queued, no body is kept.

// BodyDigest computes the body digest of the duplicate rule from a
// message as it streams by: SHA-256 of the bytes after the header section
// (from Info.Part.BodyStart), without the CRLF line endings at the very
// end, so that a copy that went through SMTP (which ends every message
// with CRLF) matches one uploaded with fewer or none. Its state is a few
// counters whatever the message: memory does not grow with it.
type BodyDigest struct {
	bodyStart int64
	n         int64
	h         hash.Hash
	// Trailing line endings seen but not hashed yet: pairs CRLFs, then a
	// CR when cr is set. They are hashed once other bytes follow them.
	pairs int64
	cr    bool
}

// NewBodyDigest returns a digest for a message whose body starts at
// bodyStart (message.Info.Part.BodyStart).
func NewBodyDigest(bodyStart int64) *BodyDigest {
	return &BodyDigest{bodyStart: bodyStart, h: sha256.New()}
}

// Write never fails.
func (d *BodyDigest) Write(p []byte) (int, error) {
	n := len(p)
	if skip := d.bodyStart - d.n; skip > 0 {
		if skip >= int64(len(p)) {
			d.n += int64(len(p))
			return n, nil
		}
		d.n += skip
		p = p[skip:]
	}
	d.n += int64(len(p))
	end := len(p)
	for end > 0 && (p[end-1] == '\r' || p[end-1] == '\n') {
		end--
	}
	if end > 0 {
		d.flush()
		d.h.Write(p[:end])
	}
	for _, c := range p[end:] {
		switch {
		case c == '\n' && d.cr:
			d.pairs++
			d.cr = false
		case c == '\r' && !d.cr:
			d.cr = true
		default:
			// Not a CRLF: what is held is content, and so is c.
			d.flush()
			d.h.Write([]byte{c})
		}
	}
	return n, nil
}

var crlfs = bytes.Repeat([]byte("\r\n"), 512)

// flush hashes the line endings held back.
func (d *BodyDigest) flush() {
	for d.pairs > 0 {
		k := min(d.pairs, int64(len(crlfs)/2))
		d.h.Write(crlfs[:2*k])
		d.pairs -= k
	}
	if d.cr {
		d.h.Write(crlfs[:1])
		d.cr = false
	}
}

// Sum returns the digest of what was written.
func (d *BodyDigest) Sum() []byte { return d.h.Sum(nil) }

// Dedupable reports whether a message with this info is ever
// deduplicated: it needs a Message-ID.
func Dedupable(info *message.Info) bool { return info != nil && info.MessageID != "" }
