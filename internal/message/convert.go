package message

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// Conversion for the wire. What goes out over SMTP must suit the next
// server:
//
//   - 7 bits (RFC 6152 section 3, RFC 2045 section 6): a message with
//     8-bit content may only go to a server that announced 8BITMIME. For
//     one that did not, every part body holding 8-bit bytes is
//     re-encoded: text as quoted-printable (readable, and it stays close
//     to the original size), everything else as base64; parts labelled
//     8bit or binary whose bytes are 7-bit are relabelled 7bit. Header
//     fields with 8-bit bytes (raw UTF-8, which needs SMTPUTF8, RFC 6532)
//     cannot be converted without rewriting what the sender wrote: the
//     message is refused instead (ErrNeeds8Bit).
//   - Short lines (RFC 5321 4.5.3.1.6, RFC 5322 2.1.1): no line longer
//     than 998 octets before its CRLF, which strict servers refuse or
//     cut (breaking the message and its DKIM signature). A part body
//     with such a line is re-encoded the same way (quoted-printable or
//     base64, whose lines are 76 octets); one already in base64 is
//     wrapped again, one in quoted-printable gets soft line breaks, so
//     that each decodes to the same bytes. A header field line is folded
//     (RFC 5322 2.2.3: a CRLF before white space, which unfolding
//     removes), and one without white space to fold at is refused
//     (ErrLongLine). Lines of a preamble or epilogue, which no reader
//     shows, are broken.
//
// One plan serves both, so that a message bound for a server without
// 8BITMIME is converted once. Both passes stream: memory does not grow
// with the message, only with the number of its parts and the size of
// one part header.

// MaxLine is the longest line SMTP carries, in octets without its CRLF
// (RFC 5321 4.5.3.1.6).
const MaxLine = 998

// Need says what a converted message must be.
type Need uint8

const (
	// Need7Bit: no byte >= 0x80 (a server without 8BITMIME).
	Need7Bit Need = 1 << iota
	// NeedShortLines: no line over MaxLine octets.
	NeedShortLines
)

// ErrNeeds8Bit reports a message that cannot be made 7-bit: 8-bit bytes in
// a header (of the message, a part or an embedded message), in a body
// already labelled base64 or quoted-printable, or in a structure too
// broken to re-encode.
var ErrNeeds8Bit = errors.New("message cannot be converted to 7 bits")

// ErrLongLine reports a line over MaxLine octets that cannot be made
// shorter without changing what it says: a header field line without
// white space to fold at, or a body line in a part without a header to
// declare a new encoding in.
var ErrLongLine = errors.New("line longer than 998 octets cannot be re-encoded")

// LongHeaderError is the ErrLongLine of a header field line that cannot be
// folded.
type LongHeaderError struct {
	Field  string // its name, "" when the line does not start a field
	Octets int
}

func (e *LongHeaderError) Error() string {
	f := "a header field"
	if e.Field != "" {
		f = "header field " + e.Field
	}
	return fmt.Sprintf("%s has a line of %d octets without white space to fold it at (RFC 5322 2.1.1: at most %d): %v",
		f, e.Octets, MaxLine, ErrLongLine)
}

func (e *LongHeaderError) Unwrap() error { return ErrLongLine }

// maxHeaderRewrite bounds a part header read into memory to change its
// Content-Transfer-Encoding or fold its lines.
const maxHeaderRewrite = 1 << 20

// foldAt is where folded header lines are broken when they can be (RFC
// 5322 2.1.1: lines SHOULD be at most 78 characters).
const foldAt = 78

// Conversion is a planned conversion of one message (Plan).
type Conversion struct {
	segs []segment
	need Need
}

type segKind int

const (
	segHeader segKind = iota + 1
	segBody
)

// segment is a header or a leaf body of the message, in offset order;
// the bytes between segments (delimiters, preambles, epilogues) are
// copied as they are, but for what copyGap changes.
type segment struct {
	kind       segKind
	start, end int64
	part       *Part
	root       bool // a message's own header (the top one or an embedded one)
	has8       bool // holds a byte >= 0x80 (pass one)
	long       bool // holds a line over MaxLine octets (pass one)
	// What pass two does: for a header, the transfer encoding to write
	// ("" keeps it) and whether to fold its long lines; for a body, "Q"
	// or "B" to encode, "W" to wrap base64 again, "S" to add soft line
	// breaks to quoted-printable, "" to copy.
	cte, encode string
	fold        bool
}

