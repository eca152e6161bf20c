package message

import "bytes"

// maxSearchFields bounds the bytes of SearchText.Fields: a message whose
// From, To, Cc, Bcc and Subject fields are longer (a list of thousands of
// recipients) keeps none, and a search reads the message instead.
const maxSearchFields = 64 << 10

// IsSearchField reports whether name (any case) is one of the header
// fields SearchFields keeps: From, To, Cc, Bcc, Subject.
func IsSearchField(name string) bool {
	switch fieldIndex([]byte(name)) {
	case fFrom, fTo, fCc, fBcc, fSubject:
		return true
	}
	return false
}

// SearchFields returns the From, To, Cc, Bcc and Subject fields of a
// top-level header (such as Part.Header returns), whole and as written,
// in their order, each ending in a line break: the fields that IMAP
// SEARCH FROM, TO, CC, BCC and SUBJECT look at (RFC 9051 section 6.4.4).
// Stored beside a message, they let a search check those keys without
// reading the message: Fields and Parse read them as they read the same
// fields in the whole header (the first of each counting for the
// envelope). It returns false when they are longer than maxSearchFields.
func SearchFields(header []byte) ([]byte, bool) {
	out := []byte{}
	for name, whole := range Fields(header) {
		if !IsSearchField(name) {
			continue
		}
		if len(out)+len(whole)+2 > maxSearchFields {
			return nil, false
		}
		out = append(out, whole...)
		if !bytes.HasSuffix(whole, []byte("\n")) {
			// The header's last line, without a line break: one is
			// added so that the next field starts a line.
			out = append(out, '\r', '\n')
		}
	}
	return out, true
}
