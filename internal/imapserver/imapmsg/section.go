package imapmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// ErrUnknownCTE is returned (wrapped) by Binary when the part's
// Content-Transfer-Encoding is not one it can undo. The session answers NO
// [UNKNOWN-CTE] (RFC 3516 section 4.3, RFC 9051 section 7.1). It is
// message.ErrUnknownEncoding, so either name works with errors.Is.
var ErrUnknownCTE = message.ErrUnknownEncoding

// errBadSection reports a Section that the imapwire parser never produces.
var errBadSection = errors.New("invalid section")

// Section returns the bytes of BODY[section] before any <partial> (RFC
// 9051 section 6.4.5, RFC 3501 section 6.4.5), for a message raw whose
// pre-parsed Info is info:
//
//   - [] is the whole message; [HEADER] its header, blank line included;
//     [TEXT] its body; [HEADER.FIELDS (names)] the header fields with one
//     of the names, [HEADER.FIELDS.NOT (names)] the others, in message
//     order, followed by the blank line that ends the header (none when the
//     message has none). Names match ASCII-case-insensitively and exactly.
//   - [1.2] is the body of that part, still transfer-encoded; of a
//     message/rfc822 part, the embedded message. Part 1 of a message that
//     is not multipart is its body.
//   - [1.2.MIME] is that part's MIME header (for [1.MIME] of a message
//     that is not multipart, the message header, as Dovecot answers);
//     [1.2.HEADER], [1.2.TEXT] and the HEADER.FIELDS forms apply to the
//     message inside a message/rfc822 (or message/global) part 1.2.
//
// A part number that does not exist, and HEADER or TEXT of a part that is
// not a message, give an empty result and no error, as Dovecot does: the
// command is valid, the message just has no such part, and a NO would fail
// the whole FETCH for every message in the set. The error is only for a
// Section the parser cannot produce (MIME without a part number).
//
// The result shares raw's memory unless raw holds NUL bytes: a literal may
// not contain NUL (RFC 9051 section 4.3, CHAR8), so they are replaced by
// 0x80, as Dovecot does; the length stays that of RFC822.SIZE.
func Section(raw []byte, info *message.Info, s imapwire.Section) ([]byte, error) {
	if info == nil {
		return nil, errors.New("section: no message info")
	}
	var out []byte
	if len(s.Part) == 0 {
		if s.Spec == imapwire.SectionWhole {
			return noNUL(raw), nil
		}
		if s.Spec == imapwire.SectionMIME {
			return nil, fmt.Errorf("section MIME without part number: %w", errBadSection)
		}
		b, err := messageSection(raw, &info.Part, s)
		return noNUL(b), err
	}
	p, ok := findPart(&info.Part, s.Part)
	if !ok {
		return nil, nil
	}
	switch s.Spec {
	case imapwire.SectionWhole:
		out = p.Body(raw)
	case imapwire.SectionMIME:
		out = p.Header(raw)
	default:
		if !isMessage(p) {
			return nil, nil
		}
		b, err := messageSection(raw, embeddedRoot(p), s)
		if err != nil {
			return nil, err
		}
		out = b
	}
	return noNUL(out), nil
}

// messageSection returns HEADER, HEADER.FIELDS[.NOT] or TEXT of the
// message whose root part is root.
func messageSection(raw []byte, root *message.Part, s imapwire.Section) ([]byte, error) {
	switch s.Spec {
	case imapwire.SectionHeader:
		return root.Header(raw), nil
	case imapwire.SectionText:
		return root.Body(raw), nil
	case imapwire.SectionHeaderFields:
		return headerFields(root.Header(raw), s.Fields, false), nil
	case imapwire.SectionHeaderFieldsNot:
		return headerFields(root.Header(raw), s.Fields, true), nil
	}
	return nil, fmt.Errorf("section spec %d: %w", s.Spec, errBadSection)
}

// headerFields returns the fields of header whose name is (not) among
// names, in their order, and the header's blank line. RFC 9051 section
// 6.4.5: "Subsetting does not exclude the [RFC5322] delimiting blank line
// between the header and the body; the blank line is included in all
// header fetches, except in the case of a message that has no body and no
// blank line." Each field is copied as written, continuation lines and line
// breaks included.
func headerFields(header []byte, names []string, not bool) []byte {
	out := []byte{}
	for name, field := range message.Fields(header) {
		if hasName(names, name) != not {
			out = append(out, field...)
		}
	}
	return append(out, blankLine(header)...)
}

