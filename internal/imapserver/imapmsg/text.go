package imapmsg

import (
	"bytes"
	"html"
	"io"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// Text helpers for SEARCH: case folding, header value decoding, and the
// visible text of HTML.

// appendFold appends s to dst with every rune replaced by the smallest rune
// of its Unicode simple case-folding orbit, so that two strings fold to the
// same bytes exactly when strings.EqualFold says they are equal rune by
// rune ("STRASSE" and "strasse", "Σ", "σ" and "ς", "K" and the Kelvin
// sign). ASCII takes a fast path: the smallest rune of an ASCII letter's
// orbit is its upper case. Invalid UTF-8 becomes U+FFFD.
func appendFold(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		dst = utf8.AppendRune(dst, foldRune(r))
	}
	return dst
}

func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// fold returns s case-folded, as appendFold.
func fold(s string) []byte {
	return appendFold(make([]byte, 0, len(s)), []byte(s))
}

// utf8Bytes returns b if it is valid UTF-8, else b read as ISO-8859-1, as
// internal/message reads raw 8-bit headers (so that a search typed in UTF-8
// finds "Schröder" written in Latin-1).
func utf8Bytes(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// unfoldValue returns the value of a whole header field as message.Fields
// yields it ("Name: value" with continuation lines and line breaks): the
// text after the colon with line breaks removed (RFC 5322 section 2.2.3)
// and outer white space trimmed.
func unfoldValue(field []byte) []byte {
	if i := bytes.IndexByte(field, ':'); i >= 0 {
		field = field[i+1:]
	}
	field = bytes.Trim(field, " \t\r\n")
	if bytes.IndexByte(field, '\n') < 0 && bytes.IndexByte(field, '\r') < 0 {
		return field
	}
	out := make([]byte, 0, len(field))
	for _, c := range field {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}

// decodeWords decodes the RFC 2047 encoded words of a header value. It
// returns s itself when there are none or they cannot be decoded: the raw
// value is matched as well, so nothing is lost.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	dec := mime.WordDecoder{CharsetReader: charsetReader}
	d, err := dec.DecodeHeader(s)
	if err != nil {
		return s
	}
	return strings.ToValidUTF8(d, "\uFFFD")
}

// charsetReader converts encoded-word text to UTF-8 with go-message's
// charset tables. It never fails: text in an unknown charset is kept as
// UTF-8 or ISO-8859-1, so one bad word does not hide the rest of a header.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if cr, err := charset.Reader(cs, bytes.NewReader(b)); err == nil {
		if out, err := io.ReadAll(cr); err == nil {
			return bytes.NewReader(out), nil
		}
	}
	return bytes.NewReader(utf8Bytes(b)), nil
}

// htmlText returns the text a reader sees in an HTML document: tags and
// comments removed, the content of script and style elements dropped,
// entities decoded. Block-level tags become a space so that words in
// adjacent paragraphs do not run together; inline ones ("W<b>or</b>d")
// vanish so that words stay whole. It is for matching, not display.
func htmlText(s string) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+lt])
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		j := i + 1
		if j < len(s) && (s[j] == '/' || s[j] == '!' || s[j] == '?') {
			j++
		}
		ns := j
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j == ns && (j == i+1) {
			// "a < b" is text, not a tag.
			b.WriteByte('<')
			i++
			continue
		}
		name := strings.ToLower(s[ns:j])
		gt := strings.IndexByte(s[j:], '>')
		if gt < 0 {
			break
		}
		i = j + gt + 1
		if !inlineTag(name) {
			b.WriteByte(' ')
		}
		if (name == "script" || name == "style") && s[ns-1] != '/' {
			end := indexFold(s[i:], "</"+name)
			if end < 0 {
				break
			}
			i += end
		}
	}
	return html.UnescapeString(b.String())
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// indexFold is strings.Index ignoring ASCII case, for an ASCII lower-case
// substr.
func indexFold(s, substr string) int {
	for i := 0; i+len(substr) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(substr)], substr) {
			return i
		}
	}
	return -1
}

// inlineTag tells whether an element is inline text markup, which must not
// split words.
func inlineTag(name string) bool {
	switch name {
	case "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i", "ins",
		"kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr":
		return true
	}
	return false
}
