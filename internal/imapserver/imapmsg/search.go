package imapmsg

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// Message is what Match knows of one message: the metadata the session
// has at hand, and a way to load the content when a key needs it.
type Message struct {
	Seq, UID uint32
	Flags    store.Flags
	Keywords []string
	// Recent is whether this session holds \Recent for the message (RFC
	// 3501 section 2.3.2).
	Recent bool
	ModSeq uint64
	// Received is the INTERNALDATE. BEFORE, ON and SINCE compare its
	// date in its own time zone: RFC 9051 section 6.4.4 says "disregarding
	// time and timezone", so the day is the one the INTERNALDATE the client
	// sees names. The session decides that zone when it stores the date.
	Received time.Time
	Size     int64 // RFC822.SIZE, for LARGER and SMALLER
	// Subject and From are the decoded Subject and first From address
	// ("Name <box@host>") as the store keeps them (store.Message), or "".
	// A SUBJECT or FROM string found in them matches without loading the
	// message; one not found there is still looked for in the header.
	Subject, From string
	// Fields, when HasFields is set, are the message's top-level From,
	// To, Cc, Bcc and Subject header fields as written, as the store
	// keeps them (message.SearchFields): SUBJECT, FROM, TO, CC, BCC and
	// HEADER of those fields are checked on them without loading the
	// message, with the same result.
	Fields    []byte
	HasFields bool
	// Load returns the raw message and its pre-parsed Info. Match calls it
	// only when a key needs headers or text (see NeedsBody), at most once
	// per call, after cheaper keys have had their say.
	Load func() (raw []byte, info *message.Info, err error)
}

// SearchContext is what a search needs beyond the message.
type SearchContext struct {
	// MaxSeq and MaxUID are the values of "*" in sequence and UID sets:
	// the number of messages and the highest UID in the mailbox.
	MaxSeq, MaxUID uint32
	// Saved holds the UIDs of the result saved by SEARCH RETURN (SAVE),
	// which "$" names (RFC 5182 section 2.1), in ascending order as a
	// search result is. nil when nothing was saved: "$" is then empty.
	Saved []uint32
}

// Match reports whether message m matches all keys, the criteria of a
// SEARCH (RFC 9051 section 6.4.4, RFC 3501 section 6.4.4 for RECENT, NEW
// and OLD, RFC 7162 section 3.1.5 for MODSEQ, RFC 5182 for "$"). The only
// errors are from m.Load and for keys the imapwire parser never produces.
//
// String keys match case-insensitively (Unicode simple case folding, as
// strings.EqualFold) and as substrings: "sdfghjk" matches "asdfghjkl".
// Search strings must be UTF-8: the session converts a CHARSET it knows or
// answers NO [BADCHARSET].
//
//   - SUBJECT, FROM, TO, CC, BCC and HEADER look at every field of that
//     name in the message's header, and match the value as written
//     (unfolded; 8-bit read as ISO-8859-1 when not UTF-8) or with its RFC
//     2047 encoded words decoded. `HEADER name ""` matches every message
//     with such a field.
//   - BODY looks at the text of the body: each text/* part (and the
//     textual message/delivery-status, message/disposition-notification and
//     message/rfc822-headers) with its transfer encoding undone and its
//     charset converted, HTML as the text a reader sees (no tags or
//     scripts, entities decoded), and the decoded header fields of embedded
//     messages, which are part of the outer message's body. Other parts
//     (images, PDF, archives) are skipped: matching base64 would find short
//     words in random data.
//   - TEXT looks at the header, the MIME headers of every part, and the
//     body as BODY does.
//   - SENTBEFORE, SENTON and SENTSINCE compare the date of the Date header
//     in its own zone; a message without a usable Date uses its
//     INTERNALDATE, as RFC 5256 section 2.2 does for sorting.
//   - MODSEQ matches a mod-sequence at least the given one; the entry name
//     and type are ignored, which RFC 7162 section 3.1.5 allows since the
//     message's mod-sequence is at least that of each of its flags.
//   - "$" in either a sequence set or a UID set is the saved result, a set
//     of messages kept as UIDs.
func Match(c *SearchContext, keys []imapwire.SearchKey, m *Message) (bool, error) {
	if c == nil {
		c = &SearchContext{}
	}
	e := evaluator{c: c, m: m}
	return e.all(keys)
}

