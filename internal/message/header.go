package message

import (
	"bytes"
	"fmt"
	"iter"
	"unicode/utf8"
)

// Header fields Parse reads; the first occurrence of each counts.
const (
	fContentType = iota
	fContentTransferEncoding
	fContentID
	fContentDescription
	fContentDisposition
	fContentLanguage
	fContentLocation
	fContentMD5
	fDate
	fSubject
	fFrom
	fSender
	fReplyTo
	fTo
	fCc
	fBcc
	fInReplyTo
	fMessageID
	fReferences
	numFields
)

// fieldIndex maps a header field name to one of the f* constants, or -1.
// It switches on the length first, so most fields (Received,
// DKIM-Signature...) are rejected without a comparison.
func fieldIndex(name []byte) int {
	eq := asciiEqualFold
	switch len(name) {
	case 2:
		if eq(name, "to") {
			return fTo
		}
		if eq(name, "cc") {
			return fCc
		}
	case 3:
		if eq(name, "bcc") {
			return fBcc
		}
	case 4:
		if eq(name, "date") {
			return fDate
		}
		if eq(name, "from") {
			return fFrom
		}
	case 6:
		if eq(name, "sender") {
			return fSender
		}
	case 7:
		if eq(name, "subject") {
			return fSubject
		}
	case 8:
		if eq(name, "reply-to") {
			return fReplyTo
		}
	case 10:
		if eq(name, "message-id") {
			return fMessageID
		}
		if eq(name, "content-id") {
			return fContentID
		}
		if eq(name, "references") {
			return fReferences
		}
	case 11:
		if eq(name, "in-reply-to") {
			return fInReplyTo
		}
		if eq(name, "content-md5") {
			return fContentMD5
		}
	case 12:
		if eq(name, "content-type") {
			return fContentType
		}
	case 16:
		if eq(name, "content-language") {
			return fContentLanguage
		}
		if eq(name, "content-location") {
			return fContentLocation
		}
	case 19:
		if eq(name, "content-description") {
			return fContentDescription
		}
		if eq(name, "content-disposition") {
			return fContentDisposition
		}
	case 25:
		if eq(name, "content-transfer-encoding") {
			return fContentTransferEncoding
		}
	}
	return -1
}

// asciiEqualFold compares b with a lowercase ASCII string, ignoring case.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// header holds the raw values (after the colon, continuation lines and
// their line breaks included) of the fields Parse reads. nil means absent;
// a present but empty field is a non-nil empty slice.
type header struct {
	f [numFields][]byte
	// cut: a value was longer than maxFieldValue and was cut.
	cut bool
}

// field locates one header field in raw: the name is raw[start:nameEnd],
// the value raw[valStart:valEnd] (without the final line break), and the
// whole field with its line break(s) raw[start:end].
type field struct {
	start, nameEnd, valStart, valEnd, end int
}

// headerScan is what scanFields found besides the fields.
type headerScan struct {
	bodyStart int
	// noHeader: the first line was not a header field, so the entity has
	// no header and its body starts at once.
	noHeader bool
	// noBlank: the header ended at a line that is not a header field,
	// without the blank line RFC 5322 2.1 requires.
	noBlank bool
	// orphan: a continuation line with no field before it.
	orphan bool
	// mboxFrom: an mbox "From " line at the start, skipped.
	mboxFrom bool
	bareLF   bool // a line ended in LF without CR
	crcrlf   bool // a line ended in CR CR LF
}

// scanFields reads the header of the entity at raw[start:end], calling fn
// for each field. The header ends at the first empty line (a line holding
// only CRs counts as empty, so "\r\r\n" is tolerated) or, as Python's email
// package does for broken mail, at the first line that is neither a field
// nor a continuation.
func scanFields(raw []byte, start, end int, fn func(field)) (res headerScan) {
	cur := field{start: -1}
	flush := func() {
		if cur.start >= 0 {
			fn(cur)
			cur.start = -1
		}
	}
	i := start
	for i < end {
		lineEnd, next := end, end
		if k := bytes.IndexByte(raw[i:end], '\n'); k >= 0 {
			lineEnd, next = i+k, i+k+1
			if k == 0 || raw[lineEnd-1] != '\r' {
				res.bareLF = true
			} else if k >= 2 && raw[lineEnd-2] == '\r' {
				res.crcrlf = true
			}
		}
		ce := lineEnd
		for ce > i && raw[ce-1] == '\r' {
			ce--
		}
		if ce == i {
			flush()
			res.bodyStart = next
			return res
		}
		c := raw[i]
		switch {
		case c == ' ' || c == '\t':
			// RFC 5322 2.2.3 folding; a line of only white space is
			// obs-FWS and also continues the field.
			if cur.start >= 0 {
				cur.valEnd, cur.end = ce, next
			} else {
				res.orphan = true
			}
		default:
			colon := fieldNameEnd(raw[i:ce])
			if colon < 0 {
				if i == start && bytes.HasPrefix(raw[i:ce], []byte("From ")) {
					res.mboxFrom = true
					break
				}
				flush()
				res.bodyStart = i
				if i == start {
					res.noHeader = true
				} else {
					res.noBlank = true
				}
				return res
			}
			flush()
			nameEnd := i + colon
			for nameEnd > i && (raw[nameEnd-1] == ' ' || raw[nameEnd-1] == '\t') {
				nameEnd--
			}
			cur = field{start: i, nameEnd: nameEnd, valStart: i + colon + 1, valEnd: ce, end: next}
		}
		i = next
	}
	flush()
	res.bodyStart = end
	return res
}

