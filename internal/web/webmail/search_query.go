package webmail

import (
	"strings"
	"time"
	"unicode"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// searchQuery is what one search box means. Text goes through the same
// keys as IMAP SEARCH (imapwire.SearchKey), so that the webmail finds
// what IMAP finds: the store's index narrows, imapmsg.Match checks
// substrings case-insensitively (RFC 9051 6.4.4); and, as people expect
// of a search box, also what differs only in accents ("resume" finds
// "résumé", search_accents.go).
type searchQuery struct {
	Keys []imapwire.SearchKey // TEXT, FROM, TO, SUBJECT: all must match
	// Flags and dates, checked exactly by the store.
	With, Without store.Flags
	Since, Before time.Time
	Folder        string // in:folder, a mailbox name ("" for all)
	HasAttachment bool
	// Problems are operators that could not be read (a bad date), shown
	// to the user; the rest of the query still runs.
	Problems []string
}

// empty reports whether the query selects everything.
func (q *searchQuery) empty() bool {
	return len(q.Keys) == 0 && q.With == 0 && q.Without == 0 && q.Since.IsZero() && q.Before.IsZero() && q.Folder == "" && !q.HasAttachment
}

// searchDateLayouts are the forms before: and after: take.
var searchDateLayouts = []string{"2006-01-02", "2006/01/02", "2006-1-2", "2006/1/2"}

// parseSearch reads a search box: words and "quoted phrases" are looked
// for anywhere in the message (IMAP TEXT); from:, to:, subject: take a
// word or a quoted phrase; has:attachment, is:unread, is:read,
// is:flagged, is:unflagged, is:answered; before:DATE and after:DATE
// (YYYY-MM-DD, days in loc, before exclusive, after inclusive);
// in:folder (a quoted name for one with spaces). Operators are
// case-insensitive; an unknown one is searched as text.
func parseSearch(s string, loc *time.Location) searchQuery {
	var q searchQuery
	for _, tok := range searchTokens(s) {
		op, val, ok := "", tok.text, false
		if !tok.quoted {
			if i := strings.IndexByte(tok.text, ':'); i > 0 {
				op, val, ok = strings.ToLower(tok.text[:i]), tok.text[i+1:], true
				val = unquote(val)
			}
		}
		if !ok {
			if val != "" {
				q.Keys = append(q.Keys, imapwire.SearchKey{Op: imapwire.SearchText, Text: val})
			}
			continue
		}
		switch op {
		case "from":
			q.addKey(imapwire.SearchFrom, val)
		case "to":
			q.addKey(imapwire.SearchTo, val)
		case "cc":
			q.addKey(imapwire.SearchCc, val)
		case "subject":
			q.addKey(imapwire.SearchSubject, val)
		case "body":
			q.addKey(imapwire.SearchBody, val)
		case "has":
			if strings.EqualFold(val, "attachment") || strings.EqualFold(val, "attachments") {
				q.HasAttachment = true
			} else {
				q.Problems = append(q.Problems, "has: knows only has:attachment")
			}
		case "is":
			switch strings.ToLower(val) {
			case "unread":
				q.Without |= store.FlagSeen
			case "read":
				q.With |= store.FlagSeen
			case "flagged", "starred":
				q.With |= store.FlagFlagged
			case "unflagged", "unstarred":
				q.Without |= store.FlagFlagged
			case "answered", "replied":
				q.With |= store.FlagAnswered
			default:
				q.Problems = append(q.Problems, "is: takes unread, read, flagged, unflagged or answered")
			}
		case "before", "after":
			d, ok := parseSearchDate(val, loc)
			if !ok {
				q.Problems = append(q.Problems, op+": takes a date such as 2026-11-30")
				continue
			}
			if op == "before" {
				q.Before = d
			} else {
				q.Since = d
			}
		case "in":
			q.Folder = val
		default:
			q.Keys = append(q.Keys, imapwire.SearchKey{Op: imapwire.SearchText, Text: tok.text})
		}
	}
	return q
}

func (q *searchQuery) addKey(op imapwire.SearchOp, v string) {
	if v != "" {
		q.Keys = append(q.Keys, imapwire.SearchKey{Op: op, Text: v})
	}
}

func parseSearchDate(v string, loc *time.Location) (time.Time, bool) {
	for _, l := range searchDateLayouts {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type searchToken struct {
	text   string
	quoted bool // a whole "phrase", never an operator
}

// searchTokens splits at white space outside double quotes. A token
// that starts with a quote is a phrase; op:"a b" keeps its quotes for
// unquote. An unclosed quote runs to the end.
func searchTokens(s string) []searchToken {
	var out []searchToken
	var b strings.Builder
	inQuote, quotedStart := false, false
	flush := func() {
		if b.Len() > 0 || quotedStart {
			t := b.String()
			if quotedStart {
				t = strings.TrimSuffix(strings.TrimPrefix(t, `"`), `"`)
			}
			out = append(out, searchToken{text: t, quoted: quotedStart})
		}
		b.Reset()
		quotedStart = false
	}
	for _, r := range s {
		switch {
		case r == '"':
			if b.Len() == 0 && !inQuote {
				quotedStart = true
			}
			inQuote = !inQuote
			b.WriteRune(r)
		case unicode.IsSpace(r) && !inQuote:
			flush()
		default:
			b.WriteRune(r)
		}
	}
	flush()
	return out
}

func unquote(v string) string {
	if len(v) >= 1 && v[0] == '"' {
		v = strings.TrimSuffix(v[1:], `"`)
	}
	return v
}
