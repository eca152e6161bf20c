package imapmsg

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Text helpers for SEARCH: case folding. Header decoding and the visible
// text of HTML are the message package's.

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

// substr.
func indexFold(s, substr string) int {
	for i := 0; i+len(substr) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(substr)], substr) {
			return i
		}
	}
	return -1
}
