package imapmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// Content is the value of a FETCH content item, the bytes Value returns,
// read from the stored message as it is written instead of held: a part
// is a range of the raw message that Info's offsets locate, so BODY[2] of
// a 20 MB message costs a buffer, not the message, however many
// connections ask for it at once. BINARY is decoded as it is read
// (message.NewDecoder); its length, which the literal states first, and
// whether it holds a NUL (a literal8, RFC 3516 section 4.2) take one
// decoding pass before the one that is written.
//
// HEADER.FIELDS[.NOT] is read from a large header the same way, its
// fields picked as they are written (fieldPick); that of a header of up
// to 64 KiB, nearly every one, is made in memory.
//
// Every value is Value's, byte for byte (TestContentMatchesValue), but
// for one case no mailer writes: BINARY of a quoted-printable body with
// more than 1 KiB of white space and "=" and no line break where the
// decoder cuts its 64 KiB pieces, which it decodes as if the body ended
// there (message.qpCut). Its length and bytes still agree.
type Content struct {
	raw     io.ReaderAt
	off, n  int64 // the section's bytes in raw, before the partial
	binary  bool  // BINARY: NULs kept (see Literal8), enc undone
	enc     string
	partial *imapwire.Partial
	held    []byte     // HEADER.FIELDS[.NOT] of a small header (heldHeader); never nil when made
	pick    *fieldPick // HEADER.FIELDS[.NOT] of a larger one

	measured bool
	total    int64 // decoded bytes of the whole section (BINARY), or picked (pick)
	nul      bool  // a NUL within the partial (BINARY)
}

// Open locates the value of it, a content item of the message raw (size
// bytes, read at offsets) whose Info is info, as Value would give it.
// It reads raw only for HEADER.FIELDS[.NOT] of a small header; its
// errors are Check's, and those of reading raw.
func Open(raw io.ReaderAt, size int64, info *message.Info, it *imapwire.FetchItem) (*Content, error) {
	return open(raw, size, info, it, heldHeader)
}

// heldHeader is the largest header whose fields Open picks in memory, as
// Section does: the header of nearly every message, for the clients that
// fetch a few fields of every message in a mailbox, at one read of the
// blob instead of the scans and reads of fieldPick.
const heldHeader = 64 << 10

// open is Open, holding headers of up to held bytes.
func open(raw io.ReaderAt, size int64, info *message.Info, it *imapwire.FetchItem, held int64) (*Content, error) {
	if info == nil {
		return nil, errors.New("content: no message info")
	}
	c := &Content{raw: raw}
	var s imapwire.Section
	switch it.Kind {
	case imapwire.FetchRFC822:
	case imapwire.FetchRFC822Header:
		s.Spec = imapwire.SectionHeader
	case imapwire.FetchRFC822Text:
		s.Spec = imapwire.SectionText
	case imapwire.FetchBodySection:
		s, c.partial = it.Section, it.Partial
	case imapwire.FetchBinary, imapwire.FetchBinarySize:
		c.binary, c.partial = true, it.Partial
		return c, c.locateBinary(info, size, it.Section.Part)
	default:
		return nil, fmt.Errorf("content of fetch item %d: not a content item", it.Kind)
	}
	fields, err := c.locateSection(info, size, s)
	if err != nil || !fields {
		return c, err
	}
	not := s.Spec == imapwire.SectionHeaderFieldsNot
	if c.n <= held {
		h := make([]byte, c.n)
		if k, err := c.raw.ReadAt(h, c.off); k < len(h) {
			return nil, fmt.Errorf("read header of %d bytes at %d: %w", len(h), c.off, err)
		}
		c.held = noNUL(headerFields(h, s.Fields, not))
		return c, nil
	}
	c.pick = &fieldPick{raw: c.raw, off: c.off, n: c.n, names: s.Fields, not: not}
	return c, nil
}

// locateSection sets the range of BODY[s], as Section finds it; fields
// tells that the range is a header to pick fields from.
func (c *Content) locateSection(info *message.Info, size int64, s imapwire.Section) (fields bool, err error) {
	if len(s.Part) == 0 {
		switch s.Spec {
		case imapwire.SectionWhole:
			c.off, c.n = 0, max(size, 0)
			return false, nil
		case imapwire.SectionMIME:
			return false, fmt.Errorf("section MIME without part number: %w", errBadSection)
		}
		return c.locateMessage(&info.Part, size, s)
	}
	p, ok := findPart(&info.Part, s.Part)
	if !ok {
		return false, nil
	}
	switch s.Spec {
	case imapwire.SectionWhole:
		c.span(p.BodyStart, p.End, size)
	case imapwire.SectionMIME:
		c.span(p.HeaderStart, p.BodyStart, size)
	default:
		if !isMessage(p) {
			return false, nil
		}
		return c.locateMessage(embeddedRoot(p), size, s)
	}
	return false, nil
}

// locateMessage is messageSection's range.
func (c *Content) locateMessage(root *message.Part, size int64, s imapwire.Section) (fields bool, err error) {
	switch s.Spec {
	case imapwire.SectionHeader:
		c.span(root.HeaderStart, root.BodyStart, size)
	case imapwire.SectionText:
		c.span(root.BodyStart, root.End, size)
	case imapwire.SectionHeaderFields, imapwire.SectionHeaderFieldsNot:
		c.span(root.HeaderStart, root.BodyStart, size)
		return true, nil
	default:
		return false, fmt.Errorf("section spec %d: %w", s.Spec, errBadSection)
	}
	return false, nil
}

