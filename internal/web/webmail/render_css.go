package webmail

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/tdewolff/parse/v2"
	"github.com/tdewolff/parse/v2/css"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A message's <style> blocks are kept, so that mail designed with a
// stylesheet (most newsletters and many mail clients' replies) is shown
// as designed; bluemonday drops them whole (LIBRARIES.md, "HTML"). They
// are read by a real CSS tokenizer and parser (tdewolff/parse's, which
// follows CSS Syntax Level 3) and written back from an allow-list: rules
// and @media, @supports and @keyframes blocks, with declarations of known
// properties whose values
// hold only plain tokens and a few pure functions. So nothing can make a
// request but an image from url() that the frame's CSP allows anyway
// (cid: parts inlined as data:, https once images are allowed), nothing
// runs (no expression(), behavior, -moz-binding), nothing is imported
// (@import, @font-face) and nothing covers the page (position: fixed).
// The frame is a document of its own with its own CSP, so selectors need
// no scoping: they can only reach the message.

// maxStyleBytes bounds the stylesheet text read from one message.
const maxStyleBytes = 256 << 10

// styleText returns the text of every <style> element of a message's
// HTML, in order, up to maxStyleBytes. The HTML tokenizer reads the
// element as the browser would (raw text up to </style>).
func styleText(doc string) string {
	z := html.NewTokenizer(strings.NewReader(doc))
	var b strings.Builder
	in := false
	for b.Len() < maxStyleBytes {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.StartTagToken:
			name, _ := z.TagName()
			in = atom.Lookup(name) == atom.Style
		case html.EndTagToken:
			in = false
		case html.TextToken:
			if in {
				b.Write(z.Text())
				b.WriteByte('\n')
			}
		default:
			in = false
		}
	}
	s := b.String()
	return s[:min(len(s), maxStyleBytes)]
}

// cssProperties are the properties kept in a stylesheet: those kept in
// style attributes (safeStyles) and the few that layout mail needs
// beyond them. None of them runs code; the background ones take url(),
// which urlOK maps.
var cssProperties = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range safeStyles {
		m[p] = true
	}
	for _, p := range []string{"background", "background-image", "background-position", "background-repeat",
		"background-size", "text-shadow", "box-shadow", "opacity", "visibility", "position", "top", "right", "bottom",
		"left", "z-index", "list-style", "outline", "outline-color", "outline-style", "outline-width",
		"border-top-color", "border-right-color", "border-bottom-color", "border-left-color",
		"border-top-left-radius", "border-top-right-radius", "border-bottom-left-radius", "border-bottom-right-radius",
		"text-overflow", "word-break", "overflow-wrap", "word-wrap", "overflow-x", "overflow-y", "box-sizing",
		"flex", "flex-direction", "flex-wrap", "justify-content", "align-items", "align-content", "align-self", "gap",
		"column-gap", "row-gap", "order", "hyphens", "text-underline-offset", "mso-line-height-rule",
		// Animations and transitions, for @keyframes (CSS Animations 1):
		// they move and fade what the message already shows.
		"animation", "animation-name", "animation-duration", "animation-timing-function", "animation-delay",
		"animation-iteration-count", "animation-direction", "animation-fill-mode", "animation-play-state",
		"transition", "transition-property", "transition-duration", "transition-timing-function", "transition-delay",
		"transform", "transform-origin"} {
		m[p] = true
	}
	return m
}()

// urlProperties may take url(): an image, nothing else.
var urlProperties = map[string]bool{"background": true, "background-image": true}

// cssFunctions are the functions a value may call: colours, arithmetic
// and gradients, none of which loads or runs anything.
var cssFunctions = map[string]bool{"rgb(": true, "rgba(": true, "hsl(": true, "hsla(": true, "calc(": true,
	"min(": true, "max(": true, "clamp(": true, "linear-gradient(": true, "radial-gradient(": true,
	"repeating-linear-gradient(": true, "repeating-radial-gradient(": true,
	// Timing functions and transforms: numbers in, numbers out.
	"cubic-bezier(": true, "steps(": true, "translate(": true, "translatex(": true, "translatey(": true,
	"scale(": true, "scalex(": true, "scaley(": true, "rotate(": true, "skew(": true, "skewx(": true, "skewy(": true}

