package imapwire

import "strconv"

// FetchKind is a FETCH data item (RFC 9051 section 6.4.5; MODSEQ from RFC
// 7162 section 3.1.4.1; BINARY from RFC 3516 section 4.1).
type FetchKind uint8

// The fetch items.
const (
	FetchFlags FetchKind = iota + 1
	FetchInternalDate
	FetchRFC822       // like BODY[], sets \Seen
	FetchRFC822Header // like BODY.PEEK[HEADER]
	FetchRFC822Text   // like BODY[TEXT], sets \Seen
	FetchRFC822Size
	FetchEnvelope
	FetchBody // BODY without section: the non-extensible BODYSTRUCTURE
	FetchBodyStructure
	FetchUID
	FetchModSeq
	FetchBodySection // BODY[section]<partial> and BODY.PEEK[...]
	FetchBinary      // BINARY[part]<partial> and BINARY.PEEK[...]
	FetchBinarySize  // BINARY.SIZE[part]
)

func (k FetchKind) name() string {
	switch k {
	case FetchFlags:
		return "FLAGS"
	case FetchInternalDate:
		return "INTERNALDATE"
	case FetchRFC822:
		return "RFC822"
	case FetchRFC822Header:
		return "RFC822.HEADER"
	case FetchRFC822Text:
		return "RFC822.TEXT"
	case FetchRFC822Size:
		return "RFC822.SIZE"
	case FetchEnvelope:
		return "ENVELOPE"
	case FetchBody, FetchBodySection:
		return "BODY"
	case FetchBodyStructure:
		return "BODYSTRUCTURE"
	case FetchUID:
		return "UID"
	case FetchModSeq:
		return "MODSEQ"
	case FetchBinary:
		return "BINARY"
	case FetchBinarySize:
		return "BINARY.SIZE"
	}
	return ""
}

// SectionSpec is the text part of a section (RFC 9051 section-msgtext and
// section-text).
type SectionSpec uint8

// The section specifiers. SectionWhole is the empty one: the whole message,
// or the whole of the part.
const (
	SectionWhole SectionSpec = iota
	SectionHeader
	SectionHeaderFields
	SectionHeaderFieldsNot
	SectionText
	SectionMIME // only after a part number
)

func (s SectionSpec) name() string {
	switch s {
	case SectionHeader:
		return "HEADER"
	case SectionHeaderFields:
		return "HEADER.FIELDS"
	case SectionHeaderFieldsNot:
		return "HEADER.FIELDS.NOT"
	case SectionText:
		return "TEXT"
	case SectionMIME:
		return "MIME"
	}
	return ""
}

// Section is a body section such as "1.2.HEADER.FIELDS (From To)".
type Section struct {
	Part   []uint32 // nil for the top-level message
	Spec   SectionSpec
	Fields []string // for the HEADER.FIELDS forms, as the client wrote them
}

// Partial is the <offset.count> of a body or binary fetch.
type Partial struct {
	Offset, Count uint64
}

// FetchItem is one requested FETCH item.
type FetchItem struct {
	Kind    FetchKind
	Peek    bool     // BODY.PEEK / BINARY.PEEK: do not set \Seen
	Section Section  // FetchBodySection, FetchBinary (Part only), FetchBinarySize
	Partial *Partial // nil when absent
}

// SetsSeen reports whether fetching the item sets \Seen on the message (RFC
// 9051 section 6.4.5) in a read-write mailbox.
func (it *FetchItem) SetsSeen() bool {
	switch it.Kind {
	case FetchRFC822, FetchRFC822Text:
		return true
	case FetchBodySection, FetchBinary:
		return !it.Peek
	}
	return false
}

// AppendRequest appends the item as the client would send it.
func (it *FetchItem) AppendRequest(b []byte) []byte {
	b = append(b, it.Kind.name()...)
	switch it.Kind {
	case FetchBodySection, FetchBinary:
		if it.Peek {
			b = append(b, ".PEEK"...)
		}
	case FetchBinarySize:
	default:
		return b
	}
	b = it.appendSection(b)
	if it.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, it.Partial.Offset, 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, it.Partial.Count, 10)
		b = append(b, '>')
	}
	return b
}

// AppendResponseName appends the name under which the FETCH response
// returns the item (RFC 9051 section 7.5.2): BODY.PEEK[...] is answered as
// BODY[...], and a partial fetch as <offset> only, the origin octet.
func (it *FetchItem) AppendResponseName(b []byte) []byte {
	b = append(b, it.Kind.name()...)
	switch it.Kind {
	case FetchBodySection, FetchBinary, FetchBinarySize:
	default:
		return b
	}
	b = it.appendSection(b)
	if it.Partial != nil {
		b = append(b, '<')
		b = strconv.AppendUint(b, it.Partial.Offset, 10)
		b = append(b, '>')
	}
	return b
}

