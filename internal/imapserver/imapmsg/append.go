package imapmsg

import (
	"bytes"
	"encoding/base64"
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
	info := message.Parse(raw)
	out := make([]byte, 0, len(raw)+len(raw)/3)
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
			out = appendCRLF(out, raw[pos:hs])
			out = appendBase64Header(out, raw[hs:bs])
			out = appendBase64Lines(out, body)
		} else {
			out = appendCRLF(out, raw[pos:bs])
			out = append(out, body...)
		}
		pos = end
	}
	walk(&info.Part)
	out = appendCRLF(out, raw[pos:])
	if bytes.Equal(out, raw) {
		return raw
	}
	return out
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
	for _, c := range b {
		if c == '\n' && (len(out) == 0 || out[len(out)-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
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