// selectorFunctions are the functional pseudo-classes a selector may use.
var selectorFunctions = map[string]bool{"not(": true, "is(": true, "where(": true, "nth-child(": true,
	"nth-last-child(": true, "nth-of-type(": true, "nth-last-of-type(": true, "lang(": true}

// sanitizeCSS returns the part of stylesheet src that is safe to show
// (see the comment at the top). resolveURL maps the URL of a url() in a
// background: to the URL to write (a data: URL for a cid: part, an https
// URL once images are allowed), or false to drop the declaration.
func sanitizeCSS(src string, resolveURL func(string) (string, bool)) string {
	p := css.NewParser(parse.NewInputString(src), false)
	var out strings.Builder
	// open holds, per block the parser is in, what it is and whether it
	// was written (and so must be closed) or is being skipped with all
	// it holds.
	var open []cssBlock
	skipping := func() bool { return len(open) > 0 && !open[len(open)-1].written }
	parent := func() blockKind {
		if len(open) == 0 {
			return blockTop
		}
		return open[len(open)-1].kind
	}
	for {
		gt, _, data := p.Next()
		switch gt {
		case css.ErrorGrammar:
			if errors.Is(p.Err(), io.EOF) {
				for i := len(open) - 1; i >= 0; i-- {
					if open[i].written {
						out.WriteString("}")
					}
				}
				return out.String()
			}
			// A parse error: the parser recovers by itself; what it
			// skipped is not written.
		case css.BeginAtRuleGrammar:
			// @media and @supports (conditional group rules, CSS
			// Conditional 3) hold rules and may nest; @keyframes (CSS
			// Animations 1) holds keyframe blocks, at the top or in a
			// group. @import, @font-face, @page and the rest go with
			// their whole block.
			b := cssBlock{kind: blockOther}
			vals := trimSpace(p.Values())
			name := strings.ToLower(string(data))
			inGroup := parent() == blockTop || parent() == blockGroup
			switch {
			case skipping() || !inGroup:
			case name == "@media" && mediaOK(vals):
				b = cssBlock{kind: blockGroup, written: true}
				out.WriteString("@media ")
			case name == "@supports" && supportsOK(vals):
				b = cssBlock{kind: blockGroup, written: true}
				out.WriteString("@supports ")
			case (name == "@keyframes" || name == "@-webkit-keyframes") && keyframesNameOK(vals):
				b = cssBlock{kind: blockKeyframes, written: true}
				out.WriteString(name + " ")
			}
			if b.written {
				writeTokens(&out, vals)
				out.WriteString("{")
			}
			open = append(open, b)
		case css.BeginRulesetGrammar:
			b := cssBlock{kind: blockRule}
			switch {
			case skipping():
			case parent() == blockKeyframes:
				b.written = keyframeSelectorOK(p.Values())
			case parent() == blockTop || parent() == blockGroup:
				b.written = selectorOK(p.Values())
			}
			if b.written {
				writeTokens(&out, p.Values())
				out.WriteString("{")
			}
			open = append(open, b)
		case css.EndAtRuleGrammar, css.EndRulesetGrammar:
			if len(open) == 0 {
				continue
			}
			if open[len(open)-1].written {
				out.WriteString("}")
			}
			open = open[:len(open)-1]
		case css.DeclarationGrammar:
			// Only inside a rule or keyframe that is written: a
			// declaration at the top or in a group itself is an error
			// the browser drops.
			if parent() != blockRule || skipping() {
				continue
			}
			if decl, ok := declaration(string(data), p.Values(), resolveURL); ok {
				out.WriteString(decl)
			}
		}
		// AtRuleGrammar (@import, @charset, @namespace: statements
		// without a block), custom properties, comments and stray
		// tokens are dropped.
	}
}

// blockKind is what a block of a stylesheet holds.
type blockKind int

const (
	blockTop       blockKind = iota // the sheet itself
	blockGroup                      // @media, @supports: rules and groups
	blockKeyframes                  // @keyframes: keyframe blocks
	blockRule                       // a style rule or a keyframe: declarations
	blockOther                      // a dropped at-rule
)

type cssBlock struct {
	kind    blockKind
	written bool
}

func trimSpace(vals []css.Token) []css.Token {
	for len(vals) > 0 && vals[0].TokenType == css.WhitespaceToken {
		vals = vals[1:]
	}
	for len(vals) > 0 && vals[len(vals)-1].TokenType == css.WhitespaceToken {
		vals = vals[:len(vals)-1]
	}
	return vals
}

