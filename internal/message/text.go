package message

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// display is the decoded display form of an address: "Name <box@host>".
func (p *parser) display(a Address) string {
	addr := a.Mailbox
	if a.Host != "" {
		addr += "@" + a.Host
	}
	name := strings.TrimSpace(p.decodeWords(a.Name))
	switch {
	case name == "":
		return addr
	case addr == "":
		return name
	}
	return name + " <" + addr + ">"
}

// preview returns the first previewLen runes of collapsed text s.
func preview(s string) string {
	n := 0
	for i := range s {
		if n == previewLen {
			return strings.TrimSpace(s[:i])
		}
		n++
	}
	return s
}

// previewPrefix returns collapse of a prefix of UTF-8 text d long enough
// for preview: it agrees with collapse(string(d)) on the first previewLen
// runes, without a copy of all of d. Prefixes are tried from 512 bytes
// (200 runes of most text, with room for the spaces collapsed), doubling,
// as white space and invisible characters may pad the start.
func previewPrefix(d []byte) string {
	for n := 512; ; n *= 2 {
		if n >= len(d) {
			return collapse(string(d))
		}
		// A rune cut at the end of the prefix is dropped by collapse,
		// after the runes counted here.
		if s := collapse(string(d[:n])); utf8.RuneCountInString(s) > previewLen {
			return s
		}
	}
}

// collapse turns runs of white space and control characters into one
// space and drops invisible format characters (zero-width spaces and
// joiners, soft hyphens, byte order marks: spam pads previews with them).
func collapse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true // drop leading space
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if c <= ' ' || c == 0x7f {
				if !space {
					b.WriteByte(' ')
					space = true
				}
				continue
			}
			b.WriteByte(c)
			space = false
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			if !space {
				b.WriteByte(' ')
				space = true
			}
		case unicode.Is(unicode.Cf, r) || r == '\u034f' || r == utf8.RuneError && size == 1:
		default:
			b.WriteRune(r)
			space = false
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// cleanControl replaces control characters (such as a CR LF smuggled in an
// encoded word) with spaces and drops bidi controls (stripBidi), so
// decoded values are safe to display and log.
func cleanControl(s string) string {
	s = stripBidi(s)
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// stripHTML returns the text of an HTML document: tags, comments, and the
// content of script, style and head elements removed, entities decoded. It
// is for search and previews, not for display.
func stripHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	noClose := 0 // bit set per element whose close tag is known missing
	i := 0
	for i < len(s) {
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
		closing := false
		if j < len(s) && (s[j] == '/' || s[j] == '!' || s[j] == '?') {
			closing = s[j] == '/'
			j++
		}
		ns := j
		for j < len(s) && (isAlpha(s[j]) || ('0' <= s[j] && s[j] <= '9')) {
			j++
		}
		name := s[ns:j]
		if j == i+1 {
			// "a < b": not a tag.
			b.WriteByte('<')
			i++
			continue
		}
		gt := strings.IndexByte(s[j:], '>')
		if gt < 0 {
			break
		}
		i = j + gt + 1
		if !inlineTag(name) {
			b.WriteByte(' ')
		}
		if closing {
			continue
		}
		for k, skip := range []string{"script", "style", "head", "title"} {
			if strings.EqualFold(name, skip) {
				if noClose&(1<<k) != 0 {
					break
				}
				if end := indexCloseTag(s[i:], skip); end >= 0 {
					i += end
				} else if skip != "head" {
					i = len(s)
				} else {
					// Do not search again for every <head>.
					noClose |= 1 << k
				}
				break
			}
		}
	}
	return html.UnescapeString(b.String())
}

func isAlpha(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// indexCloseTag finds "</name" (any case) in s.
func indexCloseTag(s, name string) int {
	i := 0
	for {
		k := strings.Index(s[i:], "</")
		if k < 0 {
			return -1
		}
		i += k
		if len(s)-i-2 >= len(name) && strings.EqualFold(s[i+2:i+2+len(name)], name) {
			return i
		}
		i += 2
	}
}

// inlineTag tells whether an element is inline text markup, which must not
// split words ("<b>W</b>ord").
func inlineTag(name string) bool {
	switch strings.ToLower(name) {
	case "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "del", "dfn", "em", "font", "i", "ins",
		"kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr":
		return true
	}
	return false
}

// HTMLText returns the text a reader sees in an HTML document, for search
// and previews (not for display): see stripHTML.
func HTMLText(s string) string { return stripHTML(s) }
