package imapwire

import (
	"strconv"
	"strings"
	"time"
)

// SearchOp is the kind of a search key (RFC 9051 section 6.4.4; RFC 3501
// section 6.4.4 for NEW, OLD and RECENT; RFC 7162 section 3.1.5 for MODSEQ).
type SearchOp uint8

// The search keys. The comment gives the field of SearchKey that holds the
// argument.
const (
	SearchAnd    SearchOp = iota + 1 // Keys: a parenthesised list, all must match
	SearchSeqSet                     // Set: message sequence numbers
	SearchUID                        // Set: UIDs
	SearchAll
	SearchAnswered
	SearchDeleted
	SearchDraft
	SearchFlagged
	SearchSeen
	SearchRecent // RFC 3501 only
	SearchNew    // RFC 3501 only: RECENT UNSEEN
	SearchOld    // RFC 3501 only: NOT RECENT
	SearchUnanswered
	SearchUndeleted
	SearchUndraft
	SearchUnflagged
	SearchUnseen
	SearchKeyword    // Text: the keyword
	SearchUnkeyword  // Text: the keyword
	SearchBcc        // Text
	SearchCc         // Text
	SearchFrom       // Text
	SearchTo         // Text
	SearchSubject    // Text
	SearchBody       // Text
	SearchText       // Text
	SearchHeader     // Field, Text
	SearchBefore     // Date: internal date, day only
	SearchOn         // Date
	SearchSince      // Date
	SearchSentBefore // Date: Date header, day only
	SearchSentOn     // Date
	SearchSentSince  // Date
	SearchLarger     // Number: RFC822.SIZE
	SearchSmaller    // Number
	SearchModSeq     // Number, and ModSeqEntry, ModSeqType when given
	SearchNot        // Keys[0]
	SearchOr         // Keys[0], Keys[1]
)

// searchName returns the keyword of a search key. It is a function, not a
// map, so that the package has no mutable state.
func searchName(op SearchOp) string {
	switch op {
	case SearchAll:
		return "ALL"
	case SearchAnswered:
		return "ANSWERED"
	case SearchDeleted:
		return "DELETED"
	case SearchDraft:
		return "DRAFT"
	case SearchFlagged:
		return "FLAGGED"
	case SearchSeen:
		return "SEEN"
	case SearchRecent:
		return "RECENT"
	case SearchNew:
		return "NEW"
	case SearchOld:
		return "OLD"
	case SearchUnanswered:
		return "UNANSWERED"
	case SearchUndeleted:
		return "UNDELETED"
	case SearchUndraft:
		return "UNDRAFT"
	case SearchUnflagged:
		return "UNFLAGGED"
	case SearchUnseen:
		return "UNSEEN"
	case SearchKeyword:
		return "KEYWORD"
	case SearchUnkeyword:
		return "UNKEYWORD"
	case SearchBcc:
		return "BCC"
	case SearchCc:
		return "CC"
	case SearchFrom:
		return "FROM"
	case SearchTo:
		return "TO"
	case SearchSubject:
		return "SUBJECT"
	case SearchBody:
		return "BODY"
	case SearchText:
		return "TEXT"
	case SearchHeader:
		return "HEADER"
	case SearchBefore:
		return "BEFORE"
	case SearchOn:
		return "ON"
	case SearchSince:
		return "SINCE"
	case SearchSentBefore:
		return "SENTBEFORE"
	case SearchSentOn:
		return "SENTON"
	case SearchSentSince:
		return "SENTSINCE"
	case SearchLarger:
		return "LARGER"
	case SearchSmaller:
		return "SMALLER"
	case SearchModSeq:
		return "MODSEQ"
	case SearchNot:
		return "NOT"
	case SearchOr:
		return "OR"
	case SearchUID:
		return "UID"
	}
	return ""
}

// searchOp is the inverse of searchName for keyword keys.
func searchOp(name string) SearchOp {
	for op := SearchAll; op <= SearchOr; op++ {
		if searchName(op) == name {
			return op
		}
	}
	if name == "UID" {
		return SearchUID
	}
	return 0
}