// supportsOK accepts an @supports condition of feature tests such as
// (display: grid) and (not (gap: 1px)): words, numbers, colons and
// parentheses, nothing that is a function, a string or a URL (CSS
// Conditional 3, 6.1). The condition only asks the browser; it loads
// nothing.
func supportsOK(vals []css.Token) bool {
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		switch v.TokenType {
		case css.IdentToken, css.NumberToken, css.DimensionToken, css.PercentageToken, css.ColonToken,
			css.WhitespaceToken, css.LeftParenthesisToken, css.RightParenthesisToken, css.HashToken:
		default:
			return false
		}
	}
	return true
}

// keyframesNameOK accepts a keyframes name: one identifier (CSS
// Animations 1, 4.2; the string form is rare in mail and not needed).
func keyframesNameOK(vals []css.Token) bool {
	return len(vals) == 1 && vals[0].TokenType == css.IdentToken
}

// keyframeSelectorOK accepts a keyframe block's selector: from, to and
// percentages, separated by commas (CSS Animations 1, 4.2).
func keyframeSelectorOK(vals []css.Token) bool {
	n := 0
	for _, v := range vals {
		switch v.TokenType {
		case css.PercentageToken:
			n++
		case css.IdentToken:
			if k := strings.ToLower(string(v.Data)); k != "from" && k != "to" {
				return false
			}
			n++
		case css.CommaToken, css.WhitespaceToken:
		default:
			return false
		}
	}
	return n > 0
}

