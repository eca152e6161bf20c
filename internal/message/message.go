// Package message pre-parses raw RFC 5322 / MIME messages once, at ingest, into
// an Info: the IMAP ENVELOPE fields, the MIME tree as byte offsets into the raw
// message (for BODYSTRUCTURE and BODY[section] fetches), and decoded metadata
// for display and search (subject, from, date, preview, the words to index).
//
// It owns message structure for the whole service: IMAP and the webmail read
// the stored Info and slice the raw bytes with it, and never walk MIME again.
//
// Parse never fails. Mail on the wire, spam above all, is often broken (bare
// LF, "\r\r\n", missing final boundaries, unknown charsets, raw 8-bit
// headers), and a capture must never be lost over it: problems are noted in
// Info.Problems instead. Structure is found by our own scanner, because
// go-message stops at the first such error; the standard library's decoders
// and go-message's charset tables are only used to decode pieces, with
// fallbacks.
//
// Every string in Info is valid UTF-8, so the JSON the store keeps round-trips
// exactly: header bytes that are not valid UTF-8 are read as ISO-8859-1.
package message

import (
	"time"
)

// Limits that keep hostile input from exhausting the stack or memory.
const (
	maxDepth    = 50    // nesting of multipart and message/rfc822 entities
	maxParts    = 10000 // entities in one message, embedded ones included
	maxProblems = 50    // notes kept in Info.Problems
	previewLen  = 200   // runes of Info.Preview
	maxParams   = 100   // parameters of one Content-Type or Content-Disposition
	// maxListItems bounds the parameters and languages that all the parts
	// of a message keep together (some 100 bytes of memory each, for a
	// few bytes of header: 10,000 parts of 300 used to take 300 MB);
	// past it each part keeps its first minListItems of each list.
	maxListItems = 20000
	minListItems = 4
	maxAddrs     = 10000 // addresses of one address header field, and of all embedded messages' together
	maxDisplay   = 2000  // bytes of Info.Subject and Info.From
	// maxFieldValue bounds the bytes of a header field's value that Parse
	// keeps (Envelope strings, MIME fields and parameters): the Info lives
	// in memory while the message is stored and in the store's cache
	// afterwards, so it must not grow with the message. The raw header is
	// still served whole (BODY[HEADER]); the full-text index reads it too.
	maxFieldValue = 64 << 10
	// maxPartFields bounds the bytes of field values that the parts and
	// embedded messages of a message keep together (the message's own
	// header has maxFieldValue per field): past it, a value keeps
	// minFieldValue bytes, or minContentType for Content-Type (boundary,
	// charset, name) and Content-Transfer-Encoding. 7,000 embedded
	// messages with 6 KB of fields each took 165 MB to store.
	maxPartFields  = 1 << 20
	minFieldValue  = 64
	minContentType = 512
)

// Info is what Parse learns about a message. It is stored as JSON beside the
// raw message.
type Info struct {
	// Envelope holds the raw header values IMAP ENVELOPE returns.
	Envelope Envelope `json:"env,omitzero"`
	// Part is the root of the MIME tree. Its HeaderStart is 0 and its End
	// is len(raw).
	Part Part `json:"part"`
	// Subject is the decoded subject (RFC 2047, charsets), with control
	// characters turned into spaces, for display and logs. Like From, it
	// is cut at 2000 bytes.
	Subject string `json:"subj,omitempty"`
	// From is the decoded display form of the first From address, such as
	// "Alice <a@x.org>".
	From string `json:"from,omitempty"`
	// Date is the parsed Date header; zero if missing or unparseable.
	Date time.Time `json:"date,omitzero"`
	// MessageID is the Message-ID without its angle brackets; "" if none.
	MessageID string `json:"mid,omitempty"`
	// References lists the message ids of the References header, oldest
	// first, without angle brackets (RFC 5322 section 3.6.4), for
	// threading (RFC 5256). Bodies stored before it existed have none.
	References []string `json:"refs,omitempty"`
	// Preview is about the first 200 characters of the main text (plain
	// text, or HTML with its tags stripped), with white space collapsed.
	Preview string `json:"prev,omitempty"`
	// Search is what the full-text index holds of the message. It is
	// not kept with the Info: it goes to the index once, at ingest.
	Search SearchText `json:"-"`
	// Problems are human-readable notes on what was malformed; empty for
	// clean mail.
	Problems []string `json:"probs,omitempty"`
}

