package compose

import (
	"fmt"
	"io"
	"strings"
)

// Shape is what attaching a whole message needs to know of its bytes,
// read in one pass (ScanShape) so that the message is streamed, never
// held: whether it may go as message/rfc822 (RFC 2046 5.2.1 allows only
// 7bit, 8bit or binary; RFC 5322 2.1.1 lines of at most 998 bytes, 2.3
// no NUL, which submission refuses) and whether it ends with a line
// break.
type Shape struct {
	LongestLine int64 // bytes, without the CRLF
	EightBit    bool
	NUL         bool
	EndsInLF    bool
}

// asFile reports whether a message of this shape must be attached as a
// base64 file: message/rfc822 cannot carry it.
func (s Shape) asFile() bool { return s.LongestLine > 998 || s.NUL }

// ScanShape reads r to its end and returns its Shape.
func ScanShape(r io.Reader) (Shape, error) {
	var s Shape
	buf := make([]byte, 64<<10)
	var line int64 // bytes of the current line so far, CR included
	var prev byte
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			switch {
			case c == '\n':
				l := line
				if prev == '\r' {
					l--
				}
				s.LongestLine = max(s.LongestLine, l)
				line = 0
			case c >= 0x80:
				s.EightBit = true
				line++
			case c == 0:
				s.NUL = true
				line++
			default:
				line++
			}
			prev = c
		}
		if err == io.EOF {
			s.LongestLine = max(s.LongestLine, line)
			s.EndsInLF = prev == '\n'
			return s, nil
		}
		if err != nil {
			return s, fmt.Errorf("read message to attach: %w", err)
		}
	}
}

// ForwardedAttachment is a whole message of size bytes, read from body
// when the draft is written, as writeForwarded attaches one held in
// memory: message/rfc822 in 7bit or 8bit when its lines allow it, with a
// line break added at its end if it has none; else a base64
// application/octet-stream file, which every client can still open.
// name is the message's subject, made its file name.
func ForwardedAttachment(name string, size int64, shape Shape, body io.Reader) Attachment {
	fn := cleanFilename(name)
	if fn == "" || fn == "attachment" {
		fn = "message"
	}
	fn += ".eml"
	if shape.asFile() {
		return Attachment{Filename: fn, ContentType: "application/octet-stream", Body: body, Size: size}
	}
	enc := "7bit"
	if shape.EightBit {
		enc = "8bit"
	}
	if !shape.EndsInLF {
		body = io.MultiReader(body, strings.NewReader("\r\n"))
	}
	return Attachment{Filename: fn, ContentType: "message/rfc822", Encoded: body, Encoding: enc, Size: size}
}