// NeedsBody reports whether any key needs the message content (headers,
// text or the Date header), that is, whether Match may call Load. A
// session can skip reading messages for a search on flags, sizes, dates
// and sets.
func NeedsBody(keys []imapwire.SearchKey) bool {
	for i := range keys {
		if needsLoad(&keys[i]) {
			return true
		}
	}
	return false
}

// UsesModSeq reports whether a MODSEQ key occurs anywhere in keys: the
// SEARCH response must then end with "(MODSEQ n)", the highest
// mod-sequence of the messages found (RFC 7162 section 3.1.5).
func UsesModSeq(keys []imapwire.SearchKey) bool {
	for i := range keys {
		if keys[i].Op == imapwire.SearchModSeq || UsesModSeq(keys[i].Keys) {
			return true
		}
	}
	return false
}

// IndexTerms returns what the full-text index can narrow a search with:
// the strings that every matching message must contain, each with the
// place it must be in, from the TEXT, BODY, SUBJECT, FROM, TO, CC, BCC
// and HEADER keys that are ANDed with the rest (at the top level or in
// parenthesised lists, not under NOT or OR). The session asks the store
// for the candidates that may contain them all (store.SearchCandidates)
// and runs Match on those: "SEARCH uses the index to narrow, then checks
// substrings" (issue 8). The index matches substrings, so that "sdfghjk"
// finds "asdfghjkl". Empty strings, which every message with the field
// matches, are left out except for HEADER, whose field name still
// narrows; duplicates too.
func IndexTerms(keys []imapwire.SearchKey) []store.SearchTerm {
	var terms []store.SearchTerm
	add := func(t store.SearchTerm) {
		if (t.Value != "" || t.Field == store.SearchHeader) && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	var walk func(keys []imapwire.SearchKey)
	walk = func(keys []imapwire.SearchKey) {
		for i := range keys {
			k := &keys[i]
			switch k.Op {
			case imapwire.SearchText:
				add(store.SearchTerm{Field: store.SearchAnywhere, Value: k.Text})
			case imapwire.SearchBody:
				add(store.SearchTerm{Field: store.SearchBody, Value: k.Text})
			case imapwire.SearchSubject:
				add(store.SearchTerm{Field: store.SearchSubject, Value: k.Text})
			case imapwire.SearchFrom:
				add(store.SearchTerm{Field: store.SearchFrom, Value: k.Text})
			case imapwire.SearchTo:
				add(store.SearchTerm{Field: store.SearchTo, Value: k.Text})
			case imapwire.SearchCc:
				add(store.SearchTerm{Field: store.SearchCc, Value: k.Text})
			case imapwire.SearchBcc:
				add(store.SearchTerm{Field: store.SearchBcc, Value: k.Text})
			case imapwire.SearchHeader:
				add(store.SearchTerm{Field: store.SearchHeader, Header: k.Field, Value: k.Text})
			case imapwire.SearchAnd:
				walk(k.Keys)
			}
		}
	}
	walk(keys)
	return terms
}

// FieldsSuffice reports whether every key that needs the message's
// content (NeedsBody) needs only its From, To, Cc, Bcc and Subject fields:
// SUBJECT, FROM, TO, CC, BCC and HEADER of those fields, anywhere in
// keys. Match then loads only a message that has no Message.Fields.
func FieldsSuffice(keys []imapwire.SearchKey) bool {
	for i := range keys {
		k := &keys[i]
		switch k.Op {
		case imapwire.SearchBcc, imapwire.SearchCc, imapwire.SearchFrom, imapwire.SearchTo, imapwire.SearchSubject:
		case imapwire.SearchHeader:
			if !message.IsSearchField(k.Field) {
				return false
			}
		case imapwire.SearchAnd, imapwire.SearchOr, imapwire.SearchNot:
			if !FieldsSuffice(k.Keys) {
				return false
			}
		default:
			if needsLoad(k) {
				return false // TEXT, BODY, SENT*, HEADER of other fields
			}
		}
	}
	return true
}

// needsLoad tells whether evaluating k may need the message content.
func needsLoad(k *imapwire.SearchKey) bool {
	switch k.Op {
	case imapwire.SearchBcc, imapwire.SearchCc, imapwire.SearchFrom, imapwire.SearchTo,
		imapwire.SearchSubject, imapwire.SearchHeader, imapwire.SearchBody, imapwire.SearchText,
		imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
		return true
	}
	return NeedsBody(k.Keys)
}

// evaluator evaluates the keys of one Match call, loading and decoding the
// message at most once.
type evaluator struct {
	c *SearchContext
	m *Message

	loaded bool
	raw    []byte
	info   *message.Info
	err    error

	fields   []field // top-level header fields, when read
	haveHead bool
	// The same from Message.Fields, when read, and the envelope
	// parsed from them.
	sfields   []field
	haveSF    bool
	sfieldEnv *message.Envelope
	body      []byte // folded body text, when built
	haveBody  bool
	mime      []byte // folded MIME headers of the parts, when built
	haveMIME  bool
}

// field is one header field: its name and value as written, unfolded.
type field struct {
	name  string
	value []byte
}

// all reports whether every key matches. Keys that need no loading go
// first, so that "UNSEEN BODY x" reads only unseen messages.
func (e *evaluator) all(keys []imapwire.SearchKey) (bool, error) {
	for pass := 0; pass < 2; pass++ {
		for i := range keys {
			k := &keys[i]
			if needsLoad(k) != (pass == 1) {
				continue
			}
			ok, err := e.match(k)
			if err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

var errBadKey = errors.New("invalid search key")

func (e *evaluator) match(k *imapwire.SearchKey) (bool, error) {
	m := e.m
	switch k.Op {
	case imapwire.SearchAnd:
		return e.all(k.Keys)
	case imapwire.SearchSeqSet:
		if k.Set.Dollar {
			return e.saved(), nil
		}
		return k.Set.Contains(m.Seq, e.c.MaxSeq), nil
	case imapwire.SearchUID:
		if k.Set.Dollar {
			return e.saved(), nil
		}
		return k.Set.Contains(m.UID, e.c.MaxUID), nil
	case imapwire.SearchAll:
		return true, nil
	case imapwire.SearchAnswered:
		return m.Flags&store.FlagAnswered != 0, nil
	case imapwire.SearchDeleted:
		return m.Flags&store.FlagDeleted != 0, nil
	case imapwire.SearchDraft:
		return m.Flags&store.FlagDraft != 0, nil
	case imapwire.SearchFlagged:
		return m.Flags&store.FlagFlagged != 0, nil
	case imapwire.SearchSeen:
		return m.Flags&store.FlagSeen != 0, nil
	case imapwire.SearchUnanswered:
		return m.Flags&store.FlagAnswered == 0, nil
	case imapwire.SearchUndeleted:
		return m.Flags&store.FlagDeleted == 0, nil
	case imapwire.SearchUndraft:
		return m.Flags&store.FlagDraft == 0, nil
	case imapwire.SearchUnflagged:
		return m.Flags&store.FlagFlagged == 0, nil
	case imapwire.SearchUnseen:
		return m.Flags&store.FlagSeen == 0, nil
	case imapwire.SearchRecent:
		return m.Recent, nil
	case imapwire.SearchNew:
		// RFC 3501 section 6.4.4: "functionally equivalent to
		// (RECENT UNSEEN)".
		return m.Recent && m.Flags&store.FlagSeen == 0, nil
	case imapwire.SearchOld:
		return !m.Recent, nil
	case imapwire.SearchKeyword:
		return e.hasKeyword(k.Text), nil
	case imapwire.SearchUnkeyword:
		return !e.hasKeyword(k.Text), nil
	case imapwire.SearchBefore:
		return day(m.Received) < day(k.Date), nil
	case imapwire.SearchOn:
		return day(m.Received) == day(k.Date), nil
	case imapwire.SearchSince:
		return day(m.Received) >= day(k.Date), nil
	case imapwire.SearchSentBefore, imapwire.SearchSentOn, imapwire.SearchSentSince:
		sent, err := e.sentDay()
		if err != nil {
			return false, err
		}
		switch d := day(k.Date); k.Op {
		case imapwire.SearchSentBefore:
			return sent < d, nil
		case imapwire.SearchSentOn:
			return sent == d, nil
		default:
			return sent >= d, nil
		}
	case imapwire.SearchLarger:
		return m.Size > 0 && uint64(m.Size) > k.Number, nil
	case imapwire.SearchSmaller:
		return m.Size < 0 || uint64(m.Size) < k.Number, nil
	case imapwire.SearchModSeq:
		return m.ModSeq >= k.Number, nil
	case imapwire.SearchNot:
		if len(k.Keys) != 1 {
			return false, fmt.Errorf("NOT with %d operands: %w", len(k.Keys), errBadKey)
		}
		ok, err := e.match(&k.Keys[0])
		return !ok && err == nil, err
	case imapwire.SearchOr:
		if len(k.Keys) != 2 {
			return false, fmt.Errorf("OR with %d operands: %w", len(k.Keys), errBadKey)
		}
		a, b := &k.Keys[0], &k.Keys[1]
		if needsLoad(a) && !needsLoad(b) {
			a, b = b, a // the cheap one may settle it
		}
		if ok, err := e.match(a); ok || err != nil {
			return ok, err
		}
		return e.match(b)
	case imapwire.SearchFrom, imapwire.SearchTo, imapwire.SearchCc, imapwire.SearchBcc:
		if k.Op == imapwire.SearchFrom && quickContains(m.From, k.Text) {
			return true, nil
		}
		return e.addressContains(k.Op, k.Text)
	case imapwire.SearchSubject:
		if quickContains(m.Subject, k.Text) {
			return true, nil
		}
		return e.headerContains("Subject", k.Text)
	case imapwire.SearchHeader:
		return e.headerContains(k.Field, k.Text)
	case imapwire.SearchBody:
		return e.bodyContains(k.Text)
	case imapwire.SearchText:
		return e.textContains(k.Text)
	}
	return false, fmt.Errorf("search op %d: %w", k.Op, errBadKey)
}

// quickContains tells whether the decoded value the store keeps contains
// needle, folded: a match of SUBJECT or FROM found without loading the
// message, since those keys match the decoded value too. The store turns
// control characters into spaces and cuts long values with "...", so a
// needle with a space or a control character, or one found only in the
// "..." of a cut value, is left to the full check.
func quickContains(value, needle string) bool {
	if value == "" || needle == "" {
		return false
	}
	for _, r := range needle {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	if len(value) > 1000 {
		value = strings.TrimSuffix(value, "...")
	}
	return bytes.Contains(fold(value), fold(needle))
}

// saved tells whether the message is in the saved result "$".
func (e *evaluator) saved() bool {
	_, found := slices.BinarySearch(e.c.Saved, e.m.UID)
	return found
}

// hasKeyword compares keywords case-insensitively: IMAP flag names are
// atoms that RFC 9051 section 2.3.2 treats without regard to case, as
// Dovecot and Cyrus do.
func (e *evaluator) hasKeyword(kw string) bool {
	for _, k := range e.m.Keywords {
		if strings.EqualFold(k, kw) {
			return true
		}
	}
	return false
}

// day numbers t's calendar date in t's own location, for comparing dates
// without their time and zone: later dates get larger numbers.
func day(t time.Time) int {
	y, m, d := t.Date()
	return (y*12+int(m)-1)*31 + d
}

// load calls m.Load once.
func (e *evaluator) load() error {
	if e.loaded {
		return e.err
	}
	e.loaded = true
	if e.m.Load == nil {
		e.err = errors.New("search: message content needed but no Load")
		return e.err
	}
	e.raw, e.info, e.err = e.m.Load()
	if e.err == nil && e.info == nil {
		e.info = message.Parse(e.raw)
	}
	if e.err != nil {
		e.err = fmt.Errorf("search: load message UID %d: %w", e.m.UID, e.err)
	}
	return e.err
}

// sentDay is the day of the Date header, or of the INTERNALDATE without
// one.
func (e *evaluator) sentDay() (int, error) {
	if err := e.load(); err != nil {
		return 0, err
	}
	if e.info.Date.IsZero() {
		return day(e.m.Received), nil
	}
	return day(e.info.Date), nil
}

// header returns the fields of the message's top-level header.
func (e *evaluator) header() ([]field, error) {
	if e.haveHead {
		return e.fields, nil
	}
	if err := e.load(); err != nil {
		return nil, err
	}
	e.haveHead = true
	e.fields = readFields(e.info.Part.Header(e.raw), nil)
	return e.fields, nil
}

func readFields(header []byte, fs []field) []field {
	for name, f := range message.Fields(header) {
		fs = append(fs, field{name, unfoldValue(f)})
	}
	return fs
}

// fieldsNamed returns the top-level header fields that a search for the
// field name looks at: those of Message.Fields when they hold that name's
// fields, else those of the loaded message's header.
func (e *evaluator) fieldsNamed(name string) ([]field, error) {
	if !e.m.HasFields || !message.IsSearchField(name) {
		return e.header()
	}
	if !e.haveSF {
		e.haveSF = true
		e.sfields = readFields(e.m.Fields, nil)
	}
	return e.sfields, nil
}

// envelope returns the message's envelope: parsed from Message.Fields
// when the message has them (message.SearchFields says Parse reads them
// as it reads the whole header), else the loaded message's.
func (e *evaluator) envelope() (*message.Envelope, error) {
	if e.m.HasFields {
		if e.sfieldEnv == nil {
			e.sfieldEnv = &message.Parse(e.m.Fields).Envelope
		}
		return e.sfieldEnv, nil
	}
	if err := e.load(); err != nil {
		return nil, err
	}
	return &e.info.Envelope, nil
}

// headerContains implements SUBJECT, FROM, TO, CC, BCC and HEADER.
func (e *evaluator) headerContains(name, needle string) (bool, error) {
	fs, err := e.fieldsNamed(name)
	if err != nil {
		return false, err
	}
	var folded []byte
	var buf []byte
	for _, f := range fs {
		if !asciiEqualFold(f.name, name) {
			continue
		}
		if needle == "" {
			return true, nil // RFC 9051 section 6.4.4, HEADER
		}
		if folded == nil {
			folded = fold(needle)
		}
		v := utf8Bytes(f.value)
		buf = appendFold(buf[:0], v)
		if bytes.Contains(buf, folded) {
			return true, nil
		}
		if d := message.DecodeHeader(string(v)); d != string(v) {
			buf = appendFold(buf[:0], []byte(d))
			if bytes.Contains(buf, folded) {
				return true, nil
			}
		}
	}
	return false, nil
}

// addressContains implements FROM, TO, CC and BCC: the field as written
// or decoded, or one of its addresses as parsed, "mailbox@host" and "name
// <mailbox@host>", so that FROM "user-from@domain.org" finds
// "<user-from (comment)@ (comment) domain.org>" (issue 11 part 5; Dovecot
// and Cyrus match addresses too).
func (e *evaluator) addressContains(op imapwire.SearchOp, needle string) (bool, error) {
	var name string
	var as func(env *message.Envelope) []message.Address
	switch op {
	case imapwire.SearchFrom:
		name, as = "From", func(env *message.Envelope) []message.Address { return env.From }
	case imapwire.SearchTo:
		name, as = "To", func(env *message.Envelope) []message.Address { return env.To }
	case imapwire.SearchCc:
		name, as = "Cc", func(env *message.Envelope) []message.Address { return env.Cc }
	default:
		name, as = "Bcc", func(env *message.Envelope) []message.Address { return env.Bcc }
	}
	if ok, err := e.headerContains(name, needle); ok || err != nil {
		return ok, err
	}
	env, err := e.envelope()
	if err != nil {
		return false, err
	}
	folded := fold(needle)
	var buf []byte
	for _, a := range as(env) {
		if a.GroupStart || a.GroupEnd {
			continue
		}
		buf = appendFold(buf[:0], []byte(strings.TrimSpace(message.DecodeHeader(a.Name))))
		if len(buf) > 0 {
			buf = append(buf, " <"...)
		}
		buf = appendFold(buf, []byte(a.Mailbox))
		if a.Host != "" {
			buf = append(buf, '@')
			buf = appendFold(buf, []byte(a.Host))
		}
		if len(buf) > 0 && a.Name != "" {
			buf = append(buf, '>')
		}
		if bytes.Contains(buf, folded) {
			return true, nil
		}
	}
	return false, nil
}

// bodyContains implements BODY.
func (e *evaluator) bodyContains(needle string) (bool, error) {
	if needle == "" {
		return true, nil
	}
	body, err := e.bodyText()
	if err != nil {
		return false, err
	}
	return bytes.Contains(body, fold(needle)), nil
}

// textContains implements TEXT: header, MIME headers and body.
func (e *evaluator) textContains(needle string) (bool, error) {
	if needle == "" {
		return true, nil
	}
	fs, err := e.header()
	if err != nil {
		return false, err
	}
	folded := fold(needle)
	var buf []byte
	for _, f := range fs {
		buf = appendFieldText(buf[:0], f)
		if bytes.Contains(buf, folded) {
			return true, nil
		}
	}
	if !e.haveMIME {
		e.haveMIME = true
		e.mime = e.mimeText(&e.info.Part, nil)
	}
	if bytes.Contains(e.mime, folded) {
		return true, nil
	}
	body, err := e.bodyText()
	if err != nil {
		return false, err
	}
	return bytes.Contains(body, folded), nil
}

// sep separates pieces of folded text, so that no match spans two of
// them. IMAP strings cannot hold NUL (RFC 9051 CHAR8, QUOTED-CHAR), so no
// search string contains it.
const sep = 0

// appendFieldText appends, folded, "Name: value" as written and, when it
// has encoded words, decoded.
func appendFieldText(dst []byte, f field) []byte {
	dst = appendFold(dst, []byte(f.name))
	dst = append(dst, ": "...)
	v := utf8Bytes(f.value)
	dst = appendFold(dst, v)
	if d := message.DecodeHeader(string(v)); d != string(v) {
		dst = append(dst, sep)
		dst = appendFold(dst, []byte(f.name))
		dst = append(dst, ": "...)
		dst = appendFold(dst, []byte(d))
	}
	return append(dst, sep)
}

// mimeText appends the folded header fields of every part below the top,
// for TEXT ("header (including MIME header fields)"). The headers of
// embedded messages are left to bodyText.
func (e *evaluator) mimeText(p *message.Part, dst []byte) []byte {
	for i := range p.Parts {
		c := &p.Parts[i]
		for _, f := range readFields(c.Header(e.raw), nil) {
			dst = appendFieldText(dst, f)
		}
		dst = e.mimeText(c, dst)
	}
	if p.Message != nil {
		dst = e.mimeText(&p.Message.Part, dst)
	}
	return dst
}

// bodyText returns the folded text BODY searches, built once.
func (e *evaluator) bodyText() ([]byte, error) {
	if e.haveBody {
		return e.body, nil
	}
	if err := e.load(); err != nil {
		return nil, err
	}
	e.haveBody = true
	e.body = e.appendBody(nil, &e.info.Part)
	return e.body, nil
}

// appendBody appends the folded searchable text of part p's body.
func (e *evaluator) appendBody(dst []byte, p *message.Part) []byte {
	switch {
	case p.Type == "multipart":
		for i := range p.Parts {
			dst = e.appendBody(dst, &p.Parts[i])
		}
	case p.Message != nil:
		for _, f := range readFields(p.Message.Part.Header(e.raw), nil) {
			dst = appendFieldText(dst, f)
		}
		dst = e.appendBody(dst, &p.Message.Part)
	case isMessage(p):
		// An embedded message Parse could not locate, most often
		// base64-encoded: search its decoded bytes as text.
		b, _ := message.Decode(e.raw, p)
		dst = appendFold(dst, utf8Bytes(b))
		dst = append(dst, sep)
	case p.IsTextual():
		// DecodeText fails only for an unknown transfer encoding, and
		// then returns the text as written, which is still the best
		// there is to search.
		s, _ := message.DecodeText(e.raw, p)
		if p.Type == "text" && p.Subtype == "html" {
			s = message.HTMLText(s)
		}
		dst = appendFold(dst, []byte(s))
		dst = append(dst, sep)
	}
	return dst
}