// Envelope holds the header values of a message as IMAP ENVELOPE returns them
// (RFC 3501 7.4.2, RFC 9051 7.5.2). Strings are the raw values, unfolded and
// trimmed, with encoded words left encoded; "" stands for NIL.
//
// Following RFC 3501 7.4.2, Sender and ReplyTo are set to From when their
// header is absent or empty.
type Envelope struct {
	Date      string    `json:"date,omitempty"`
	Subject   string    `json:"subj,omitempty"`
	From      []Address `json:"from,omitempty"`
	Sender    []Address `json:"sender,omitempty"`
	ReplyTo   []Address `json:"rto,omitempty"`
	To        []Address `json:"to,omitempty"`
	Cc        []Address `json:"cc,omitempty"`
	Bcc       []Address `json:"bcc,omitempty"`
	InReplyTo string    `json:"irt,omitempty"`
	MessageID string    `json:"mid,omitempty"`
}

// Address is one IMAP ENVELOPE address structure: name, adl (source route),
// mailbox, host.
//
// Group syntax (RFC 5322 3.4, RFC 3501 7.4.2): the group start is
// {Mailbox: groupname, GroupStart: true} and is written with a NIL host; the
// group end is {GroupEnd: true}, written as (NIL NIL NIL NIL).
//
// Name is as written: comments dropped, quotes removed, quoted-pairs
// unescaped, RFC 2047 encoded words not decoded. Adl keeps a route such as
// "@a,@b". Mailbox is the local part as written (quotes kept, so that
// Mailbox@Host is a usable address). Host is "" for an address written
// without a domain; write that as "", not NIL, since NIL marks a group.
type Address struct {
	Name       string `json:"n,omitempty"`
	Adl        string `json:"adl,omitempty"`
	Mailbox    string `json:"m,omitempty"`
	Host       string `json:"h,omitempty"`
	GroupStart bool   `json:"gs,omitempty"`
	GroupEnd   bool   `json:"ge,omitempty"`
}

// Part is one MIME entity (RFC 2045), located by byte offsets into the raw
// message.
//
// Invariants that Parse keeps: 0 <= HeaderStart <= BodyStart <= End <=
// len(raw); children lie within their parent's body; a multipart part has at
// least one child (a multipart whose delimiters cannot be found gets one
// synthetic text/plain child spanning its body, with an empty header).
type Part struct {
	// The header is raw[HeaderStart:BodyStart], blank line included; the
	// body is raw[BodyStart:End]. The CRLF before a boundary delimiter
	// belongs to the delimiter (RFC 2046 5.1.1), not to the body.
	HeaderStart int64 `json:"hs,omitempty"`
	BodyStart   int64 `json:"bs,omitempty"`
	End         int64 `json:"e,omitempty"`
	// Lines counts the body's lines: its LFs, plus one for a last line
	// without one. IMAP sends it for text/* and message/rfc822.
	Lines int64 `json:"ln,omitempty"`
	// Type and Subtype are lowercased. Without a valid Content-Type they
	// are text/plain, or message/rfc822 inside multipart/digest (RFC 2046
	// 5.1.5). Params holds the Content-Type parameters as written; an IMAP
	// server adds ("charset" "us-ascii") for text without one if it wants.
	Type    string      `json:"t,omitempty"`
	Subtype string      `json:"st,omitempty"`
	Params  [][2]string `json:"p,omitempty"`
	// ID, Description, Location and MD5 are the raw, unfolded values of
	// Content-ID, Content-Description (encoded words not decoded),
	// Content-Location and Content-MD5.
	ID          string `json:"id,omitempty"`
	Description string `json:"desc,omitempty"`
	// Encoding is the Content-Transfer-Encoding, uppercased: "7BIT" when
	// absent.
	Encoding string `json:"enc,omitempty"`
	// Disposition is the lowercased Content-Disposition type (RFC 2183);
	// "" if none.
	Disposition       string      `json:"disp,omitempty"`
	DispositionParams [][2]string `json:"dp,omitempty"`
	Language          []string    `json:"lang,omitempty"`
	Location          string      `json:"loc,omitempty"`
	MD5               string      `json:"md5,omitempty"`
	// Filename is the decoded file name from the Content-Disposition
	// filename or the Content-Type name parameter (RFC 2231 or RFC 2047
	// encoded), without any directory part.
	Filename string `json:"fn,omitempty"`
	// Parts are the children of a multipart part.
	Parts []Part `json:"parts,omitempty"`
	// Message is the message inside a message/rfc822 or message/global
	// part. It is nil when that part has a transfer encoding other than
	// 7bit/8bit/binary (its offsets could not point into raw) or a limit
	// was reached: describe such a part as a basic body.
	Message *Embedded `json:"msg,omitempty"`
}