// hasName tells whether name is in names, comparing as RFC 9051 section
// 6.4.5 says: "ASCII-range case-insensitive but otherwise exact".
func hasName(names []string, name string) bool {
	for _, n := range names {
		if asciiEqualFold(n, name) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// blankLine returns the empty line that ends header, as written (CRLF, LF,
// or CR CR LF), or nil when the header has none: it ran to the end of the
// message, or ended at a line that was not a header field.
func blankLine(header []byte) []byte {
	n := len(header)
	if n == 0 || header[n-1] != '\n' {
		return nil
	}
	j := n - 1
	for j > 0 && header[j-1] == '\r' {
		j--
	}
	if j == 0 || header[j-1] == '\n' {
		return header[j:]
	}
	return nil
}

// findPart returns the part that a section part number names, descending
// into embedded messages as message.Part.Find does, but also into those
// that Parse could not locate (see embeddedRoot), so that every part that
// BODYSTRUCTURE shows can be fetched.
func findPart(root *message.Part, path []uint32) (*message.Part, bool) {
	cur := root
	atMessage := true // cur is the root of a message, whose part 1 may be itself
	for i, n := range path {
		switch {
		case n == 0:
			return nil, false
		case cur.Type == "multipart":
			if uint64(n) > uint64(len(cur.Parts)) {
				return nil, false
			}
			cur = &cur.Parts[n-1]
		case atMessage && n == 1:
			// Part 1 of a message that is not multipart is its body.
		default:
			return nil, false
		}
		atMessage = false
		if i < len(path)-1 && isMessage(cur) {
			cur = embeddedRoot(cur)
			atMessage = true
		}
	}
	return cur, true
}

// noNUL returns b, or a copy with NUL bytes replaced by 0x80 if it has
// any.
func noNUL(b []byte) []byte {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b
	}
	c := bytes.Clone(b)
	for ; i < len(c); i++ {
		if c[i] == 0 {
			c[i] = 0x80
		}
	}
	return c
}

// NoNULReader reads r with NUL bytes replaced by 0x80, as noNUL does: a
// whole message streamed as a literal.
func NoNULReader(r io.Reader) io.Reader { return noNULReader{r} }

type noNULReader struct{ r io.Reader }

func (n noNULReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	for i := bytes.IndexByte(p[:k], 0); i >= 0 && i < k; i++ {
		if p[i] == 0 {
			p[i] = 0x80
		}
	}
	return k, err
}

// Partial applies a <offset.count> to the bytes of a section (RFC 9051
// section 6.4.5): count bytes from offset, fewer at the end, and an empty
// result when offset is at or past the end. A nil p returns b.
func Partial(b []byte, p *imapwire.Partial) []byte {
	if p == nil {
		return b
	}
	n := uint64(len(b))
	if p.Offset >= n {
		return b[len(b):]
	}
	end := n
	if p.Count < n-p.Offset {
		end = p.Offset + p.Count
	}
	return b[p.Offset:end]
}

// Binary returns the content of BINARY[part] (RFC 3516 section 4.2, RFC
// 9051 section 6.4.5): the part's body with its Content-Transfer-Encoding
// undone (base64, quoted-printable; 7bit, 8bit and binary as they are). A
// partial applies to the decoded bytes: pass the result to Partial. For an
// encoding it does not know it returns an error wrapping ErrUnknownCTE.
//
// RFC 9051 allows BINARY on leaf parts only. Rather than fail a FETCH, an
// empty part number returns the whole message as BODY[] does (a message
// has no transfer encoding, only its body), and a multipart part its body
// as is (RFC 2045 section 6.4 allows multiparts only identity encodings).
// A message/rfc822 part is decoded like a leaf, which undoes the base64
// that some mailers wrongly apply to forwarded messages. A part that does
// not exist gives an empty result, as in Section.
//
// The result may hold NUL bytes: the session then sends it as a literal8
// (see NeedsLiteral8). It shares raw's memory for identity encodings.
func Binary(raw []byte, info *message.Info, part []uint32) ([]byte, error) {
	if info == nil {
		return nil, errors.New("binary: no message info")
	}
	if len(part) == 0 {
		return raw, nil
	}
	p, ok := findPart(&info.Part, part)
	if !ok {
		return nil, nil
	}
	if p.Type == "multipart" {
		return p.Body(raw), nil
	}
	b, err := message.Decode(raw, p)
	if err != nil {
		return nil, fmt.Errorf("binary section %s: %w", partString(part), err)
	}
	return b, nil
}

// NeedsLiteral8 tells whether BINARY data must be sent as a literal8
// ("~{n}") rather than a literal: when it holds a NUL byte (RFC 3516
// section 4.2, RFC 9051 section 4.3).
func NeedsLiteral8(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0
}

func partString(path []uint32) string {
	var b []byte
	for i, n := range path {
		if i > 0 {
			b = append(b, '.')
		}
		b = fmt.Appendf(b, "%d", n)
	}
	return string(b)
}