func (it *FetchItem) appendSection(b []byte) []byte {
	b = append(b, '[')
	for i, n := range it.Section.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(n), 10)
	}
	if it.Section.Spec != SectionWhole {
		if len(it.Section.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, it.Section.Spec.name()...)
		if it.Section.Spec == SectionHeaderFields || it.Section.Spec == SectionHeaderFieldsNot {
			b = append(b, " ("...)
			for i, f := range it.Section.Fields {
				if i > 0 {
					b = append(b, ' ')
				}
				b = appendAString(b, f)
			}
			b = append(b, ')')
		}
	}
	return append(b, ']')
}

// Fetch is FETCH set items [(modifiers)] (RFC 9051 section 6.4.5, RFC 7162
// sections 3.1.4.1 and 3.2.6). The macros ALL, FAST and FULL are expanded.
type Fetch struct {
	Set   NumSet
	Items []FetchItem
	// ChangedSince is the CHANGEDSINCE modifier, 0 when absent (a
	// mod-sequence-value is at least 1, RFC 7162 section 7).
	ChangedSince uint64
	// Vanished is the VANISHED modifier, only allowed with UID FETCH and
	// CHANGEDSINCE (RFC 7162 section 3.2.6).
	Vanished bool
}

func (a *Fetch) appendArgs(b []byte) []byte {
	b = a.Set.AppendTo(append(b, ' '))
	b = append(b, " ("...)
	for i := range a.Items {
		if i > 0 {
			b = append(b, ' ')
		}
		b = a.Items[i].AppendRequest(b)
	}
	b = append(b, ')')
	if a.ChangedSince != 0 || a.Vanished {
		b = append(b, " ("...)
		if a.ChangedSince != 0 {
			b = append(b, "CHANGEDSINCE "...)
			b = strconv.AppendUint(b, a.ChangedSince, 10)
		}
		if a.Vanished {
			b = append(b, " VANISHED"...)
		}
		b = append(b, ')')
	}
	return b
}

// fetch parses FETCH sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att
// / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers].
func (p *parser) fetch(uid bool) Args {
	a := &Fetch{}
	p.sp()
	a.Set = p.numSet(true)
	p.sp()
	if p.take('(') {
		for p.err == nil {
			a.Items = append(a.Items, p.fetchAtt())
			if !p.take(' ') {
				break
			}
		}
		p.expect(')', "')' to end fetch items")
	} else {
		switch {
		case p.takeKeyword("ALL"):
			a.Items = fetchMacro(false, false)
		case p.takeKeyword("FAST"):
			a.Items = fetchMacro(true, false)
		case p.takeKeyword("FULL"):
			a.Items = fetchMacro(false, true)
		default:
			a.Items = []FetchItem{p.fetchAtt()}
		}
	}
	if !p.take(' ') {
		return a
	}
	p.expect('(', "'(' to start fetch modifiers")
	p.listItems(func() {
		switch mod := p.keyword("fetch modifier"); mod {
		case "CHANGEDSINCE":
			p.sp()
			a.ChangedSince = p.modSeq(false)
		case "VANISHED":
			a.Vanished = true
		case "":
		default:
			p.failf("unknown fetch modifier %s", mod)
		}
	})
	if a.Vanished && p.err == nil {
		// RFC 7162 section 3.2.6: VANISHED needs UID FETCH and
		// CHANGEDSINCE; otherwise the server MUST reply BAD.
		if !uid {
			p.failf("VANISHED needs UID FETCH")
		} else if a.ChangedSince == 0 {
			p.failf("VANISHED needs CHANGEDSINCE")
		}
	}
	return a
}

// fetchMacro expands FAST, ALL and FULL (RFC 9051 section 6.4.5).
func fetchMacro(fast, full bool) []FetchItem {
	items := []FetchItem{{Kind: FetchFlags}, {Kind: FetchInternalDate}, {Kind: FetchRFC822Size}}
	if !fast {
		items = append(items, FetchItem{Kind: FetchEnvelope})
	}
	if full {
		items = append(items, FetchItem{Kind: FetchBody})
	}
	return items
}

func isFetchNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.'
}