// Embedded is a message inside a message/rfc822 or message/global part. Its
// Part spans the enclosing part's body.
type Embedded struct {
	Envelope Envelope `json:"env,omitzero"`
	Part     Part     `json:"part"`
}

// Parse reads a raw message. It never fails: what is malformed is noted in
// Info.Problems and read as well as it can be. Both CRLF and bare LF line
// endings are accepted.
func Parse(raw []byte) *Info {
	p := &parser{raw: raw, partFields: maxPartFields}
	info := &Info{}
	var h header
	info.Part = p.part(0, len(raw), 0, "text", "plain", nil, &h)
	info.Envelope = p.envelope(&h, false)

	env := &info.Envelope
	info.Subject = truncate(cleanControl(p.decodeWords(env.Subject)), maxDisplay)
	for _, a := range env.From {
		if !a.GroupStart && !a.GroupEnd {
			info.From = truncate(cleanControl(p.display(a)), maxDisplay)
			break
		}
	}
	info.MessageID = messageID(env.MessageID)
	info.References = messageIDs(unfold(h.f[fReferences]))
	if env.Date != "" {
		if t, ok := parseDate(env.Date); ok {
			info.Date = t
		} else {
			p.problem(nil, "unparseable Date %q", truncate(env.Date, 80))
		}
	}
	p.text(info)
	info.Problems = p.problems
	return info
}

// Find returns the part that an IMAP section part number names (RFC 3501
// 6.4.5, RFC 9051 6.4.5), such as []int{2, 1} for "2.1". Call it on
// Info.Part. An empty path returns p itself.
//
// Part 1 of a message that is not multipart is its body, the root part
// itself. Numbers after a message/rfc822 part descend into the embedded
// message: for "2.1" with part 2 a message/rfc822, the result is the first
// part of the embedded message's body, or that body itself if it is not
// multipart. For "2.HEADER" and "2.TEXT" use Find([]int{2}).Message.Part;
// for "2.MIME", the header of the part Find returns.
func (p *Part) Find(path []int) (*Part, bool) {
	cur := p
	atMessage := true // cur is the root of a message, whose part 1 may be itself
	for i, n := range path {
		switch {
		case n < 1:
			return nil, false
		case cur.Type == "multipart":
			if n > len(cur.Parts) {
				return nil, false
			}
			cur = &cur.Parts[n-1]
		case atMessage && n == 1:
			// Part 1 of a non-multipart message is its body.
		default:
			return nil, false
		}
		atMessage = false
		if i < len(path)-1 && cur.Message != nil {
			cur = &cur.Message.Part
			atMessage = true
		}
	}
	return cur, true
}

// Header returns the part's raw header, blank line included.
func (p *Part) Header(raw []byte) []byte {
	s, e := clamp(p.HeaderStart, p.BodyStart, len(raw))
	return raw[s:e]
}

// Body returns the part's raw body, still transfer-encoded.
func (p *Part) Body(raw []byte) []byte {
	s, e := clamp(p.BodyStart, p.End, len(raw))
	return raw[s:e]
}

// Size is the size of the raw body in bytes, as IMAP body-fld-octets wants.
func (p *Part) Size() int64 {
	return p.End - p.BodyStart
}

// Param returns the value of the named Content-Type parameter
// (case-insensitive), "" if absent.
func (p *Part) Param(name string) string {
	return param(p.Params, name)
}

// IsMultipart tells whether the part has children.
func (p *Part) IsMultipart() bool {
	return p.Type == "multipart"
}

// Leaves lists the parts under p that hold content, in order: the
// children of multiparts and the parts of embedded messages, walked down;
// p itself when it is a leaf (a multipart without children is one).
func (p *Part) Leaves() []*Part {
	return p.appendLeaves(nil)
}

func (p *Part) appendLeaves(out []*Part) []*Part {
	switch {
	case p.IsMultipart() && len(p.Parts) > 0:
		for i := range p.Parts {
			out = p.Parts[i].appendLeaves(out)
		}
	case p.Message != nil:
		out = p.Message.Part.appendLeaves(out)
	default:
		out = append(out, p)
	}
	return out
}

func clamp(s, e int64, n int) (int, int) {
	if s < 0 {
		s = 0
	}
	if e > int64(n) {
		e = int64(n)
	}
	if s > e {
		s = e
	}
	return int(s), int(e)
}