// segments lists p's headers and leaf bodies in offset order.
func segments(p *Part, root bool, out []segment) []segment {
	out = append(out, segment{kind: segHeader, start: p.HeaderStart, end: p.BodyStart, part: p, root: root})
	switch {
	case p.IsMultipart() && len(p.Parts) > 0:
		for i := range p.Parts {
			out = segments(&p.Parts[i], false, out)
		}
	case p.Message != nil:
		out = segments(&p.Message.Part, true, out)
	default:
		out = append(out, segment{kind: segBody, start: p.BodyStart, end: p.End, part: p})
	}
	return out
}

// Plan reads the message that info describes from r once and plans its
// conversion to what need asks. It returns nil and no error when the
// message is that already: it can go as it is. A message that cannot be
// converted gives an error wrapping ErrNeeds8Bit or ErrLongLine that
// says why.
func Plan(info *Info, r io.Reader, need Need) (*Conversion, error) {
	c := &Conversion{segs: segments(&info.Part, true, nil), need: need}
	br := bufio.NewReaderSize(r, 64<<10)
	sc := &lineScan{check8: need&Need7Bit != 0}
	var hdr []byte // a header read whole, to check that it folds
	var pos int64
	todo := false
	for i := range c.segs {
		s := &c.segs[i]
		if s.start < pos || s.end < s.start {
			return nil, fmt.Errorf("part offsets out of order at %d: %w", s.start, c.unconvertible())
		}
		gap, err := sc.span(br, s.start-pos)
		if err != nil {
			return nil, err
		}
		todo = todo || c.wants(gap)
		n := s.end - s.start
		if s.kind == segHeader && need&NeedShortLines != 0 && n <= maxHeaderRewrite {
			if int64(cap(hdr)) < n {
				hdr = make([]byte, n)
			}
			hdr = hdr[:n]
			if _, err := io.ReadFull(br, hdr); err != nil {
				return nil, fmt.Errorf("read message: %w", err)
			}
			sc.Write(hdr)
			*s = sc.take(*s)
			if s.long {
				if err := foldHeader(io.Discard, hdr); err != nil {
					return nil, err
				}
			}
		} else {
			f, err := sc.span(br, n)
			if err != nil {
				return nil, err
			}
			s.has8, s.long = f.has8, f.long
		}
		pos = s.end
		todo = todo || c.wants(found{s.has8, s.long})
	}
	rest, err := sc.span(br, -1)
	if err != nil {
		return nil, err
	}
	if !todo && !c.wants(rest) {
		return nil, nil
	}
	if err := c.decide(); err != nil {
		return nil, err
	}
	return c, nil
}

// HasLongLine reports whether raw has a line over MaxLine octets before
// its CRLF: whether it needs Plan with NeedShortLines.
func HasLongLine(raw []byte) bool { return ScanLines(raw).Long }

// Lines is what ScanLines finds in a message's lines.
type Lines struct {
	// Long: a line over MaxLine octets before its CRLF (HasLongLine).
	Long bool
	// NUL is the offset of the first NUL byte, -1 for none: RFC 5322
	// 2.3 and RFC 2045 2.7, 2.8 allow none in 7bit or 8bit data, and
	// RFC 6152 none in 8BITMIME; only BINARYMIME (RFC 3030) carries one.
	NUL int
}

// ScanLines reads raw's lines once, for what a message to send must not
// have: each line is looked at for a NUL while it is in the cache, so a
// spooled message of tens of MB is read from memory once.
func ScanLines(raw []byte) Lines {
	res := Lines{NUL: -1}
	off := 0
	for off < len(raw) && (!res.Long || res.NUL < 0) {
		line := raw[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		if !res.Long && len(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))) > MaxLine {
			res.Long = true
		}
		if res.NUL < 0 {
			if j := bytes.IndexByte(line, 0); j >= 0 {
				res.NUL = off + j
			}
		}
		off += len(line)
	}
	return res
}

// unconvertible is the error kind of a broken structure: the one of what
// was asked.
func (c *Conversion) unconvertible() error {
	if c.need&Need7Bit != 0 {
		return ErrNeeds8Bit
	}
	return ErrLongLine
}

