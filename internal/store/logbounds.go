package store

import (
	"strings"
	"unicode"
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

// BoundLogEvent returns e with each text field as the log keeps it
// (LogText): cut to its bound, and shown plainly; MessageID without its
// angle brackets. Every backend passes each record it appends through
// it, so that no front end can write an unbounded one, nor one whose
// text (a remote server's reply, a client's user name) acts on where it
// is shown: the console, the API, a terminal, a notice in an INBOX.
func BoundLogEvent(e LogEvent) LogEvent {
	e.MailFrom = LogAddress(e.MailFrom)
	e.Rcpt = LogAddress(e.Rcpt)
	e.Account = LogAddress(e.Account)
	e.MessageID = LogMessageID(e.MessageID)
	e.Subject = LogText(e.Subject, LogHeaderMax)
	e.Detail = LogText(e.Detail, LogDetailMax)
	e.RemoteIP = LogText(e.RemoteIP, LogRemoteIPMax)
	return e
}

// LogAddress is an address as the log keeps it and a search asks for it.
func LogAddress(a string) string { return LogText(a, LogAddressMax) }

// LogMessageID is a Message-ID as the log keeps it and a search asks for
// it: without angle brackets, bounded. A search for a Message-ID longer
// than the bound finds the records that kept its cut form.
func LogMessageID(id string) string {
	return LogText(strings.Trim(id, "<>"), LogHeaderMax)
}

// LogText is s as the log keeps it: valid UTF-8, on one line (a tab or
// line break is a space), each other control character and each
// bidirectional formatting character (an override that makes a row read
// backwards) U+FFFD, then cut to max bytes (ClipText).
func LogText(s string, max int) string {
	if strings.ContainsFunc(s, Hidden) || !utf8.ValidString(s) {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == '\t' || r == '\r' || r == '\n':
				return ' '
			case Hidden(r):
				return utf8.RuneError
			}
			return r
		}, s) // invalid bytes are U+FFFD too
	}
	return ClipText(s, max)
}

// Hidden reports whether r acts on where text is shown rather than
// showing: a control character (a terminal escape, a line break) or a
// bidirectional formatting character.
func Hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
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
