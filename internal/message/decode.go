package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// ErrUnknownEncoding is returned (wrapped) by Decode and DecodeText for a
// Content-Transfer-Encoding they do not know. IMAP BINARY answers it with
// NO [UNKNOWN-CTE] (RFC 3516 4.3).
var ErrUnknownEncoding = errors.New("unknown content transfer encoding")

// Decode returns the body of part p of raw with its Content-Transfer-Encoding
// undone (RFC 2045 6), for IMAP BINARY and attachment downloads. It is
// tolerant: characters outside the base64 alphabet are skipped, invalid
// quoted-printable escapes are kept as written. For 7bit, 8bit and binary it
// returns the body as is, sharing raw's memory. For an unknown encoding it
// returns the raw body and an error wrapping ErrUnknownEncoding.
func Decode(raw []byte, p *Part) ([]byte, error) {
	return decodeBody(p.Body(raw), p.Encoding)
}

func decodeBody(body []byte, enc string) ([]byte, error) {
	switch strings.ToUpper(enc) {
	case "", "7BIT", "8BIT", "BINARY":
		return body, nil
	case "BASE64":
		return decodeBase64(body), nil
	case "QUOTED-PRINTABLE":
		return decodeQP(body), nil
	}
	return body, fmt.Errorf("decode %q: %w", enc, ErrUnknownEncoding)
}

// DecodeText returns the body of part p of raw transfer-decoded and
// converted from its charset to UTF-8. The charset comes from the
// Content-Type, or for HTML without one from a <meta> tag. An unknown
// charset is not an error: the text is then taken as UTF-8 if valid, else as
// ISO-8859-1. The result is always valid UTF-8; an error is only returned for
// an unknown transfer encoding, along with the text as written.
func DecodeText(raw []byte, p *Part) (string, error) {
	s, _, err := decodeText(p.Body(raw), p)
	return s, err
}

// decodeText decodes body, the raw body of p or a prefix of it. known is
// false when the charset was unknown.
func decodeText(body []byte, p *Part) (s string, known bool, err error) {
	b, err := decodeBody(body, p.Encoding)
	cs := p.Param("charset")
	if cs == "" && p.Subtype == "html" {
		cs = sniffHTMLCharset(b)
	}
	s, known = toUTF8(b, cs)
	return s, known, err
}

// decodeBase64 decodes base64 (RFC 2045 6.8) leniently: characters outside
// the alphabet are ignored, padding is optional, and after padding decoding
// goes on, for bodies made of several concatenated base64 runs.
func decodeBase64(src []byte) []byte {
	// Fast path for well-formed bodies: the standard decoder skips CR
	// and LF.
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	if n, err := base64.StdEncoding.Decode(dst, src); err == nil {
		return dst[:n]
	}
	var st base64State
	return st.flush(st.decode(dst[:0], src))
}

// base64State is lenient base64 decoding across pieces of a body: the
// bits of an unfinished group of four characters.
type base64State struct {
	acc uint32
	n   int
}

// decode appends the bytes of src's complete groups to dst, keeping an
// unfinished one for the next piece; "=" ends a group early.
func (st *base64State) decode(dst, src []byte) []byte {
	for _, c := range src {
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		case c == '=':
			dst = st.flush(dst)
			continue
		default:
			continue
		}
		st.acc = st.acc<<6 | uint32(v)
		st.n++
		if st.n == 4 {
			dst = append(dst, byte(st.acc>>16), byte(st.acc>>8), byte(st.acc))
			st.acc, st.n = 0, 0
		}
	}
	return dst
}

// flush appends the bytes of an unfinished group (padding or the end).
func (st *base64State) flush(dst []byte) []byte {
	switch st.n {
	case 2:
		dst = append(dst, byte(st.acc>>4))
	case 3:
		dst = append(dst, byte(st.acc>>10), byte(st.acc>>2))
	}
	st.acc, st.n = 0, 0
	return dst
}

// decodeQP decodes quoted-printable (RFC 2045 6.7) leniently: "=" not
// followed by two hex digits (either case) or a line break is kept as is,
// white space at the end of lines is removed (rule 3), and line breaks are
// kept as written.
func decodeQP(src []byte) []byte { return appendQP(make([]byte, 0, len(src)), src) }

// appendQP appends src decoded (decodeQP) to dst.
func appendQP(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch c {
		case '=':
			if i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
				dst = append(dst, unhex(src[i+1])<<4|unhex(src[i+2]))
				i += 3
				continue
			}
			// Soft line break: "=", optional white space, line break
			// or end of input.
			j := i + 1
			for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			k := j
			for k < len(src) && src[k] == '\r' {
				k++
			}
			if k == len(src) {
				i = k
				continue
			}
			if src[k] == '\n' {
				i = k + 1
				continue
			}
			dst = append(dst, '=')
			i++
		case ' ', '\t':
			j := i
			for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
				j++
			}
			k := j
			for k < len(src) && src[k] == '\r' {
				k++
			}
			if k < len(src) && src[k] != '\n' {
				dst = append(dst, src[i:j]...)
			}
			i = j
		default:
			// Copy a run of plain bytes at once.
			j := i + 1
			for j < len(src) && src[j] != '=' && src[j] != ' ' && src[j] != '\t' {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j
		}
	}
	return dst
}