func (p *parser) fetchAtt() FetchItem {
	word := p.span(isFetchNameChar)
	if len(word) == 0 {
		p.failf("expected fetch item, found %s", p.describe())
		return FetchItem{}
	}
	name := upperASCII(word)
	it := FetchItem{}
	switch name {
	case "FLAGS":
		it.Kind = FetchFlags
	case "INTERNALDATE":
		it.Kind = FetchInternalDate
	case "RFC822":
		it.Kind = FetchRFC822
	case "RFC822.HEADER":
		it.Kind = FetchRFC822Header
	case "RFC822.TEXT":
		it.Kind = FetchRFC822Text
	case "RFC822.SIZE":
		it.Kind = FetchRFC822Size
	case "ENVELOPE":
		it.Kind = FetchEnvelope
	case "BODYSTRUCTURE":
		it.Kind = FetchBodyStructure
	case "UID":
		it.Kind = FetchUID
	case "MODSEQ":
		it.Kind = FetchModSeq
	case "BODY":
		if p.peek() != '[' {
			it.Kind = FetchBody
			break
		}
		it.Kind = FetchBodySection
		it.Section = p.section(false)
		it.Partial = p.partial()
	case "BODY.PEEK":
		it.Kind, it.Peek = FetchBodySection, true
		it.Section = p.section(false)
		it.Partial = p.partial()
	case "BINARY", "BINARY.PEEK":
		it.Kind, it.Peek = FetchBinary, name == "BINARY.PEEK"
		it.Section = p.section(true)
		it.Partial = p.partial()
	case "BINARY.SIZE":
		it.Kind = FetchBinarySize
		it.Section = p.section(true)
	case "ALL", "FAST", "FULL":
		p.failf("%s is a macro and cannot be in a list", name)
	default:
		p.failf("unknown fetch item %s", name)
	}
	if p.err == nil && !p.atEnd() && isAtomChar(p.peek()) && p.peek() != '[' && p.peek() != '<' {
		p.failf("unexpected %s after fetch item %s", p.describe(), name)
	}
	return it
}

// section parses "[" [section-spec] "]", or for BINARY "[" [section-part]
// "]" (RFC 3516 section-binary).
func (p *parser) section(binary bool) Section {
	var s Section
	p.expect('[', "'[' to start section")
	if p.take(']') {
		return s
	}
	for p.err == nil && isDigit(p.peek()) {
		s.Part = append(s.Part, p.nzNumber32("part number"))
		if !p.take('.') {
			break
		}
	}
	if p.err != nil {
		return s
	}
	if p.peek() != ']' {
		if binary {
			p.failf("BINARY sections are part numbers only")
			return s
		}
		if len(s.Part) > 0 && p.line[p.pos-1] != '.' {
			p.failf("expected '.' before section text")
			return s
		}
		word := upperASCII(p.span(func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '.' }))
		switch word {
		case "HEADER":
			s.Spec = SectionHeader
		case "HEADER.FIELDS":
			s.Spec = SectionHeaderFields
		case "HEADER.FIELDS.NOT":
			s.Spec = SectionHeaderFieldsNot
		case "TEXT":
			s.Spec = SectionText
		case "MIME":
			if len(s.Part) == 0 {
				p.failf("MIME needs a part number")
			}
			s.Spec = SectionMIME
		default:
			p.failf("unknown section %q", word)
		}
		if s.Spec == SectionHeaderFields || s.Spec == SectionHeaderFieldsNot {
			p.sp()
			p.expect('(', "'(' to start header field list")
			for p.err == nil {
				f := p.astring("header field name")
				if f == "" && p.err == nil {
					p.failf("empty header field name")
				}
				s.Fields = append(s.Fields, f)
				if !p.take(' ') {
					break
				}
			}
			p.expect(')', "')' to end header field list")
		}
	} else if len(s.Part) > 0 && p.line[p.pos-1] == '.' {
		p.failf("section ends with '.'")
	}
	p.expect(']', "']' to end section")
	return s
}

// partial parses an optional "<" number "." nz-number ">".
func (p *parser) partial() *Partial {
	if !p.take('<') {
		return nil
	}
	var pt Partial
	pt.Offset = p.number("partial offset", 1<<63-1)
	p.expect('.', "'.' in partial")
	pt.Count = p.number("partial length", 1<<63-1)
	if pt.Count == 0 && p.err == nil {
		p.failf("partial length must not be 0")
	}
	p.expect('>', "'>' to end partial")
	return &pt
}

// String returns the item as the client would send it.
func (it FetchItem) String() string { return string(it.AppendRequest(nil)) }

// ResponseName returns the name of the item in a FETCH response.
func (it FetchItem) ResponseName() string { return string(it.AppendResponseName(nil)) }
