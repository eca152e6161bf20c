package message

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FoldAccents returns s as the webmail's search compares text: letters
// folded as IndexWords folds them (lower case, one rune per case folding
// orbit), and letters of the Latin, Greek and Cyrillic scripts without
// their diacritics, so that "Résumé" and "resume", "Müller" and "muller",
// "Straße" and "strasse" read the same, as Gmail and Outlook search.
// Marks on the letters of other scripts stay (a Japanese voicing mark or a
// Hindi vowel sign changes the word). It keeps everything else, separators
// included, so a phrase stays a phrase. IMAP SEARCH does not use it: RFC
// 9051 section 6.4.4 matches case-insensitively, nothing more.
func FoldAccents(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	d := norm.NFD.String(s)
	b := make([]byte, 0, len(d))
	strip := false // the base letter before a mark is one whose marks go
	for _, r := range d {
		if r < utf8.RuneSelf {
			strip = true
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b = append(b, byte(r))
			continue
		}
		if r == ypogegrammeni {
			// The iota IndexWords folds "ι" to (the least of its
			// case folding orbit) is a combining mark: taken for the
			// letter, wherever it comes from.
			strip = true
			b = utf8.AppendRune(b, 'ι')
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			if !strip {
				b = utf8.AppendRune(b, r)
			}
			continue
		}
		strip = unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic)
		if r = foldWordRune(r); r == ypogegrammeni {
			r = 'ι'
		}
		if x := baseLetters(r); x != "" {
			b = append(b, x...)
			continue
		}
		b = utf8.AppendRune(b, r)
	}
	// Composed again: a Korean syllable is not its letters (NFD splits
	// it), nor is a kept mark apart from its letter.
	return norm.NFC.String(string(b))
}

// ypogegrammeni is U+0345, COMBINING GREEK YPOGEGRAMMENI.
const ypogegrammeni = '\u0345'

// baseLetters is what a letter (case folded) stands for that Unicode
// does not decompose into a base letter and a mark, but that a reader
// takes for one with an accent or for two plain ones, and types as such;
// "" for other runes.
func baseLetters(r rune) string {
	switch r {
	case 'ß':
		return "ss"
	case 'ø':
		return "o"
	case 'ł':
		return "l"
	case 'đ':
		return "d"
	case 'ħ':
		return "h"
	case 'ı':
		return "i"
	case 'æ':
		return "ae"
	case 'œ':
		return "oe"
	}
	return ""
}
