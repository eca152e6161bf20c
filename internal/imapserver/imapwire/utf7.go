package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 is the mailbox name encoding of IMAP4rev1 (RFC 3501 section
// 5.1.3). It is still what clients that have not enabled UTF8=ACCEPT (RFC
// 6855) or IMAP4rev2 send and expect.

// ErrInvalidUTF7 is returned by DecodeMailbox for a name that is not valid,
// canonical modified UTF-7.
var ErrInvalidUTF7 = errors.New("mailbox name is not valid modified UTF-7")

// mbase64 is the modified BASE64 alphabet of RFC 3501 section 5.1.3: RFC
// 2152's with "," instead of "/".
const mbase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// mbase64Value returns the 6-bit value of an alphabet character, or -1.
func mbase64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == ',':
		return 63
	}
	return -1
}

// printable reports whether c represents itself in modified UTF-7: RFC 3501
// section 5.1.3 allows exactly the printable US-ASCII range 0x20-0x7e.
func printable(c rune) bool { return c >= 0x20 && c <= 0x7e }

// EncodeMailbox encodes a UTF-8 mailbox name as modified UTF-7. Invalid UTF-8
// sequences are encoded as U+FFFD. It never fails.
func EncodeMailbox(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '&' || !printable(rune(c)) {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '&' {
			b.WriteString("&-")
			i++
			continue
		}
		if printable(rune(c)) {
			b.WriteByte(c)
			i++
			continue
		}
		// Collect the whole run of characters that cannot represent
		// themselves: RFC 3501 wants one shift sequence per run.
		var units []uint16
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if printable(r) {
				break
			}
			i += size
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				units = append(units, uint16(r1), uint16(r2))
			} else {
				units = append(units, uint16(r))
			}
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(mbase64[(acc>>uint(bits))&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(mbase64[(acc<<uint(6-bits))&0x3f])
		}
		b.WriteByte('-')
	}
	return b.String()
}

// DecodeMailbox decodes a modified UTF-7 mailbox name to UTF-8. It is strict,
// per RFC 3501 section 5.1.3: only printable US-ASCII may appear, every "&"
// shift must end with "-", the base64 must be whole UTF-16 units with zero
// padding bits, surrogates must pair, characters that can represent
// themselves must not be encoded, and two shift sequences must not be
// adjacent (the encoder would have merged them). Accepting only the canonical
// form means one mailbox has one name on the wire.
func DecodeMailbox(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if !printable(rune(s[i])) {
				return "", ErrInvalidUTF7
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	lastShiftEnd := -1
	for i := 0; i < len(s); {
		c := s[i]
		if !printable(rune(c)) {
			return "", ErrInvalidUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i < len(s) && s[i] == '-' {
			b.WriteByte('&')
			i++
			continue
		}
		if i-1 == lastShiftEnd {
			return "", ErrInvalidUTF7
		}
		start := i
		for i < len(s) && s[i] != '-' {
			if mbase64Value(s[i]) < 0 {
				return "", ErrInvalidUTF7
			}
			i++
		}
		if i >= len(s) {
			return "", ErrInvalidUTF7 // no implicit shift back, RFC 3501 5.1.3
		}
		if err := decodeShift(&b, s[start:i]); err != nil {
			return "", err
		}
		i++ // '-'
		lastShiftEnd = i
	}
	return b.String(), nil
}

// decodeShift decodes the modified base64 between "&" and "-".
func decodeShift(b *strings.Builder, enc string) error {
	switch len(enc) % 8 {
	case 0, 3, 6:
	default:
		return ErrInvalidUTF7 // not whole 16-bit units
	}
	var acc uint32
	bits := 0
	var high rune = -1
	for i := 0; i < len(enc); i++ {
		acc = acc<<6 | uint32(mbase64Value(enc[i]))
		bits += 6
		if bits < 16 {
			continue
		}
		bits -= 16
		u := rune((acc >> uint(bits)) & 0xffff)
		acc &= 1<<uint(bits) - 1
		switch {
		case high >= 0:
			if u < 0xdc00 || u > 0xdfff {
				return ErrInvalidUTF7
			}
			b.WriteRune(utf16.DecodeRune(high, u))
			high = -1
		case u >= 0xd800 && u <= 0xdbff:
			high = u
		case u >= 0xdc00 && u <= 0xdfff:
			return ErrInvalidUTF7
		case printable(u):
			return ErrInvalidUTF7 // must have represented itself
		default:
			b.WriteRune(u)
		}
	}
	if high >= 0 || acc != 0 {
		return ErrInvalidUTF7
	}
	return nil
}
