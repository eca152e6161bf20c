// Package imapmsg owns what IMAP says about one message's content: the
// ENVELOPE and BODY/BODYSTRUCTURE values, the bytes of BODY[section] and
// BINARY[part] fetches, and whether a message matches SEARCH criteria.
//
// Everything here is a pure function of a raw message and the Info that
// internal/message computed for it once, at ingest: offsets into the raw
// bytes replace re-parsing MIME at fetch time (issue 8, "FETCH served from
// the pre-parsed metadata and body byte offsets"). The package opens no
// store, socket or file; the IMAP session (internal/imapserver) gets the
// message and its Info from the store, calls these functions, and writes
// the results with an imapwire.Writer. FETCH content is read through
// Content, from the stored message at the offsets Info gives, as it is
// written; Value makes the same bytes in memory, the reference Content is
// tested against.
//
// Decisions a session relies on, each explained where it is made:
//
//   - A section that names a part the message does not have yields an empty
//     result, not an error (Section, Binary), as Dovecot does: a NO would
//     fail the whole FETCH, for every message in the set.
//   - text/plain without a charset parameter is described with ("CHARSET"
//     "US-ASCII"), the RFC 2045 section 5.2 default; other text subtypes
//     (HTML declares its charset in a meta tag) are left without one.
//   - A message/rfc822 part whose embedded message could not be located
//     (transfer-encoded, or past the nesting limit) is described as an
//     embedded message without header whose body is text/plain, as Dovecot
//     does, so that clients that expect an envelope after MESSAGE/RFC822
//     can still parse the structure, and Section agrees with it.
//   - SEARCH string keys are case-insensitive substring matches under
//     Unicode simple case folding (strings.EqualFold), against both the raw
//     and the RFC 2047 decoded header values, and against the charset-decoded
//     text of textual body parts (see Match).
package imapmsg