// wants reports whether what a span holds must be converted.
func (c *Conversion) wants(f found) bool {
	return f.has8 && c.need&Need7Bit != 0 || f.long && c.need&NeedShortLines != 0
}

// decide sets what pass two does with each segment.
func (c *Conversion) decide() error {
	need7, short := c.need&Need7Bit != 0, c.need&NeedShortLines != 0
	for i := range c.segs {
		s := &c.segs[i]
		p := s.part
		if s.kind == segHeader {
			if s.has8 && need7 {
				return fmt.Errorf("8-bit bytes in a header (RFC 6532 needs SMTPUTF8): %w", ErrNeeds8Bit)
			}
			if s.long && short {
				if s.end-s.start > maxHeaderRewrite {
					return fmt.Errorf("a header of %d bytes with a line over %d octets: %w", s.end-s.start, MaxLine, ErrLongLine)
				}
				s.fold = true
			}
			if need7 && (p.Encoding == "8BIT" || p.Encoding == "BINARY") {
				s.cte = "7bit" // a container, or a leaf whose body says otherwise below
			}
			continue
		}
		h := &c.segs[i-1] // a leaf body follows its own header
		bad8, long := s.has8 && need7, s.long && short
		switch {
		case !bad8 && !long:
		case p.Encoding == "BASE64" || p.Encoding == "QUOTED-PRINTABLE":
			if bad8 {
				return fmt.Errorf("8-bit bytes in a %s body: %w", p.Encoding, ErrNeeds8Bit)
			}
			// Only its lines are too long: the same encoding, shorter
			// lines, the same decoded bytes.
			s.encode = "W"
			if p.Encoding == "QUOTED-PRINTABLE" {
				s.encode = "S"
			}
		case h.start == h.end && !h.root:
			// A synthetic part of a multipart without delimiters: there
			// is no header to say the new encoding in.
			if bad8 {
				return fmt.Errorf("8-bit bytes in a body without a header: %w", ErrNeeds8Bit)
			}
			return fmt.Errorf("a line over %d octets in a body without a header: %w", MaxLine, ErrLongLine)
		case p.Type == "text":
			s.encode, h.cte = "Q", "quoted-printable"
		default:
			s.encode, h.cte = "B", "base64"
		}
		if s.encode == "Q" || s.encode == "B" {
			if h.end-h.start > maxHeaderRewrite {
				return fmt.Errorf("a part header of %d bytes to rewrite: %w", h.end-h.start, c.unconvertible())
			}
			if h.root {
				h.cte += "+mime"
			}
		}
	}
	return nil
}

// found is what a span of the message holds.
type found struct{ has8, long bool }

// lineScan notes what goes through it: 8-bit bytes (when check8) and
// lines over MaxLine octets. Its line count runs on across spans, since
// a body's last line ends in the delimiter after it.
type lineScan struct {
	check8 bool
	col    int // octets of the current line, CR and LF not counted
	cur    found
}

func (d *lineScan) Write(p []byte) (int, error) {
	n := len(p)
	if d.check8 && !d.cur.has8 {
		for _, c := range p {
			if c >= 0x80 {
				d.cur.has8 = true
				break
			}
		}
	}
	for len(p) > 0 {
		line := p
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			line = p[:i]
		}
		d.col += len(line) - bytes.Count(line, []byte{'\r'})
		d.cur.long = d.cur.long || d.col > MaxLine
		if i < 0 {
			break
		}
		d.col = 0
		p = p[i+1:]
	}
	return n, nil
}

// take moves what the scan found into s and starts a new span.
func (d *lineScan) take(s segment) segment {
	s.has8, s.long = d.cur.has8, d.cur.long
	d.cur = found{}
	return s
}

// span reads n bytes (all when n < 0) and returns what they hold.
func (d *lineScan) span(br *bufio.Reader, n int64) (found, error) {
	var err error
	if n < 0 {
		_, err = io.Copy(d, br)
	} else {
		_, err = io.CopyN(d, br, n)
	}
	if err != nil {
		return found{}, fmt.Errorf("read message: %w", err)
	}
	f := d.cur
	d.cur = found{}
	return f, nil
}

