package message

import (
	"math"
	"strings"
)

// parseAddressList reads an address-list (RFC 5322 3.4, with the obsolete
// forms of 4.4: routes, empty list elements) into IMAP ENVELOPE addresses.
// It never fails: unbalanced quotes, brackets and groups are closed at the
// end of the value, stray specials are skipped, and addresses past the
// first limit are dropped. The second result tells whether anything had
// to be guessed or dropped.
func parseAddressList(s string, limit int) ([]Address, bool) {
	p := addrParser{s: s}
	var out []Address
	inGroup := false
	for len(out) < limit {
		p.comment = ""
		p.skipCFWS()
		if p.i >= len(p.s) {
			break
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			continue
		case ';':
			p.i++
			if inGroup {
				out = append(out, Address{GroupEnd: true})
				inGroup = false
			} else {
				p.bad = true
			}
			continue
		case '>':
			p.i++
			p.bad = true
			continue
		}
		words := p.words()
		c := byte(0)
		if p.i < len(p.s) {
			c = p.s[p.i]
		}
		switch {
		case c == ':' && !inGroup:
			p.i++
			out = append(out, Address{Mailbox: phrase(words), GroupStart: true})
			inGroup = true
		case c == '<':
			p.i++
			a := p.angle()
			a.Name = phrase(words)
			// "Nobody <>" has no address to give IMAP.
			if a.Mailbox != "" || a.Host != "" {
				out = append(out, a)
			}
		default:
			if c == ':' {
				// A group inside a group is not allowed (RFC 5322 3.4).
				p.i++
				p.bad = true
			}
			a := addrSpec(words, &p.bad)
			if len(words) > 0 && a.Host == "" {
				p.bad = true
			}
			a.Name = p.comment
			if a.Mailbox != "" || a.Host != "" {
				out = append(out, a)
			}
		}
	}
	if len(out) >= limit {
		if p.skipCFWS(); p.i < len(p.s) {
			p.bad = true // addresses dropped
		}
	}
	if inGroup {
		out = append(out, Address{GroupEnd: true})
		p.bad = true
	}
	return out, p.bad
}

type addrParser struct {
	s       string
	i       int
	comment string // the last comment skipped, used as name for "a@b (Name)"
	bad     bool
	// unclosed: a quote was found without its end.
	unclosed bool
}

// word is a token of a phrase or addr-spec.
type word struct {
	text    string
	quoted  bool // a quoted-string, text unescaped
	special bool // "@" or "."
	space   bool // white space or a comment came before it
}

// skipCFWS skips white space and comments (RFC 5322 3.2.2), reporting
// whether it skipped anything.
func (p *addrParser) skipCFWS() bool {
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		case '(':
			p.readComment()
		default:
			return p.i > start
		}
	}
	return p.i > start
}

func (p *addrParser) readComment() {
	depth := 0
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
			continue
		case '(':
			depth++
			if depth == 1 {
				continue
			}
		case ')':
			depth--
			if depth == 0 {
				p.comment = strings.TrimSpace(b.String())
				return
			}
		}
		b.WriteByte(c)
	}
	p.bad = true
	p.comment = strings.TrimSpace(b.String())
}

// words reads words up to one of the specials that end a phrase or an
// addr-spec: ':' '<' '>' ',' ';' or the end.
func (p *addrParser) words() []word {
	var ws []word
	for {
		sp := p.skipCFWS()
		if p.i >= len(p.s) {
			return ws
		}
		c := p.s[p.i]
		switch c {
		case ':', '<', '>', ',', ';':
			return ws
		case '"':
			if p.unclosed || !closedQuote(p.s[p.i+1:]) {
				// An unterminated quote would swallow the rest:
				// read on as if it were not there.
				p.i++
				p.bad = true
				// Later quotes are taken as literal too: looking
				// for their ends again would be quadratic.
				p.unclosed = true
				continue
			}
			ws = append(ws, word{text: p.quoted(), quoted: true, space: sp})
		case '@', '.':
			p.i++
			ws = append(ws, word{text: p.s[p.i-1 : p.i], special: true, space: sp})
		case '[':
			// domain-literal (RFC 5322 3.4.1), kept as written.
			end := strings.IndexByte(p.s[p.i:], ']')
			if end < 0 {
				end = len(p.s) - p.i - 1
				p.bad = true
			}
			ws = append(ws, word{text: p.s[p.i : p.i+end+1], space: sp})
			p.i += end + 1
		default:
			start := p.i
			for p.i < len(p.s) && !isAddrSpecial(p.s[p.i]) {
				p.i++
			}
			if p.i == start {
				// A stray ']', ')' or '\\': skip it.
				p.i++
				p.bad = true
				continue
			}
			ws = append(ws, word{text: p.s[start:p.i], space: sp})
		}
	}
}