// SearchKey is one search criterion. Op says which fields are used.
type SearchKey struct {
	Op     SearchOp
	Set    NumSet      // SearchSeqSet, SearchUID
	Text   string      // string arguments; the keyword of KEYWORD/UNKEYWORD
	Field  string      // HEADER field name
	Date   time.Time   // date keys: the day at 00:00 UTC
	Number uint64      // LARGER, SMALLER, MODSEQ
	Keys   []SearchKey // AND, NOT, OR operands
	// ModSeqEntry and ModSeqType are the optional entry name (such as
	// `/flags/\draft`) and entry type ("priv", "shared" or "all", lower
	// case) of MODSEQ (RFC 7162 section 3.1.5). Servers may ignore them.
	ModSeqEntry, ModSeqType string
}

// SearchReturn holds the ESEARCH return options (RFC 4731 section 3.1),
// SAVE (RFC 5182 section 2.1) and CONTEXT and UPDATE (RFC 5267 sections
// 4.2 and 4.3). "RETURN ()" is read as ALL, as RFC 4731 says, and so is a
// list that holds only the CONTEXT hint, which asks for no result.
type SearchReturn struct {
	Min, Max, All, Count, Save bool
	// Context is the hint that the client may ask for more of the result
	// later (RFC 5267 section 4.2); a server may ignore it.
	Context bool
	// Update asks the server to keep the result up to date with ADDTO and
	// REMOVEFROM (RFC 5267 section 4.3).
	Update bool
	// Partial is the PARTIAL range (RFC 9394 section 3, after RFC 5267
	// section 4.4), nil without one.
	Partial *PartialRange
}

// PartialRange is the positions PARTIAL asks for in the result, 1-based:
// First <= Last, both positive (from the start of the result) or both
// negative (-1 is the last message).
type PartialRange struct{ First, Last int64 }

// String is the range as the response repeats it (RFC 9394 section 3).
func (r PartialRange) String() string {
	if r.First < 0 {
		return strconv.FormatInt(r.Last, 10) + ":" + strconv.FormatInt(r.First, 10)
	}
	return strconv.FormatInt(r.First, 10) + ":" + strconv.FormatInt(r.Last, 10)
}

// Slice returns the positions [i, j) of a result of n messages the range
// covers (empty when it lies beyond the result).
func (r PartialRange) Slice(n int) (i, j int) {
	lo, hi := r.First, r.Last
	if lo < 0 {
		// -1:-100 is the last 100: positions n-99 .. n.
		lo, hi = int64(n)+1+lo, int64(n)+1+hi
		lo = max(lo, 1)
	}
	hi = min(hi, int64(n))
	if lo > hi {
		return 0, 0
	}
	return int(lo - 1), int(hi)
}

// Search is SEARCH [RETURN (opts)] [CHARSET name] keys (RFC 9051 section
// 6.4.4, RFC 4731, RFC 5182).
type Search struct {
	// Return is nil for a plain SEARCH, which is answered with "* SEARCH"
	// (RFC 3501), and set for ESEARCH.
	Return  *SearchReturn
	Charset string // upper case; see HasCharset
	// HasCharset is whether CHARSET was given: `CHARSET ""` is a charset
	// no server knows, not none (and after ENABLE UTF8=ACCEPT any CHARSET
	// is refused, RFC 6855 section 3).
	HasCharset bool
	Keys       []SearchKey // all must match
}

// UsesDollar reports whether the search refers to the saved result "$"
// (RFC 5182 section 2.1), which the session must resolve.
func (s *Search) UsesDollar() bool {
	var walk func(keys []SearchKey) bool
	walk = func(keys []SearchKey) bool {
		for i := range keys {
			if keys[i].Set.Dollar || walk(keys[i].Keys) {
				return true
			}
		}
		return false
	}
	return walk(s.Keys)
}

func (a *Search) appendArgs(b []byte) []byte {
	if r := a.Return; r != nil {
		b = append(b, " RETURN ("...)
		b = appendOpts(b, opt{r.Min, "MIN"}, opt{r.Max, "MAX"}, opt{r.All, "ALL"}, opt{r.Count, "COUNT"}, opt{r.Save, "SAVE"}, opt{r.Context, "CONTEXT"}, opt{r.Update, "UPDATE"})
		b = r.appendPartial(b)
		b = append(b, ')')
	}
	if a.HasCharset {
		b = append(b, " CHARSET "...)
		b = appendAString(b, a.Charset)
	}
	for i := range a.Keys {
		b = a.Keys[i].appendTo(append(b, ' '))
	}
	return b
}

