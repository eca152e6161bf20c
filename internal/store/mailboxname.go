package store

import "strings"

// CanonicalMailbox spells INBOX "INBOX" where it is the first level of a
// name, whatever its case: RFC 9051 section 5.1 makes INBOX
// case-insensitive, and a child such as "inbox/x" is INBOX's child, never a
// second top-level "inbox" that could not be selected or deleted. Every
// front end (IMAP, webmail, API) names mailboxes through this one rule.
func CanonicalMailbox(name string) string {
	if len(name) >= len(Inbox) && strings.EqualFold(name[:len(Inbox)], Inbox) &&
		(len(name) == len(Inbox) || name[len(Inbox)] == '/') {
		return Inbox + name[len(Inbox):]
	}
	return name
}

// CanonicalSpecialUse spells a special-use attribute (RFC 6154 section 2)
// as RFC 6154 does, whatever its case (attributes are case-insensitive,
// RFC 9051 section 7.3.1), and reports false for one that mailboxes
// cannot have. "" is no special use.
func CanonicalSpecialUse(use string) (string, bool) {
	for _, u := range []string{"", `\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(use, u) {
			return u, true
		}
	}
	return "", false
}