func isAddrSpecial(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// quoted reads a quoted-string at p.i and returns its content with
// quoted-pairs unescaped (RFC 5322 3.2.4).
func (p *addrParser) quoted() string {
	p.i++ // opening quote
	start := p.i
	// Fast path: no quoted-pair.
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"':
			p.i++
			return p.s[start : p.i-1]
		case '\\':
			goto slow
		}
		p.i++
	}
	p.bad = true
	return p.s[start:]
slow:
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	p.bad = true
	return b.String()
}

// angle reads an angle-addr after its '<', with an optional obsolete route
// (RFC 5322 4.4 obs-route: "@a,@b:").
func (p *addrParser) angle() Address {
	var a Address
	p.skipCFWS()
	if p.i < len(p.s) && p.s[p.i] == '@' {
		// The route runs to a ':'; stop at any special that cannot
		// be in it, so hostile input cannot make this quadratic.
		colon := -1
		for k := p.i; k < len(p.s); k++ {
			if c := p.s[k]; c == ':' {
				colon = k - p.i
				break
			} else if c == '>' || c == '<' || c == ';' || c == '"' || c == '(' {
				break
			}
		}
		if colon >= 0 {
			var b strings.Builder
			for _, c := range []byte(p.s[p.i : p.i+colon]) {
				if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
					b.WriteByte(c)
				}
			}
			a.Adl = b.String()
			p.i += colon + 1
		}
	}
	ws := p.words()
	spec := addrSpec(ws, &p.bad)
	a.Mailbox, a.Host = spec.Mailbox, spec.Host
	if p.i < len(p.s) && p.s[p.i] == '>' {
		p.i++
	} else {
		p.bad = true
	}
	return a
}

// addrSpec splits words into local part and domain at the last "@".
func addrSpec(ws []word, bad *bool) Address {
	at := -1
	for i, w := range ws {
		if w.special && w.text == "@" {
			at = i
		}
	}
	if at < 0 {
		// No domain: keep what was written as the mailbox.
		return Address{Mailbox: phrase(ws)}
	}
	var local strings.Builder
	for i, w := range ws[:at] {
		if w.special && w.text == "@" {
			*bad = true
		}
		if i > 0 && w.space && !w.special && !ws[i-1].special {
			*bad = true
		}
		if w.quoted {
			local.WriteString(quoteString(w.text))
		} else {
			local.WriteString(w.text)
		}
	}
	var host strings.Builder
	for _, w := range ws[at+1:] {
		host.WriteString(w.text)
	}
	return Address{Mailbox: local.String(), Host: host.String()}
}

// phrase joins words as written, one space where there was white space.
func phrase(ws []word) string {
	if len(ws) == 1 {
		return ws[0].text
	}
	var b strings.Builder
	for i, w := range ws {
		if i > 0 && w.space {
			b.WriteByte(' ')
		}
		b.WriteString(w.text)
	}
	return b.String()
}

// quoteString writes s as a quoted-string.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// closedQuote tells whether s, which follows an opening quote, holds the
// closing one.
func closedQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return true
		}
	}
	return false
}

// AddressList reads the value of an address field (From, Sender,
// Resent-From...: what follows the colon, folded or not) as Parse reads
// the envelope's, but whole: no bound on its length or its addresses,
// for a caller that must see every address a reader may be shown (the
// field's size is the caller's to bound). Group names and group ends are
// among the addresses, marked as in Envelope.
func AddressList(value []byte) []Address {
	as, _ := parseAddressList(unfold(value), math.MaxInt)
	return as
}
