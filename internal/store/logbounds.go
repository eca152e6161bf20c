package store

import (
	"strings"
	"unicode/utf8"
)

// The bounds, in bytes, of a message log record's text fields. Much of
// what a record holds comes from the client before anyone signed in (the
// user name of a refused AUTH, the sender of a refused MAIL FROM), and
// every record was kept whole: two hundred failed sign-ins from one
// address added 40 MB to the log. The bounds are well above what a
// correct client sends, so that a cut record is a hostile or broken one.
const (
	// LogAddressMax bounds MailFrom, Rcpt and Account: RFC 5321
	// 4.5.3.1.3 allows a path of 256 octets, and the user names that
	// fill Rcpt (a sign-in) are addresses too.
	LogAddressMax = 320
	// LogHeaderMax bounds Subject and MessageID: a header line's limit
	// (RFC 5322 2.1.1).
	LogHeaderMax = 998
	// LogDetailMax bounds Detail: a reply and its reason.
	LogDetailMax = 1000
	// LogRemoteIPMax bounds RemoteIP: an IPv6 address with a zone, and
	// room to spare.
	LogRemoteIPMax = 100
)

// BoundLogEvent returns e with each text field cut to its bound
// (ClipText), and MessageID without its angle brackets, as the log keeps
// it. Every backend passes each record it appends through it, so that
// no front end can write an unbounded one.
func BoundLogEvent(e LogEvent) LogEvent {
	e.MailFrom = ClipText(e.MailFrom, LogAddressMax)
	e.Rcpt = ClipText(e.Rcpt, LogAddressMax)
	e.Account = ClipText(e.Account, LogAddressMax)
	e.MessageID = LogMessageID(e.MessageID)
	e.Subject = ClipText(e.Subject, LogHeaderMax)
	e.Detail = ClipText(e.Detail, LogDetailMax)
	e.RemoteIP = ClipText(e.RemoteIP, LogRemoteIPMax)
	return e
}

// LogMessageID is a Message-ID as the log keeps it and a search asks for
// it: without angle brackets, bounded. A search for a Message-ID longer
// than the bound finds the records that kept its cut form.
func LogMessageID(id string) string {
	return ClipText(strings.Trim(id, "<>"), LogHeaderMax)
}

// clipMark ends a cut text, so that a reader sees it is not whole.
const clipMark = "…"

// ClipText returns s when it has at most max bytes, else its longest
// prefix that ends at a rune boundary and, with "…" after it, has at most
// max bytes. A cut text is valid UTF-8 whatever s was (invalid bytes in
// the kept part are dropped); an uncut one is s. max must be at least
// len("…").
func ClipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max - len(clipMark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	head := s[:n]
	if !utf8.ValidString(head) {
		head = strings.ToValidUTF8(head, "")
	}
	return head + clipMark
}
