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

// Conversion to 7 bits (RFC 6152 section 3, RFC 2045 section 6): a message
// with 8-bit content may only go to a server that announced 8BITMIME.
// For one that did not, every part body holding 8-bit bytes is
// re-encoded: text as quoted-printable (readable, and it stays close to
// the original size), everything else as base64; parts labelled 8bit or
// binary whose bytes are 7-bit are relabelled 7bit. Header fields with
// 8-bit bytes (raw UTF-8, which needs SMTPUTF8, RFC 6532) cannot be
// converted without rewriting what the sender wrote: the message is
// refused instead (ErrNeeds8Bit), and the queue bounces it with a DSN.
//
// Both passes stream: memory does not grow with the message, only with
// the number of its parts and the size of one part header.

// ErrNeeds8Bit reports a message that cannot be made 7-bit: 8-bit bytes in
// a header (of the message, a part or an embedded message), in a body
// already labelled base64 or quoted-printable, or in a structure too
// broken to re-encode.
var ErrNeeds8Bit = errors.New("message cannot be converted to 7 bits")

// maxHeaderRewrite bounds a part header read into memory to change its
// Content-Transfer-Encoding.
const maxHeaderRewrite = 1 << 20

// SevenBit is a planned conversion of one message (Plan7Bit).
type SevenBit struct {
	segs []segment
}

type segKind int

const (
	segHeader segKind = iota + 1
	segBody
)

// segment is a header or a leaf body of the message, in offset order;
// the bytes between segments (delimiters, preambles, epilogues) are
// copied as they are.
type segment struct {
	kind       segKind
	start, end int64
	part       *Part
	root       bool // a message's own header (the top one or an embedded one)
	has8       bool // holds a byte >= 0x80 (pass one)
	// What pass two does: for a header, the transfer encoding to write
	// ("" keeps it); for a body, "Q" or "B" to encode, "" to copy.
	cte, encode string
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

// Plan7Bit reads the message that info describes from r once and plans
// its conversion. It returns nil and no error when the message has no
// 8-bit byte: it can go as it is. A message that cannot be converted
// gives an error wrapping ErrNeeds8Bit that says why.
func Plan7Bit(info *Info, r io.Reader) (*SevenBit, error) {
	c := &SevenBit{segs: segments(&info.Part, true, nil)}
	br := bufio.NewReaderSize(r, 64<<10)
	var pos int64
	any8 := false
	for i := range c.segs {
		s := &c.segs[i]
		if s.start < pos || s.end < s.start {
			return nil, fmt.Errorf("part offsets out of order at %d: %w", s.start, ErrNeeds8Bit)
		}
		gap8, err := scan8(br, s.start-pos)
		if err != nil {
			return nil, err
		}
		if s.has8, err = scan8(br, s.end-s.start); err != nil {
			return nil, err
		}
		pos = s.end
		any8 = any8 || gap8 || s.has8
	}
	rest8, err := scan8(br, -1)
	if err != nil {
		return nil, err
	}
	if !(any8 || rest8) {
		return nil, nil
	}
	if err := c.decide(); err != nil {
		return nil, err
	}
	return c, nil
}

// decide sets what pass two does with each segment.
func (c *SevenBit) decide() error {
	for i := range c.segs {
		s := &c.segs[i]
		p := s.part
		if s.kind == segHeader {
			if s.has8 {
				return fmt.Errorf("8-bit bytes in a header (RFC 6532 needs SMTPUTF8): %w", ErrNeeds8Bit)
			}
			if p.Encoding == "8BIT" || p.Encoding == "BINARY" {
				s.cte = "7bit" // a container, or a leaf whose body says otherwise below
			}
			continue
		}
		h := &c.segs[i-1] // a leaf body follows its own header
		switch {
		case !s.has8:
		case p.Encoding == "BASE64" || p.Encoding == "QUOTED-PRINTABLE":
			return fmt.Errorf("8-bit bytes in a %s body: %w", p.Encoding, ErrNeeds8Bit)
		case h.start == h.end && !h.root:
			// A synthetic part of a multipart without delimiters: there
			// is no header to say the new encoding in.
			return fmt.Errorf("8-bit bytes in a body without a header: %w", ErrNeeds8Bit)
		case p.Type == "text":
			s.encode, h.cte = "Q", "quoted-printable"
		default:
			s.encode, h.cte = "B", "base64"
		}
		if s.encode != "" && h.root {
			h.cte += "+mime"
		}
	}
	return nil
}

// scan8 reads n bytes (all when n < 0) and reports whether one is >= 0x80.
func scan8(br *bufio.Reader, n int64) (bool, error) {
	var d detect8
	var err error
	if n < 0 {
		_, err = io.Copy(&d, br)
	} else {
		_, err = io.CopyN(&d, br, n)
	}
	if err != nil {
		return false, fmt.Errorf("read message: %w", err)
	}
	return d.found, nil
}

// detect8 notes whether a byte >= 0x80 went through it.
type detect8 struct{ found bool }

func (d *detect8) Write(p []byte) (int, error) {
	if !d.found {
		for _, c := range p {
			if c >= 0x80 {
				d.found = true
				break
			}
		}
	}
	return len(p), nil
}

// Write writes the converted message to w, reading the original from r
// again (the same bytes that Plan7Bit read).
func (c *SevenBit) Write(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var pos int64
	for i := range c.segs {
		s := &c.segs[i]
		if err := copy7(bw, br, s.start-pos); err != nil {
			return err
		}
		var err error
		switch {
		case s.kind == segHeader && s.cte != "":
			err = rewriteHeader(bw, br, s.end-s.start, s.cte)
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
	if err := copy7(bw, br, -1); err != nil {
		return err
	}
	return bw.Flush()
}

// copy7 copies n bytes (all when n < 0) between parts: delimiters,
// preambles and epilogues, which no reader shows. An 8-bit byte there
// becomes "?", so that what is sent is 7-bit throughout.
func copy7(w *bufio.Writer, br *bufio.Reader, n int64) error {
	for n != 0 {
		b, err := br.ReadByte()
		if err == io.EOF && n < 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
		if b >= 0x80 {
			b = '?'
		}
		w.WriteByte(b)
		if n > 0 {
			n--
		}
	}
	return nil
}

// rewriteHeader copies a header of n bytes (its blank line included)
// without its Content-Transfer-Encoding fields and with cte instead;
// cte "X+mime" also adds MIME-Version when missing (RFC 2045 4: a
// transfer encoding means nothing without it).
func rewriteHeader(w *bufio.Writer, br *bufio.Reader, n int64, cte string) error {
	if n > maxHeaderRewrite {
		return fmt.Errorf("header of %d bytes: %w", n, ErrNeeds8Bit)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(br, h); err != nil {
		return fmt.Errorf("read header: %w", err)
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
				w.Write(line)
			}
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		skipping = asciiEqualFold(name, "content-transfer-encoding")
		hasMIME = hasMIME || asciiEqualFold(name, "mime-version")
		if !skipping {
			w.Write(line)
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

// encodeBody encodes n bytes of a body: "Q" quoted-printable (RFC 2045
// 6.7; line breaks stay line breaks), "B" base64 (6.8) in lines of 76.
func encodeBody(w *bufio.Writer, br *bufio.Reader, n int64, how string) error {
	src := io.LimitReader(br, n)
	if how == "Q" {
		qp := quotedprintable.NewWriter(w)
		if _, err := io.Copy(qp, src); err != nil {
			return err
		}
		return qp.Close()
	}
	lw := &lineWriter{w: w}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := io.Copy(enc, src); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
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
