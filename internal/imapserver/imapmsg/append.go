package imapmsg

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
)

// BinaryAppend returns the form in which a message uploaded as a literal8
// (APPEND with "~{n}", RFC 3516 section 4.4) is stored, so that BINARY
// gives back exactly what was uploaded and BODY never carries a NUL:
//
//   - every leaf body is kept byte for byte: no bare LF becomes CRLF in it,
//     so BINARY[part] and BINARY.SIZE[part] match the upload;
//   - a leaf body holding NUL in an identity encoding (7bit, 8bit, binary)
//     is stored base64-encoded, its Content-Transfer-Encoding field
//     rewritten to say so. RFC 3516 section 4.4 lets the server change the
//     transfer encoding of appended data as long as nothing is lost, and
//     RFC 9051 section 4.3 forbids NUL outside a literal8 answer to BINARY:
//     BODY[] then is plain text, and BINARY undoes the base64;
//   - the rest (headers, MIME boundaries, preamble and epilogue) gets CRLF
//     line endings, as every stored message has.
//
// A message needing none of this is returned as it is.
func BinaryAppend(raw []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(raw) + len(raw)/3)
	changed, _ := WriteBinaryAppend(&out, raw, message.Parse(raw))
	if !changed {
		return raw
	}
	return out.Bytes()
}

// WriteBinaryAppend writes the stored form of the literal8 upload raw
// (see BinaryAppend), whose pre-parse is info, to w, and reports whether
// it differs from raw. It holds no more than a small buffer beside raw,
// so that a large upload read from a spool file (mapped) is never copied
// into memory whole. With a w that discards, it only tells whether the
// upload can be stored as it is.
func WriteBinaryAppend(w io.Writer, raw []byte, info *message.Info) (changed bool, err error) {
	bw := &binWriter{w: w}
	pos := 0
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		switch {
		case p.Type == "multipart" && len(p.Parts) > 0:
			for i := range p.Parts {
				walk(&p.Parts[i])
			}
			return
		case p.Message != nil:
			walk(&p.Message.Part)
			return
		}
		hs, bs, end := int(p.HeaderStart), int(p.BodyStart), int(p.End)
		if hs < pos || bs < hs || end < bs || end > len(raw) {
			return // offsets out of step: leave the rest to the final copy
		}
		body := raw[bs:end]
		if bytes.IndexByte(body, 0) >= 0 && identityEncoding(p.Encoding) {
			bw.crlf(raw[pos:hs])
			bw.buf = appendBase64Header(bw.buf, raw[hs:bs])
			bw.base64Lines(body)
			bw.changed = true
		} else {
			bw.crlf(raw[pos:bs])
			bw.raw(body)
		}
		pos = end
	}
	walk(&info.Part)
	bw.crlf(raw[pos:])
	bw.flush()
	return bw.changed, bw.err
}

// binWriter writes WriteBinaryAppend's output through a small buffer.
type binWriter struct {
	w       io.Writer
	buf     []byte
	last    byte // the last byte written, for appendCRLF's rule
	changed bool // a CR was inserted (base64 parts set it themselves)
	err     error
}

const binChunk = 64 << 10

func (b *binWriter) flush() {
	if len(b.buf) > 0 {
		b.last = b.buf[len(b.buf)-1]
		if b.err == nil {
			_, b.err = b.w.Write(b.buf)
		}
		b.buf = b.buf[:0]
	}
}

// crlf writes p with every bare LF made CRLF.
func (b *binWriter) crlf(p []byte) {
	for len(p) > 0 {
		k := min(len(p), binChunk)
		n := len(b.buf)
		prev := b.last
		if n > 0 {
			prev = b.buf[n-1]
		}
		b.buf = appendCRLFAfter(b.buf, p[:k], prev)
		if len(b.buf)-n != k {
			b.changed = true
		}
		p = p[k:]
		if len(b.buf) >= binChunk {
			b.flush()
		}
	}
}

// raw writes p as it is.
func (b *binWriter) raw(p []byte) {
	if len(p) == 0 {
		return
	}
	b.flush()
	b.last = p[len(p)-1]
	if b.err == nil {
		_, b.err = b.w.Write(p)
	}
}

// base64Lines writes p base64-encoded in lines of 76 characters (RFC
// 2045 section 6.8), the last one without a line break: the CRLF before
// a boundary belongs to the boundary. It encodes 57 bytes a line, a
// chunk of lines at a time.
func (b *binWriter) base64Lines(p []byte) {
	const perChunk = 57 * 1024
	for first := true; first || len(p) > 0; first = false {
		k := min(len(p), perChunk)
		if !first {
			b.buf = append(b.buf, '\r', '\n')
		}
		b.buf = appendBase64Lines(b.buf, p[:k])
		p = p[k:]
		b.flush()
	}
}

func identityEncoding(enc string) bool {
	switch strings.ToUpper(enc) {
	case "", "7BIT", "8BIT", "BINARY":
		return true
	}
	return false
}

// appendCRLF appends b with every bare LF made CRLF.
func appendCRLF(out, b []byte) []byte {
	var prev byte
	if len(out) > 0 {
		prev = out[len(out)-1]
	}
	return appendCRLFAfter(out, b, prev)
}

// appendCRLFAfter is appendCRLF where the byte before b is prev (0 for
// none).
func appendCRLFAfter(out, b []byte, prev byte) []byte {
	for _, c := range b {
		if c == '\n' && prev != '\r' {
			out = append(out, '\r')
		}
		out = append(out, c)
		prev = c
	}
	return out
}

// appendBase64Header appends a part header, blank line included, without
// its Content-Transfer-Encoding fields and with one that says base64.
func appendBase64Header(out, header []byte) []byte {
	// The blank line that ends the header.
	fields := header
	switch {
	case bytes.HasSuffix(fields, []byte("\r\n")):
		fields = fields[:len(fields)-2]
	case bytes.HasSuffix(fields, []byte("\n")):
		fields = fields[:len(fields)-1]
	}
	pos := 0
	for name, field := range message.Fields(fields) {
		if !strings.EqualFold(name, "Content-Transfer-Encoding") {
			continue
		}
		// field is a sub-slice of fields: its offset is the difference
		// of their capacities.
		start := cap(fields) - cap(field)
		out = appendCRLF(out, fields[pos:start])
		pos = start + len(field)
	}
	out = appendCRLF(out, fields[pos:])
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\r', '\n')
	}
	out = append(out, "Content-Transfer-Encoding: base64\r\n\r\n"...)
	return out
}

// appendBase64Lines appends b base64-encoded in lines of 76 characters
// (RFC 2045 section 6.8), the last one without a line break: the CRLF
// before a boundary belongs to the boundary.
func appendBase64Lines(out, b []byte) []byte {
	enc := base64.StdEncoding.EncodedLen(len(b))
	tmp := make([]byte, enc)
	base64.StdEncoding.Encode(tmp, b)
	for i := 0; i < len(tmp); i += 76 {
		if i > 0 {
			out = append(out, '\r', '\n')
		}
		out = append(out, tmp[i:min(i+76, len(tmp))]...)
	}
	return out
}