// Write writes the converted message to w, reading the original from r
// again (the same bytes that Plan read).
func (c *Conversion) Write(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var pos int64
	for i := range c.segs {
		s := &c.segs[i]
		if err := c.copyGap(bw, br, s.start-pos); err != nil {
			return err
		}
		var err error
		switch {
		case s.kind == segHeader && (s.cte != "" || s.fold):
			err = rewriteHeader(bw, br, s.end-s.start, s.cte, s.fold)
		case s.kind == segBody && s.encode != "":
			err = encodeBody(bw, br, s.end-s.start, s.encode)
		default:
			_, err = io.CopyN(bw, br, s.end-s.start)
		}
		if err != nil {
			return fmt.Errorf("convert part at %d: %w", s.start, err)
		}
		pos = s.end
	}
	if err := c.copyGap(bw, br, -1); err != nil {
		return err
	}
	return bw.Flush()
}

// copyGap copies n bytes (all when n < 0) between parts: delimiters,
// preambles and epilogues, which no reader shows. For 7 bits an 8-bit
// byte there becomes "?"; for short lines a line over MaxLine is broken.
func (c *Conversion) copyGap(w *bufio.Writer, br *bufio.Reader, n int64) error {
	need7, short := c.need&Need7Bit != 0, c.need&NeedShortLines != 0
	col := 0
	for n != 0 {
		b, err := br.ReadByte()
		if err == io.EOF && n < 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		if b >= 0x80 && need7 {
			b = '?'
		}
		switch {
		case b == '\n':
			col = 0
		case b == '\r':
		case col == MaxLine && short:
			w.WriteString("\r\n")
			col = 1
		default:
			col++
		}
		w.WriteByte(b)
		if n > 0 {
			n--
		}
	}
	return nil
}