// mediaOK accepts a media query list of plain words, numbers and
// parentheses: (max-width: 600px), screen and (…), not print.
func mediaOK(vals []css.Token) bool {
	for _, v := range vals {
		switch v.TokenType {
		case css.IdentToken, css.NumberToken, css.DimensionToken, css.ColonToken, css.CommaToken,
			css.WhitespaceToken, css.LeftParenthesisToken, css.RightParenthesisToken:
		case css.DelimToken:
			if string(v.Data) != "/" && string(v.Data) != ">" && string(v.Data) != "=" {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// selectorOK accepts selectors made of names, classes, ids, attribute
// tests, combinators and the usual pseudo-classes.
func selectorOK(vals []css.Token) bool {
	if len(vals) == 0 {
		return false
	}
	inAttr := false
	for _, v := range vals {
		switch v.TokenType {
		case css.LeftBracketToken:
			inAttr = true
		case css.RightBracketToken:
			inAttr = false
		case css.StringToken:
			// Only as an attribute test's value: a[href^="https"].
			if !inAttr {
				return false
			}
		case css.IdentToken, css.HashToken, css.DelimToken, css.ColonToken, css.CommaToken, css.WhitespaceToken,
			css.IncludeMatchToken, css.DashMatchToken,
			css.PrefixMatchToken, css.SuffixMatchToken, css.SubstringMatchToken, css.RightParenthesisToken,
			css.NumberToken, css.DimensionToken:
		case css.FunctionToken:
			if !selectorFunctions[strings.ToLower(string(v.Data))] {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// declaration writes "prop:value;" when the property is allowed and its
// value is: plain tokens, allowed functions, and url() only where an
// image goes and resolveURL maps it.
func declaration(prop string, vals []css.Token, resolveURL func(string) (string, bool)) (string, bool) {
	prop = strings.ToLower(prop)
	if !cssProperties[prop] {
		return "", false
	}
	var b strings.Builder
	b.WriteString(prop)
	b.WriteString(":")
	for _, v := range vals {
		switch v.TokenType {
		case css.IdentToken:
			if prop == "position" && strings.EqualFold(string(v.Data), "fixed") {
				// A fixed box would sit over the frame whatever it
				// scrolls: the classic fake "sign in again" overlay.
				return "", false
			}
			writeToken(&b, v)
		case css.NumberToken, css.DimensionToken, css.PercentageToken, css.HashToken, css.StringToken,
			css.WhitespaceToken, css.CommaToken, css.LeftParenthesisToken, css.RightParenthesisToken:
			writeToken(&b, v)
		case css.DelimToken:
			switch string(v.Data) {
			case "!", "/", "+", "-", "*", ".":
				writeToken(&b, v)
			default:
				return "", false
			}
		case css.FunctionToken:
			if !cssFunctions[strings.ToLower(string(v.Data))] {
				return "", false // expression(), url-like functions, var(), attr()…
			}
			writeToken(&b, v)
		case css.URLToken:
			u, ok := urlOf(string(v.Data))
			if !ok || !urlProperties[prop] {
				return "", false
			}
			if u, ok = resolveURL(u); !ok {
				return "", false
			}
			b.WriteString(`url("`)
			b.WriteString(cssString(u))
			b.WriteString(`")`)
		default:
			// Bad strings and URLs, @-keywords, braces, unicode ranges.
			return "", false
		}
	}
	b.WriteString(";")
	return b.String(), true
}

// urlOf reads the URL of a url( … ) token: unquoted, or one string,
// with CSS escapes decoded.
func urlOf(tok string) (string, bool) {
	if len(tok) < 5 || !strings.EqualFold(tok[:4], "url(") || tok[len(tok)-1] != ')' {
		return "", false
	}
	s := strings.TrimSpace(tok[4 : len(tok)-1])
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return unescapeCSS(s), true
}

// unescapeCSS decodes CSS escapes (CSS Syntax Level 3, 4.3.7): a
// backslash and 1 to 6 hex digits (and one white space after them) is
// that code point, a backslash before anything else is that character.
func unescapeCSS(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		for j < len(s) && j < i+7 && isHex(s[j]) {
			j++
		}
		if j == i+1 {
			b.WriteByte(s[j])
			i = j
			continue
		}
		n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
		if n == 0 || n > unicode.MaxRune || (n >= 0xd800 && n <= 0xdfff) {
			n = unicode.ReplacementChar
		}
		b.WriteRune(rune(n))
		if j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
			j++
		}
		i = j - 1
	}
	return b.String()
}

// identEscape writes s as a CSS identifier: letters, digits (not
// first), "-" and "_" as they are, every other character as a hex
// escape (CSS Syntax Level 3, 4.3.7).
func identEscape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r >= 0x80 && r != unicode.ReplacementChar:
			b.WriteRune(r)
		case '0' <= r && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteString(`\` + strconv.FormatInt(int64(r), 16) + " ")
		}
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// cssString escapes text for a double-quoted CSS string that sits in an
// HTML <style> element: no quote or backslash ends it, no "<" starts
// "</style", and no brace or parenthesis shows in it (so a string never
// looks like a block or a url( to anything that reads the sheet).
func cssString(s string) string {
	return strings.NewReplacer(`\`, `\5c `, `"`, `\22 `, "\n", `\a `, "\r", `\d `, "<", `\3c `, "{", `\7b `, "}", `\7d `, "(", `\28 `).Replace(s)
}

// stringToken rewrites a string token as a closed, double-quoted string
// with cssString's escapes: one left open at the end of the sheet would
// otherwise run on over whatever is written after it.
func stringToken(tok string) string {
	if tok == "" {
		return `""`
	}
	q, body := tok[0], tok[1:]
	if n := len(body); n > 0 && body[n-1] == q {
		slashes := 0
		for i := n - 2; i >= 0 && body[i] == '\\'; i-- {
			slashes++
		}
		if slashes%2 == 0 {
			body = body[:n-1]
		}
	}
	return `"` + cssString(unescapeCSS(body)) + `"`
}

func writeTokens(b *strings.Builder, vals []css.Token) {
	for _, v := range vals {
		writeToken(b, v)
	}
}

// writeToken writes a token as it was, with "<" escaped (it may only
// occur in strings and escapes here), so that no "</style" can close the
// element early.
func writeToken(b *strings.Builder, v css.Token) {
	switch {
	case v.TokenType == css.StringToken:
		b.WriteString(stringToken(string(v.Data)))
		return
	case (v.TokenType == css.IdentToken || v.TokenType == css.HashToken) && strings.Contains(string(v.Data), `\`):
		// Escapes are written again as hex, so that an escaped brace,
		// quote or "<" never shows as itself in the output.
		d := string(v.Data)
		if v.TokenType == css.HashToken {
			b.WriteByte('#')
			d = d[1:]
		}
		b.WriteString(identEscape(unescapeCSS(d)))
		return
	}
	b.WriteString(strings.ReplaceAll(string(v.Data), "<", `\3c `))
}
