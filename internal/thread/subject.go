// Package thread sorts and threads messages the way RFC 5256 (IMAP SORT
// and THREAD) defines: base subjects, sort keys, and the ORDEREDSUBJECT
// and REFERENCES threading algorithms. It knows nothing of IMAP's wire
// or of the store: IMAP's SORT/THREAD and the webmail's conversation
// view both hand it Msg values built from the store's pre-parsed data.
package thread

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// BaseSubject returns the base subject of a decoded subject (RFC 5256
// section 2.1) in a canonical case for comparison, and whether the
// subject was a reply or forward (it had "Re:", "Fwd:", a "(fwd)"
// trailer or a "[fwd: ...]" wrapper), which threading needs (RFC 5256
// section 3, REFERENCES step 5).
func BaseSubject(subject string) (base string, reply bool) {
	// (1) Tabs and continuations become spaces; runs of spaces one.
	s := collapseSpace(subject)
	for {
		// (2) Trailing "(fwd)" and white space.
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				t = t[:len(t)-5]
				reply = true
			}
			if t == s {
				break
			}
			s = t
		}
		// (3)-(5) Leaders and blobs, until nothing changes.
		for {
			t, r := trimLeader(s)
			if r {
				reply = true
			}
			// (4) A leading blob goes if something remains after it.
			if b, ok := blob(t); ok && strings.TrimLeft(t[b:], " ") != "" {
				t = t[b:]
			}
			if t == s {
				break
			}
			s = t
		}
		// (6) "[fwd: ...]" is unwrapped and the steps run again.
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			reply = true
			continue
		}
		break
	}
	return strings.ToUpper(strings.TrimSpace(s)), reply
}

// collapseSpace turns every run of white space into one space. Control
// characters and bytes that are not UTF-8 count as white space: they
// used to become spaces after the runs were collapsed, so that "a \x00b"
// had the base "A  B" and that base another ("A B").
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == '\t' || r == '\r' || r == '\n' || r == ' ' || r == utf8.RuneError || !unicode.IsPrint(r) && r != '\u00a0' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// trimLeader removes one subj-leader: white space, or *subj-blob
// subj-refwd ("re", "fw" or "fwd", white space, an optional blob, ":").
// It reports whether a subj-refwd was removed.
func trimLeader(s string) (string, bool) {
	if strings.HasPrefix(s, " ") {
		return strings.TrimLeft(s, " "), false
	}
	i := 0
	for {
		n, ok := blob(s[i:])
		if !ok {
			break
		}
		i += n
	}
	rest := s[i:]
	var n int
	switch {
	case len(rest) >= 3 && strings.EqualFold(rest[:3], "fwd"):
		n = 3
	case len(rest) >= 2 && (strings.EqualFold(rest[:2], "re") || strings.EqualFold(rest[:2], "fw")):
		n = 2
	default:
		return s, false
	}
	for n < len(rest) && rest[n] == ' ' {
		n++
	}
	if b, ok := blob(rest[n:]); ok {
		n += b
	}
	if n < len(rest) && rest[n] == ':' {
		return rest[n+1:], true
	}
	return s, false
}

// blob returns the length of a subj-blob at the start of s: "[" any
// characters but "[" and "]" "]" and the white space after it.
func blob(s string) (int, bool) {
	if !strings.HasPrefix(s, "[") {
		return 0, false
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return 0, false
	}
	n := end + 2
	for n < len(s) && s[n] == ' ' {
		n++
	}
	return n, true
}