// rewriteHeader copies a header of n bytes (its blank line included),
// with its lines over MaxLine folded when fold is set, and, when cte is
// set, without its Content-Transfer-Encoding fields and with cte instead;
// cte "X+mime" also adds MIME-Version when missing (RFC 2045 4: a
// transfer encoding means nothing without it).
func rewriteHeader(w *bufio.Writer, br *bufio.Reader, n int64, cte string, fold bool) error {
	if n > maxHeaderRewrite {
		return fmt.Errorf("header of %d bytes: %w", n, ErrLongLine)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(br, h); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	if cte == "" {
		return foldHeader(w, h)
	}
	cte, addMIME := strings.CutSuffix(cte, "+mime")
	// Split off the blank line that ends the header, if any.
	fields, end := h, []byte(nil)
	switch {
	case bytes.HasSuffix(h, []byte("\r\n\r\n")):
		fields, end = h[:len(h)-2], []byte("\r\n")
	case bytes.Equal(h, []byte("\r\n")):
		fields, end = nil, h
	}
	hasMIME := false
	skipping := false
	for line := range bytes.Lines(fields) {
		if line[0] == ' ' || line[0] == '\t' {
			if !skipping {
				if err := writeLine(w, line, fold); err != nil {
					return err
				}
			}
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		skipping = asciiEqualFold(name, "content-transfer-encoding")
		hasMIME = hasMIME || asciiEqualFold(name, "mime-version")
		if !skipping {
			if err := writeLine(w, line, fold); err != nil {
				return err
			}
		}
	}
	if len(fields) > 0 && !bytes.HasSuffix(fields, []byte("\n")) {
		w.WriteString("\r\n")
	}
	if addMIME && !hasMIME {
		w.WriteString("MIME-Version: 1.0\r\n")
	}
	fmt.Fprintf(w, "Content-Transfer-Encoding: %s\r\n", cte)
	_, err := w.Write(end)
	return err
}

// foldHeader writes a header with its lines over MaxLine folded.
func foldHeader(w io.Writer, h []byte) error {
	for line := range bytes.Lines(h) {
		if err := writeLine(w, line, true); err != nil {
			return err
		}
	}
	return nil
}

// writeLine writes one header line (its line ending included), folded
// when fold is set and it is over MaxLine octets: CRLF is put before
// white space (RFC 5322 2.2.3), where a line of at most foldAt octets
// ends if it can, else where the longest line is shortest. A piece is
// never white space only, and unfolding gives the line back. A line
// without white space to fold at in time is an error wrapping
// ErrLongLine.
func writeLine(w io.Writer, line []byte, fold bool) error {
	body := bytes.TrimRight(line, "\r\n")
	if !fold || len(body) <= MaxLine {
		_, err := w.Write(line)
		return err
	}
	eol := line[len(body):]
	if len(eol) == 0 {
		eol = []byte("\r\n")
	}
	// Folding after the last visible character would leave a line of
	// white space only.
	last := bytes.LastIndexFunc(body, func(r rune) bool { return r != ' ' && r != '\t' })
	name, _, _ := bytes.Cut(body, []byte(":"))
	if len(name) > 76 || bytes.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		name = nil // a continuation line, or no field name (RFC 5322 3.6.8)
	}
	for len(body) > foldAt {
		at := -1
		for p := 1; p <= MaxLine && p < last; p++ {
			if (body[p] == ' ' || body[p] == '\t') && body[p-1] != ' ' && body[p-1] != '\t' {
				if p > foldAt && at > 0 {
					break
				}
				at = p
				if p > foldAt {
					break
				}
			}
		}
		if at < 0 {
			if len(body) <= MaxLine {
				break
			}
			return &LongHeaderError{Field: string(name), Octets: len(body)}
		}
		if _, err := w.Write(body[:at]); err != nil {
			return err
		}
		if _, err := w.Write([]byte("\r\n")); err != nil {
			return err
		}
		body, last = body[at:], last-at
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	_, err := w.Write(eol)
	return err
}

// encodeBody encodes n bytes of a body: "Q" quoted-printable (RFC 2045
// 6.7; line breaks stay line breaks), "B" base64 (6.8) in lines of 76,
// "W" base64 already, wrapped again in lines of 76, "S"
// quoted-printable already, with soft line breaks added.
func encodeBody(w *bufio.Writer, br *bufio.Reader, n int64, how string) error {
	src := io.LimitReader(br, n)
	switch how {
	case "Q":
		qp := quotedprintable.NewWriter(w)
		if _, err := io.Copy(qp, src); err != nil {
			return err
		}
		return qp.Close()
	case "S":
		_, err := io.Copy(&softBreaker{w: w}, src)
		return err
	}
	lw := &lineWriter{w: w}
	var err error
	if how == "W" {
		// Decoders skip what is not of the alphabet (RFC 2045 6.8),
		// line breaks included: only the alphabet is kept.
		_, err = io.Copy(base64Only{lw}, src)
	} else {
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		if _, err = io.Copy(enc, src); err == nil {
			err = enc.Close()
		}
	}
	if err != nil {
		return err
	}
	if lw.col > 0 {
		w.WriteString("\r\n")
	}
	return nil
}

// lineWriter breaks base64 into lines of 76 characters (RFC 2045 6.8).
type lineWriter struct {
	w   *bufio.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(76-l.col, len(p))
		l.w.Write(p[:k])
		l.col += k
		p = p[k:]
		if l.col == 76 {
			l.w.WriteString("\r\n")
			l.col = 0
		}
	}
	return n, nil
}

// base64Only passes on the characters of the base64 alphabet and "=".
type base64Only struct{ w io.Writer }

func (b base64Only) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for _, c := range p {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=' {
			out = append(out, c)
		}
	}
	_, err := b.w.Write(out)
	return len(p), err
}

// softBreaker copies quoted-printable, adding a soft line break ("=" CRLF,
// RFC 2045 6.7 rule 5) before a character that would pass column 75, so
// that encoded lines are at most 76 octets. It never breaks inside an
// "=XX" escape nor between CR and LF, and before white space only when
// the line would pass MaxLine (such white space might end up ending an
// encoded line, which decoders drop: only in quoted-printable that was
// malformed already).
type softBreaker struct {
	w   *bufio.Writer
	col int
	esc int // bytes of an "=" escape still to come
}

func (s *softBreaker) Write(p []byte) (int, error) {
	for _, c := range p {
		switch {
		case c == '\n':
			s.col, s.esc = 0, 0
		case s.esc > 0:
			s.esc--
			s.col++
		case c == '\r':
		default:
			// White space is passed over unless the line would
			// otherwise grow too long.
			if s.col >= 75 && (c != ' ' && c != '\t' || s.col >= MaxLine-1) {
				s.w.WriteString("=\r\n")
				s.col = 0
			}
			if c == '=' {
				s.esc = 2
			}
			s.col++
		}
		s.w.WriteByte(c)
	}
	return len(p), nil
}
