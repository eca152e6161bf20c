package message

import (
	"bufio"
	"errors"
	"io"
)

// A FieldScanner finds the fields of a raw header read from a reader, as
// Fields finds them in memory, without holding the header: its memory is
// a read buffer and one field name, however large the header. IMAP's
// BODY[HEADER.FIELDS (...)] of a message whose header is tens of
// megabytes picks its fields with it, from every connection at once.
//
// Each field is given by its name and its range in the header, so that
// the caller reads the bytes it keeps again at their offsets.
type FieldScanner struct {
	br      *bufio.Reader
	off     int64 // offset in the header of the next unread byte
	first   bool  // at the header's first line
	done    bool
	err     error
	maxName int
	name    []byte
}

// NewFieldScanner returns a scanner of the header r holds, which ends
// where r does (Part.Header's range). Names longer than maxName bytes are
// reported cut: a caller that matches names needs no more than its
// longest.
func NewFieldScanner(r io.Reader, maxName int) *FieldScanner {
	return &FieldScanner{br: bufio.NewReaderSize(r, 32<<10), first: true, maxName: max(maxName, len("From"))}
}

// Next returns the next field: its name as written (without the white
// space before its colon), cut to the scanner's maxName bytes (cut says
// so), valid until the next call, and its range [start, end) in the
// header: name, value, continuation lines and line breaks, as Fields
// yields it. ok is false at the end of the fields (see Err).
func (s *FieldScanner) Next() (name []byte, cut bool, start, end int64, ok bool) {
	for !s.done {
		start = s.off
		first := s.first
		s.first = false
		c, err := s.peek()
		if err != nil {
			s.stop(err)
			break
		}
		switch {
		case c == ' ' || c == '\t':
			// A continuation with no field before it (Parse notes it).
			s.skipLine()
			continue
		case c == '\r' || c == '\n':
			// The blank line (a line of CRs counts) or a line that is
			// not a field: the end of the header either way.
			s.stop(nil)
			continue
		}
		field, mbox, cut := s.readName(first)
		switch {
		case field:
			s.skipLine()
			for !s.done {
				if c, err := s.peek(); err != nil || c != ' ' && c != '\t' {
					break
				}
				s.skipLine()
			}
			return s.name, cut, start, s.off, true
		case mbox:
			// An mbox "From " line before the first field.
			s.skipLine()
		default:
			s.stop(nil)
		}
	}
	return nil, false, 0, 0, false
}

// Err returns the error that ended the scan, if it was not the header's
// end.
func (s *FieldScanner) Err() error { return s.err }

func (s *FieldScanner) stop(err error) {
	s.done = true
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
}

func (s *FieldScanner) peek() (byte, error) {
	b, err := s.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (s *FieldScanner) readByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err == nil {
		s.off++
	}
	return c, err
}

// readName reads a line's start as fieldNameEnd reads it: field is true
// when the line is a header field (its name is in s.name, up to the
// colon, which is consumed), mbox when it is instead the first line and
// begins with "From ".
func (s *FieldScanner) readName(first bool) (field, mbox, cut bool) {
	s.name = s.name[:0]
	n := 0
	for {
		c, err := s.readByte()
		switch {
		case err != nil:
			s.stop(err)
			return false, false, false
		case c == ':':
			return n > 0, false, n > s.maxName
		case c <= ' ' || c >= 127:
			// White space may end a name, if a colon follows it.
			ws := c == ' ' || c == '\t'
			if ws && n > 0 && s.skipBlanks() {
				return true, false, n > s.maxName
			}
			return false, first && c == ' ' && n == 4 && string(s.name) == "From", false
		}
		if n < s.maxName {
			s.name = append(s.name, c)
		}
		n++
	}
}

// skipBlanks reads spaces and tabs and reports whether a colon follows
// them (consumed then); the byte after the blanks is left unread
// otherwise.
func (s *FieldScanner) skipBlanks() bool {
	for {
		c, err := s.peek()
		if err != nil {
			return false
		}
		if c != ' ' && c != '\t' {
			if c == ':' {
				s.readByte()
				return true
			}
			return false
		}
		s.readByte()
	}
}

// skipLine reads up to and including the next LF, or to the end.
func (s *FieldScanner) skipLine() {
	for {
		b, err := s.br.ReadSlice('\n')
		s.off += int64(len(b))
		if err == nil {
			return
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			s.stop(err)
			return
		}
	}
}
