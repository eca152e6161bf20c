package webmail

import (
	"html"
	"html/template"
	"regexp"
	"strconv"
	"strings"
)

// textLine is one line of plain text as shown: its quote depth and text.
type textLine struct {
	depth int
	text  string
}

// plainLines splits a text/plain body into lines with their quote depth.
// With format=flowed (RFC 3676) soft line breaks are joined: a line that
// ends in a space goes on with the next line of the same quote depth
// (section 4.2), space-stuffing is undone (4.4), and with delsp=yes the
// space before a soft break is dropped (4.5); the signature separator
// "-- " stays a line of its own (4.3).
func plainLines(s string, flowed, delsp bool) []textLine {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	raw := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var out []textLine
	joining := false
	for _, l := range raw {
		depth := 0
		if flowed {
			for strings.HasPrefix(l, ">") {
				depth++
				l = l[1:]
			}
			l = strings.TrimPrefix(l, " ") // space-stuffing
		} else {
			depth, l = quoteDepth(l)
		}
		soft := flowed && strings.HasSuffix(l, " ") && l != "-- "
		if soft && delsp {
			l = l[:len(l)-1]
		}
		if joining && len(out) > 0 && out[len(out)-1].depth == depth {
			out[len(out)-1].text += l
		} else {
			out = append(out, textLine{depth, l})
		}
		joining = soft
	}
	return out
}

// quoteDepth counts the leading ">" of a line written without
// format=flowed, where ">" may be followed by spaces ("> > text").
func quoteDepth(l string) (int, string) {
	depth := 0
	rest := l
	for {
		t := strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(t, ">") || (depth == 0 && len(rest)-len(t) > 3) {
			break
		}
		depth++
		rest = t[1:]
	}
	if depth > 0 {
		rest = strings.TrimPrefix(rest, " ")
		return depth, rest
	}
	return 0, l
}

// linkPattern finds the web and mail links that text makes clickable.
var linkPattern = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"'\x60]+|\bmailto:[^\s<>"'\x60]+`)

// linkify escapes a line of text for HTML and makes its links clickable,
// opening in a new tab with no opener and no referrer.
func linkify(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range linkPattern.FindAllStringIndex(s, -1) {
		start, end := m[0], m[1]
		// Trailing punctuation ends a sentence, not the link.
		for end > start && strings.ContainsRune(".,;:!?)]}'", rune(s[end-1])) {
			if s[end-1] == ')' && strings.Count(s[start:end], "(") >= strings.Count(s[start:end], ")") {
				break
			}
			end--
		}
		if end <= start {
			continue
		}
		link := s[start:end]
		href := link
		if strings.HasPrefix(strings.ToLower(link), "www.") {
			href = "https://" + link
		}
		b.WriteString(html.EscapeString(s[last:start]))
		b.WriteString(`<a href="`)
		b.WriteString(html.EscapeString(href))
		b.WriteString(`" target="_blank" rel="noopener noreferrer">`)
		b.WriteString(html.EscapeString(link))
		b.WriteString(`</a>`)
		last = end
	}
	b.WriteString(html.EscapeString(s[last:]))
	return b.String()
}

// renderPlain turns text/plain into escaped HTML: links clickable, each
// run of quoted lines in a folded <details> with nested blockquotes by
// depth.
func renderPlain(s string, flowed, delsp bool) template.HTML {
	lines := plainLines(s, flowed, delsp)
	var b strings.Builder
	b.WriteString(`<div class="plain">`)
	depth := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.depth > 0 && depth == 0 {
			n := 0
			for j := i; j < len(lines) && lines[j].depth > 0; j++ {
				n++
			}
			b.WriteString(`<details class="quote"><summary>Quoted text (`)
			b.WriteString(plural(n, "line"))
			b.WriteString(`)</summary>`)
		}
		for depth < l.depth {
			b.WriteString(`<blockquote>`)
			depth++
		}
		for depth > l.depth {
			b.WriteString(`</blockquote>`)
			depth--
			if depth == 0 {
				b.WriteString(`</details>`)
			}
		}
		b.WriteString(linkify(l.text))
		b.WriteString("\n")
	}
	for depth > 0 {
		b.WriteString(`</blockquote>`)
		depth--
		if depth == 0 {
			b.WriteString(`</details>`)
		}
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String())
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