// locateBinary is Binary's range and encoding.
func (c *Content) locateBinary(info *message.Info, size int64, part []uint32) error {
	if len(part) == 0 {
		c.off, c.n = 0, max(size, 0)
		return nil
	}
	p, ok := findPart(&info.Part, part)
	if !ok {
		return nil
	}
	c.span(p.BodyStart, p.End, size)
	if p.Type == "multipart" {
		return nil
	}
	// NewDecoder knows the encodings Decode knows, and returns the body
	// itself for those that leave it as it is.
	probe := io.Reader(bytes.NewReader(nil))
	d, err := message.NewDecoder(probe, p.Encoding)
	if err != nil {
		return fmt.Errorf("binary section %s: %w", partString(part), err)
	}
	if d != probe {
		c.enc = p.Encoding
	}
	return nil
}

// span sets the range [s, e) clamped to a message of size bytes, as
// message.Part's Header and Body clamp theirs.
func (c *Content) span(s, e, size int64) {
	e = min(e, max(size, 0))
	s = min(max(s, 0), e)
	c.off, c.n = s, max(e-s, 0)
}

// window is the part of a value of total bytes that the partial keeps
// (Partial): from offset from, n bytes.
func (c *Content) window(total int64) (from, n int64) {
	if c.partial == nil {
		return 0, total
	}
	if c.partial.Offset >= uint64(total) {
		return total, 0
	}
	return int64(c.partial.Offset), int64(min(c.partial.Count, uint64(total)-c.partial.Offset))
}

// Size is the value's length in bytes, a literal's or BINARY.SIZE's.
func (c *Content) Size() (int64, error) {
	if c.held != nil {
		_, n := c.window(int64(len(c.held)))
		return n, nil
	}
	if c.enc == "" && c.pick == nil {
		_, n := c.window(c.n)
		return n, nil
	}
	if err := c.measure(); err != nil {
		return 0, err
	}
	_, n := c.window(c.total)
	return n, nil
}

// Literal8 tells whether the value must go as a literal8 (NeedsLiteral8):
// a BINARY value holding a NUL. BODY values never do: their NULs are
// sent as 0x80 (noNUL).
func (c *Content) Literal8() (bool, error) {
	if !c.binary {
		return false, nil
	}
	if err := c.measure(); err != nil {
		return false, err
	}
	return c.nul, nil
}

// measure reads a BINARY value once: its decoded length, and whether its
// partial holds a NUL. A value as stored is only read for the NUL, and
// only within the partial. Of HEADER.FIELDS[.NOT], it picks the fields
// once for their length.
func (c *Content) measure() error {
	if c.measured {
		return nil
	}
	var err error
	switch {
	case c.pick != nil:
		c.total, err = c.pick.size()
	case c.enc == "":
		from, n := c.window(c.n)
		_, c.nul, err = scanNUL(io.NewSectionReader(c.raw, c.off+from, n), 0, -1)
		c.total = c.n
	default:
		// The partial's end is known before the total (it may be past it).
		from, to := int64(0), int64(-1)
		if c.partial != nil {
			from = int64(min(c.partial.Offset, 1<<61))
			to = from + int64(min(c.partial.Count, 1<<61))
		}
		var r io.Reader
		if r, err = c.decoded(); err == nil {
			c.total, c.nul, err = scanNUL(r, from, to)
		}
	}
	if err != nil {
		return fmt.Errorf("measure section of %d bytes at %d: %w", c.n, c.off, err)
	}
	c.measured = true
	return nil
}

// scanNUL reads r to its end and returns how many bytes it read and
// whether those from offset from up to to (the end when negative) hold a
// NUL.
func scanNUL(r io.Reader, from, to int64) (total int64, nul bool, err error) {
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		lo, hi := max(from-total, 0), int64(k)
		if to >= 0 {
			hi = min(hi, to-total)
		}
		if lo < hi && !nul {
			nul = bytes.IndexByte(buf[lo:hi], 0) >= 0
		}
		total += int64(k)
		if err == io.EOF {
			return total, nul, nil
		}
		if err != nil {
			return total, nul, err
		}
	}
}

// decoded reads the section from its start, its encoding undone for
// BINARY.
func (c *Content) decoded() (io.Reader, error) {
	r := io.Reader(io.NewSectionReader(c.raw, c.off, c.n))
	if c.enc == "" {
		return r, nil
	}
	return message.NewDecoder(r, c.enc)
}

// Reader reads the value: Size bytes.
func (c *Content) Reader() (io.Reader, error) {
	if c.held != nil {
		return bytes.NewReader(Partial(c.held, c.partial)), nil
	}
	if c.pick != nil {
		if err := c.measure(); err != nil {
			return nil, err
		}
		from, n := c.window(c.total)
		r := c.pick.reader()
		r.skip = from
		return NoNULReader(io.LimitReader(r, n)), nil
	}
	if c.enc == "" {
		from, n := c.window(c.n)
		r := io.Reader(io.NewSectionReader(c.raw, c.off+from, n))
		if !c.binary {
			r = NoNULReader(r)
		}
		return r, nil
	}
	if err := c.measure(); err != nil {
		return nil, err
	}
	from, n := c.window(c.total)
	r, err := c.decoded()
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, r, from); err != nil {
		return nil, fmt.Errorf("skip %d decoded bytes of section at %d: %w", from, c.off, err)
	}
	return io.LimitReader(r, n), nil
}