func (k *SearchKey) appendTo(b []byte) []byte {
	switch k.Op {
	case SearchAnd:
		b = append(b, '(')
		for i := range k.Keys {
			if i > 0 {
				b = append(b, ' ')
			}
			b = k.Keys[i].appendTo(b)
		}
		return append(b, ')')
	case SearchSeqSet:
		return k.Set.AppendTo(b)
	}
	b = append(b, searchName(k.Op)...)
	switch k.Op {
	case SearchUID:
		b = k.Set.AppendTo(append(b, ' '))
	case SearchKeyword, SearchUnkeyword:
		b = append(append(b, ' '), k.Text...)
	case SearchBcc, SearchCc, SearchFrom, SearchTo, SearchSubject, SearchBody, SearchText:
		b = appendAString(append(b, ' '), k.Text)
	case SearchHeader:
		b = appendAString(append(b, ' '), k.Field)
		b = appendAString(append(b, ' '), k.Text)
	case SearchBefore, SearchOn, SearchSince, SearchSentBefore, SearchSentOn, SearchSentSince:
		b = k.Date.AppendFormat(append(b, ' '), "2-Jan-2006")
	case SearchLarger, SearchSmaller:
		b = strconv.AppendUint(append(b, ' '), k.Number, 10)
	case SearchModSeq:
		if k.ModSeqEntry != "" {
			b = appendQuoted(append(b, ' '), k.ModSeqEntry)
			b = append(append(b, ' '), k.ModSeqType...)
		}
		b = strconv.AppendUint(append(b, ' '), k.Number, 10)
	case SearchNot:
		b = k.Keys[0].appendTo(append(b, ' '))
	case SearchOr:
		b = k.Keys[0].appendTo(append(b, ' '))
		b = k.Keys[1].appendTo(append(b, ' '))
	}
	return b
}

// maxSearchDepth bounds the nesting of parentheses, NOT and OR, so that a
// hostile line cannot make the parser (or a session walking the tree)
// recurse deeply. Real clients nest a few levels.
const maxSearchDepth = 64

// search parses the SEARCH arguments.
func (p *parser) search() Args {
	a := &Search{}
	p.sp()
	if p.takeKeyword("RETURN") {
		a.Return = p.searchReturn("search")
	}
	if p.takeKeyword("CHARSET") {
		p.sp()
		a.Charset = strings.ToUpper(p.astring("charset"))
		a.HasCharset = true
		p.sp()
	}
	a.Keys = p.searchKeyList()
	return a
}

func (r *SearchReturn) appendPartial(b []byte) []byte {
	if r.Partial == nil {
		return b
	}
	if b[len(b)-1] != '(' {
		b = append(b, ' ')
	}
	return append(append(b, "PARTIAL "...), r.Partial.String()...)
}

// searchReturn reads the return options after RETURN, and the SP after
// them, for SEARCH (what "search") and SORT (what "sort": RFC 5267
// section 3 takes RFC 4731's options, and SAVE with SEARCHRES, RFC 5182
// section 2.4). PARTIAL and ALL exclude each other (RFC 9394 section 3).
func (p *parser) searchReturn(what string) *SearchReturn {
	r := &SearchReturn{}
	p.sp()
	p.expect('(', "'(' to start return options")
	p.listItems(func() {
		switch opt := p.keyword(what + " return option"); {
		case opt == "MIN":
			r.Min = true
		case opt == "MAX":
			r.Max = true
		case opt == "ALL":
			r.All = true
		case opt == "COUNT":
			r.Count = true
		case opt == "SAVE":
			r.Save = true
		case opt == "CONTEXT":
			r.Context = true
		case opt == "UPDATE" && !r.Update:
			r.Update = true
		case opt == "PARTIAL" && r.Partial == nil:
			p.sp()
			r.Partial = p.partialRange()
		case opt == "":
		default:
			p.failf("unknown %s return option %s", what, opt)
		}
	})
	if !r.Min && !r.Max && !r.All && !r.Count && !r.Save && !r.Update && r.Partial == nil {
		// RFC 4731 section 3.1 (for SORT by RFC 5267 section 3); the
		// CONTEXT hint alone asks for nothing else either.
		r.All = true
	}
	if r.All && r.Partial != nil {
		p.failf("%s return options ALL and PARTIAL exclude each other", what)
	}
	p.sp()
	return r
}