// toUTF8 converts b from charset cs to valid UTF-8. known is false if cs
// was not recognised; b is then read as UTF-8 if valid, else ISO-8859-1.
func toUTF8(b []byte, cs string) (s string, known bool) {
	cs = strings.ToLower(strings.Trim(cs, " \t\"'"))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unicode-1-1-utf-8", "x-unknown", "unknown-8bit":
		if utf8.Valid(b) {
			return string(b), true
		}
		if strings.HasPrefix(cs, "utf") || strings.HasPrefix(cs, "unicode") {
			return strings.ToValidUTF8(string(b), "\uFFFD"), true
		}
		// Undeclared 8-bit text.
		return latin1(b), true
	}
	if isASCII(b) && asciiCompatible(cs) {
		return string(b), true
	}
	if cs == "iso-8859-1" || cs == "latin1" || cs == "iso8859-1" || cs == "l1" {
		// WHATWG Encoding: ISO-8859-1 labels mean windows-1252, which
		// is what mailers that write Latin-1 mostly send.
		cs = "windows-1252"
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return utf8String(b), false
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return utf8String(b), false
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

// isUTF8As tells whether toUTF8(b, cs) is b itself: valid UTF-8 under a
// UTF-8 or undeclared charset, or ASCII under an ASCII-compatible one.
// Such text can be indexed piece by piece, with no converted copy.
func isUTF8As(b []byte, cs string) bool {
	cs = strings.ToLower(strings.Trim(cs, " \t\"'"))
	switch cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "unicode-1-1-utf-8", "x-unknown", "unknown-8bit":
		return utf8.Valid(b)
	}
	return asciiCompatible(cs) && isASCII(b)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiCompatible tells whether ASCII text is the same in charset cs, so
// that pure ASCII needs no conversion. ISO-2022 and UTF-16/32 are not.
func asciiCompatible(cs string) bool {
	for _, p := range []string{"iso-8859-", "iso8859-", "windows-", "cp125", "koi8-", "gb", "big5", "euc-", "shift_jis", "latin"} {
		if strings.HasPrefix(cs, p) {
			return true
		}
	}
	return false
}

// sniffHTMLCharset finds <meta charset=...> or <meta http-equiv
// content="...; charset=..."> near the start of an HTML body.
func sniffHTMLCharset(b []byte) string {
	if len(b) > 4096 {
		b = b[:4096]
	}
	lb := bytes.ToLower(b)
	i := 0
	for {
		m := bytes.Index(lb[i:], []byte("<meta"))
		if m < 0 {
			return ""
		}
		i += m + 5
		end := bytes.IndexByte(lb[i:], '>')
		if end < 0 {
			return ""
		}
		tag := lb[i : i+end]
		if c := bytes.Index(tag, []byte("charset=")); c >= 0 {
			v := tag[c+len("charset="):]
			v = bytes.TrimLeft(v, `"' `)
			k := bytes.IndexAny(v, "\"' ;/")
			if k >= 0 {
				v = v[:k]
			}
			return string(v)
		}
		i += end
	}
}

// charsetReader is the WordDecoder's CharsetReader: it never fails, so
// that one encoded word in an unknown charset does not lose the rest of a
// header.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, _ := toUTF8(b, cs)
	return strings.NewReader(s), nil
}

// decodeWords decodes RFC 2047 encoded words in s, as valid UTF-8.
func (p *parser) decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	if p.dec == nil {
		p.dec = &mime.WordDecoder{CharsetReader: charsetReader}
	}
	d, err := p.dec.DecodeHeader(s)
	if err != nil {
		return s
	}
	return strings.ToValidUTF8(d, "\uFFFD")
}

// DecodeHeader decodes the RFC 2047 encoded words of a header value; where
// they are malformed the value is kept as written. The result is valid
// UTF-8, without bidi controls (stripBidi): it is for display.
func DecodeHeader(s string) string {
	var p parser
	return stripBidi(p.decodeWords(s))
}

// isBidiControl reports the characters that reorder the text after them
// (UAX #9: the embeddings, overrides and isolates U+202A-U+202E and
// U+2066-U+2069), not the marks (LRM, RLM, ALM) that right-to-left text
// uses: no name or subject needs them, and an override makes a display
// name "<U+202E>moc.lapyap" read as "paypal.com", or turns the address
// after it around.
func isBidiControl(r rune) bool { return 0x202A <= r && r <= 0x202E || 0x2066 <= r && r <= 0x2069 }

// stripBidi drops the bidi controls of s.
func stripBidi(s string) string {
	if !strings.ContainsFunc(s, isBidiControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isBidiControl(r) {
			return -1
		}
		return r
	}, s)
}