// HeaderError is the error of CheckHeader: what is wrong, on which line
// (from 1), and that line's start.
type HeaderError struct {
	Problem string
	Line    int
	Text    string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("malformed header section: %s at line %d: %+q", e.Problem, e.Line, e.Text)
}

// CheckHeader reports whether the header section of the message raw is
// one that every reader of it splits into the same fields: each line up
// to the first empty one a field (a name, a colon) or the continuation
// of one, and no NUL. Parse reads past what is not (it ends the header
// at a line that is neither, as Python's email package does), which is
// right for showing mail as received; but programs differ there (a DKIM
// signer, a receiving MTA and a mail reader may each end the header
// elsewhere or take the line for a field), so a message that one of our
// checks reads one way may be signed, sent and shown another. What we
// send out is held to it (submission): a mail program never writes
// such a header. The error is a *HeaderError.
func CheckHeader(raw []byte) error {
	sc := scanFields(raw, 0, len(raw), func(field) {})
	bad := func(what string, at int) error {
		line := raw[at:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimRight(line, "\r")
		return &HeaderError{Problem: what, Line: 1 + bytes.Count(raw[:at], []byte("\n")), Text: truncate(string(line), 60)}
	}
	switch {
	case sc.mboxFrom:
		return bad(`an mbox "From " line before the header`, 0)
	case sc.noHeader:
		return bad("the first line is not a header field", 0)
	case sc.noBlank:
		return bad("a line that is neither a header field nor the continuation of one", sc.bodyStart)
	case sc.orphan:
		return bad("a continuation line with no field before it", 0)
	}
	if i := bytes.IndexByte(raw[:sc.bodyStart], 0); i >= 0 {
		return bad("a NUL byte (RFC 5322 forbids it)", bytes.LastIndexByte(raw[:i], '\n')+1)
	}
	return nil
}

// fieldNameEnd returns the index of the colon ending a field name at the
// start of line, or -1 if the line is not a header field. Names are
// printable US-ASCII (RFC 5322 3.6.8 ftext); white space before the colon
// is obsolete syntax (RFC 5322 4.5) and accepted.
func fieldNameEnd(line []byte) int {
	n := 0
	for n < len(line) {
		c := line[n]
		if c == ':' {
			break
		}
		if c <= ' ' || c >= 127 {
			// Allow only trailing white space before the colon.
			m := n
			for m < len(line) && (line[m] == ' ' || line[m] == '\t') {
				m++
			}
			if m > n && m < len(line) && line[m] == ':' {
				n = m
				break
			}
			return -1
		}
		n++
	}
	if n == 0 || n >= len(line) {
		return -1
	}
	return n
}

// set keeps the value of f if Parse reads that field: up to maxFieldValue
// bytes, and, when budget is not nil, up to what is left of *budget, which
// it takes (but at least minFieldValue bytes, minContentType for the
// fields that give a part its structure).
func (h *header) set(raw []byte, f field, budget *int) {
	i := fieldIndex(raw[f.start:f.nameEnd])
	if i < 0 || h.f[i] != nil {
		return
	}
	v := raw[f.valStart:f.valEnd:f.valEnd]
	limit := maxFieldValue
	if budget != nil {
		floor := minFieldValue
		if i == fContentType || i == fContentTransferEncoding {
			floor = minContentType
		}
		limit = min(limit, max(*budget, floor))
		defer func() { *budget -= len(h.f[i]) }()
	}
	if len(v) > limit {
		h.cut = true
		if i == fReferences {
			// Threading needs the newest ids most, which come last.
			v = v[len(v)-limit:]
			if k := bytes.IndexByte(v, '<'); k >= 0 {
				v = v[k:]
			}
		} else {
			v = v[:runeStart(v, limit)]
		}
	}
	h.f[i] = v
}

// runeStart returns n, or less so that b[:n] does not end inside a UTF-8
// sequence (a value cut in one would read as ISO-8859-1 whole).
func runeStart(b []byte, n int) int {
	for k := n; k > 0 && k > n-utf8.UTFMax; k-- {
		if utf8.RuneStart(b[k]) {
			return k
		}
	}
	return n
}

// Fields iterates over the fields of a raw header, such as Part.Header
// returns, with the same tolerance as Parse. It yields each field's name as
// written and the whole field: name, value, continuation lines and line
// breaks. IMAP BODY[HEADER.FIELDS (...)] filters on these.
func Fields(header []byte) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		stop := false
		scanFields(header, 0, len(header), func(f field) {
			if !stop && !yield(string(header[f.start:f.nameEnd]), header[f.start:f.end]) {
				stop = true
			}
		})
	}
}

// unfold turns a raw field value into a string: line breaks removed (RFC
// 5322 2.2.3), outer white space trimmed, and valid UTF-8.
func unfold(b []byte) string {
	b = bytes.Trim(b, " \t\r\n")
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return utf8String(b)
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return utf8String(out)
}

// utf8String returns b as a string, read as ISO-8859-1 if it is not valid
// UTF-8 (raw 8-bit headers are most often Latin-1 or Windows-1252).
func utf8String(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return latin1(b)
}

func latin1(b []byte) string {
	out := make([]rune, len(b))
	for i, c := range b {
		out[i] = rune(c)
	}
	return string(out)
}