// partialRange reads partial-range (RFC 9394 section 6): "a:b" of
// non-zero numbers, or "-a:-b", in either order.
func (p *parser) partialRange() *PartialRange {
	neg := p.take('-')
	a := int64(p.nzNumber32("partial range"))
	p.expect(':', "':' in partial range")
	if neg {
		p.expect('-', "'-' in a partial range from the end")
	}
	b := int64(p.nzNumber32("partial range"))
	if a > b {
		a, b = b, a
	}
	if neg {
		// Kept as First <= Last: -1:-100 is First -100, Last -1.
		a, b = -b, -a
	}
	return &PartialRange{First: a, Last: b}
}

// searchKeyList reads search-key *(SP search-key).
func (p *parser) searchKeyList() []SearchKey {
	keys := []SearchKey{p.searchKey(0)}
	for p.err == nil && p.take(' ') {
		keys = append(keys, p.searchKey(0))
	}
	return keys
}

func (p *parser) searchKey(depth int) SearchKey {
	if depth > maxSearchDepth {
		p.failf("search keys nested too deeply")
		return SearchKey{}
	}
	switch c := p.peek(); {
	case c == '(':
		p.pos++
		k := SearchKey{Op: SearchAnd}
		for p.err == nil {
			k.Keys = append(k.Keys, p.searchKey(depth+1))
			if !p.take(' ') {
				break
			}
		}
		p.expect(')', "')' to close search key list")
		return k
	case isDigit(c) || c == '*' || c == '$':
		return SearchKey{Op: SearchSeqSet, Set: p.numSet(true)}
	}
	name := p.keyword("search key")
	if p.err != nil {
		return SearchKey{}
	}
	k := SearchKey{Op: searchOp(name)}
	switch k.Op {
	case 0:
		p.failf("unknown search key %s", name)
	case SearchUID:
		p.sp()
		k.Set = p.numSet(true)
	case SearchKeyword, SearchUnkeyword:
		p.sp()
		k.Text = p.atom("keyword") // flag-keyword: no system flags
	case SearchBcc, SearchCc, SearchFrom, SearchTo, SearchSubject, SearchBody, SearchText:
		p.sp()
		k.Text = p.astring("search string")
	case SearchHeader:
		p.sp()
		k.Field = p.astring("header field name")
		p.sp()
		k.Text = p.astring("search string")
	case SearchBefore, SearchOn, SearchSince, SearchSentBefore, SearchSentOn, SearchSentSince:
		p.sp()
		k.Date = p.date()
	case SearchLarger, SearchSmaller:
		p.sp()
		k.Number = p.number("size", 1<<63-1)
	case SearchModSeq:
		// "MODSEQ" [SP entry-name SP entry-type-req] SP
		// mod-sequence-valzer, RFC 7162 section 3.1.5.
		p.sp()
		if p.peek() == '"' {
			k.ModSeqEntry = p.quoted()
			if p.err == nil && !strings.HasPrefix(strings.ToLower(k.ModSeqEntry), "/flags/") {
				p.failf("invalid MODSEQ entry name")
			}
			p.sp()
			switch t := strings.ToLower(p.atom("entry type")); t {
			case "priv", "shared", "all":
				k.ModSeqType = t
			default:
				p.failf("invalid MODSEQ entry type")
			}
			p.sp()
		}
		k.Number = p.modSeq(true)
	case SearchNot:
		p.sp()
		k.Keys = []SearchKey{p.searchKey(depth + 1)}
	case SearchOr:
		p.sp()
		k.Keys = make([]SearchKey, 2)
		k.Keys[0] = p.searchKey(depth + 1)
		p.sp()
		k.Keys[1] = p.searchKey(depth + 1)
	}
	return k
}
