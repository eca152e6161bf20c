package imapwire

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Writer writes server responses into a bufio.Writer. It never flushes by
// itself: the session calls Flush once per command, and at once after a
// continuation request or while idling. This is the point of having our own
// wire layer: one flush per command instead of one per line.
//
// The methods append to the current line and return the Writer, so a line
// reads as a chain:
//
//	w.Star().Num(seq).Raw(" FETCH (UID ").Num(uid).Raw(" FLAGS ").Flags(flags).Raw(")").CRLF()
//
// Write errors are sticky: they are returned by Err and Flush, and later
// writes are dropped. The caller writes spaces itself; Raw text is written
// as is and must be trusted protocol text. A Writer is not safe for
// concurrent use.
type Writer struct {
	bw      *bufio.Writer
	utf8    bool
	err     error
	scratch [64]byte
	// tagged counts the tagged responses written, last is the latest
	// one's condition: the server's dispatch learns from them whether a
	// handler completed its command itself, and how (for metrics).
	tagged int
	last   Cond
}

// NewWriter returns a Writer on w.
func NewWriter(w *bufio.Writer) *Writer { return &Writer{bw: w} }

// SetUTF8 makes strings with UTF-8 be sent quoted and mailbox names be sent
// as UTF-8 instead of modified UTF-7, after ENABLE UTF8=ACCEPT (RFC 6855
// section 3) or IMAP4rev2 (RFC 9051 section 5.1).
func (w *Writer) SetUTF8(on bool) { w.utf8 = on }

// Flush writes the buffered responses to the connection.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.bw.Flush()
	return w.err
}

// Err returns the first write error.
func (w *Writer) Err() error { return w.err }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return w.bw.Buffered() }

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

func (w *Writer) writeString(s string) {
	if w.err == nil {
		_, w.err = w.bw.WriteString(s)
	}
}

func (w *Writer) writeByte(c byte) {
	if w.err == nil {
		w.err = w.bw.WriteByte(c)
	}
}

// Raw writes s as is.
func (w *Writer) Raw(s string) *Writer { w.writeString(s); return w }

// RawBytes writes b as is.
func (w *Writer) RawBytes(b []byte) *Writer { w.write(b); return w }

// Star starts an untagged response: "* ".
func (w *Writer) Star() *Writer { w.writeString("* "); return w }

// SP writes a space.
func (w *Writer) SP() *Writer { w.writeByte(' '); return w }

// ListStart writes "(".
func (w *Writer) ListStart() *Writer { w.writeByte('('); return w }

// ListEnd writes ")".
func (w *Writer) ListEnd() *Writer { w.writeByte(')'); return w }

// CRLF ends the line.
func (w *Writer) CRLF() *Writer { w.writeString("\r\n"); return w }

// Num writes a 32-bit number, such as a sequence number or UID.
func (w *Writer) Num(n uint32) *Writer {
	w.write(strconv.AppendUint(w.scratch[:0], uint64(n), 10))
	return w
}

// Num64 writes a 64-bit number, such as a mod-sequence or a size.
func (w *Writer) Num64(n uint64) *Writer {
	w.write(strconv.AppendUint(w.scratch[:0], n, 10))
	return w
}

// NIL writes NIL.
func (w *Writer) NIL() *Writer { w.writeString("NIL"); return w }

// Atom writes s as an atom, or as a string if it cannot be one.
func (w *Writer) Atom(s string) *Writer {
	if s == "" {
		return w.String(s)
	}
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return w.String(s)
		}
	}
	w.writeString(s)
	return w
}

// AString writes s as an atom when it can be one (and is not NIL), else
// as a string.
func (w *Writer) AString(s string) *Writer {
	if s == "" || len(s) == 3 && (s[0]|0x20) == 'n' && (s[1]|0x20) == 'i' && (s[2]|0x20) == 'l' {
		return w.String(s)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return w.String(s)
		}
	}
	w.writeString(s)
	return w
}

// maxQuoted is the longest string sent quoted; longer ones go as literals,
// which need no escaping and are what clients expect for long values.
const maxQuoted = 1024

// quotable reports whether s may be sent as a quoted string: no CR, LF or
// NUL (RFC 9051 QUOTED-CHAR), and 8-bit only as valid UTF-8 when allowed.
func quotable(s string, utf8OK bool) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0 || c == '\r' || c == '\n':
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return ascii || utf8OK && utf8.ValidString(s)
}

// String writes s quoted, or as a literal when it is long or holds bytes a
// quoted string cannot: CR, LF, NUL, or 8-bit data before UTF-8 is enabled
// (RFC 9051 section 4.3, RFC 6855 section 3).
func (w *Writer) String(s string) *Writer {
	if len(s) > maxQuoted || !quotable(s, w.utf8) {
		w.literalHeader('{', int64(len(s)))
		w.writeString(s)
		return w
	}
	w.writeByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			w.writeString(s[start:i])
			w.writeByte('\\')
			start = i
		}
	}
	w.writeString(s[start:])
	w.writeByte('"')
	return w
}

// Literal writes data as a literal "{n}" CRLF data.
func (w *Writer) Literal(data []byte) *Writer {
	w.literalHeader('{', int64(len(data)))
	w.write(data)
	return w
}

// Literal8 writes data as a literal8 "~{n}" CRLF data, for BINARY fetch
// results that hold NUL (RFC 3516 section 4.2).
func (w *Writer) Literal8(data []byte) *Writer {
	w.literalHeader('~', int64(len(data)))
	w.write(data)
	return w
}

func (w *Writer) literalHeader(kind byte, n int64) {
	b := w.scratch[:0]
	if kind == '~' {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}\r\n"...)
	w.write(b)
}

// LiteralFrom writes a literal of size bytes read from r, so a message body
// can be streamed without holding it. If r yields fewer than size bytes the
// response stream is broken: the error says so and the session must close
// the connection.
func (w *Writer) LiteralFrom(r io.Reader, size int64) error {
	return w.literalFrom('{', r, size)
}

// Literal8From is LiteralFrom for a literal8.
func (w *Writer) Literal8From(r io.Reader, size int64) error {
	return w.literalFrom('~', r, size)
}

func (w *Writer) literalFrom(kind byte, r io.Reader, size int64) error {
	w.literalHeader(kind, size)
	if w.err != nil {
		return w.err
	}
	n, err := io.CopyN(w.bw, r, size)
	if err != nil {
		if n < size {
			err = fmt.Errorf("literal of %d bytes ended after %d: %w", size, n, err)
		}
		w.err = err
	}
	return w.err
}

// Mailbox writes a mailbox name: modified UTF-7 unless UTF-8 is on (RFC
// 3501 section 5.1.3), as an atom when it can be.
func (w *Writer) Mailbox(name string) *Writer {
	if w.utf8 {
		return w.AString(name)
	}
	return w.AString(EncodeMailbox(name))
}

// Flags writes a parenthesised flag list. Flags are atoms (or \atom) as
// parsed from clients or chosen by the server, and are written as is.
func (w *Writer) Flags(flags []string) *Writer {
	w.writeByte('(')
	for i, f := range flags {
		if i > 0 {
			w.writeByte(' ')
		}
		w.writeString(f)
	}
	w.writeByte(')')
	return w
}

// DateTime writes t as a quoted IMAP date-time, such as
// " 7-Feb-1994 21:52:25 -0800" in quotes (RFC 9051 date-time).
func (w *Writer) DateTime(t time.Time) *Writer {
	b := append(w.scratch[:0], '"')
	b = t.AppendFormat(b, dateTimeLayout)
	b = append(b, '"')
	w.write(b)
	return w
}

// NumSet writes a sequence set in compact form. It must not be empty.
func (w *Writer) NumSet(s NumSet) *Writer {
	// AppendTo reallocates if the scratch buffer is too small.
	w.write(s.AppendTo(w.scratch[:0]))
	return w
}

// text writes human-readable response text, replacing what would break the
// line (CR, LF, NUL) or is not UTF-8, so text derived from client input or
// errors cannot inject responses. Text is ASCII until UTF-8 is on: each
// other character is a "?" (RFC 9051 section 9, text: non-ASCII only
// after ENABLE IMAP4rev2; RFC 3501's TEXT-CHAR is 7-bit), for a mailbox
// name in an error must not give a strict IMAP4rev1 client 8-bit bytes.
func (w *Writer) text(s string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			if r, size := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || size > 1 {
				if !w.utf8 {
					w.writeString(s[start:i])
					w.writeByte('?')
					start = i + size
				}
				i += size
				continue
			}
		} else if c >= 0x20 && c != 0x7f || c == '\t' {
			i++
			continue
		}
		w.writeString(s[start:i])
		w.writeByte(' ')
		i++
		start = i
	}
	w.writeString(s[start:])
}

// Cond is the condition of a status response (RFC 9051 section 7.1).
type Cond string

// The status response conditions.
const (
	OK      Cond = "OK"
	NO      Cond = "NO"
	BAD     Cond = "BAD"
	BYE     Cond = "BYE"
	PREAUTH Cond = "PREAUTH"
)

// CodeName is a response code name (RFC 9051 section 7.1 and the
// extensions).
type CodeName string

// Response codes.
const (
	CodeAlert                CodeName = "ALERT"
	CodeAlreadyExists        CodeName = "ALREADYEXISTS"
	CodeAppendUID            CodeName = "APPENDUID" // RFC 4315
	CodeAuthenticationFailed CodeName = "AUTHENTICATIONFAILED"
	CodeAuthorizationFailed  CodeName = "AUTHORIZATIONFAILED"
	CodeBadCharset           CodeName = "BADCHARSET"
	CodeCannot               CodeName = "CANNOT"
	CodeCapability           CodeName = "CAPABILITY"
	CodeClientBug            CodeName = "CLIENTBUG"
	CodeClosed               CodeName = "CLOSED" // RFC 7162 section 3.2.11
	CodeContactAdmin         CodeName = "CONTACTADMIN"
	CodeCopyUID              CodeName = "COPYUID" // RFC 4315
	CodeCorruption           CodeName = "CORRUPTION"
	CodeExpired              CodeName = "EXPIRED"
	CodeExpungeIssued        CodeName = "EXPUNGEISSUED"
	CodeHasChildren          CodeName = "HASCHILDREN"
	CodeHighestModSeq        CodeName = "HIGHESTMODSEQ" // RFC 7162
	CodeInUse                CodeName = "INUSE"
	CodeLimit                CodeName = "LIMIT"
	CodeModified             CodeName = "MODIFIED" // RFC 7162
	CodeNoModSeq             CodeName = "NOMODSEQ" // RFC 7162
	CodeNonExistent          CodeName = "NONEXISTENT"
	CodeNoPerm               CodeName = "NOPERM"
	CodeOverQuota            CodeName = "OVERQUOTA"
	CodeParse                CodeName = "PARSE"
	CodePermanentFlags       CodeName = "PERMANENTFLAGS"
	CodePrivacyRequired      CodeName = "PRIVACYREQUIRED"
	CodeReadOnly             CodeName = "READ-ONLY"
	CodeReadWrite            CodeName = "READ-WRITE"
	CodeServerBug            CodeName = "SERVERBUG"
	CodeTooBig               CodeName = "TOOBIG" // RFC 7888, RFC 4469
	CodeTryCreate            CodeName = "TRYCREATE"
	CodeUIDNext              CodeName = "UIDNEXT"
	CodeUIDNotSticky         CodeName = "UIDNOTSTICKY"
	CodeUIDValidity          CodeName = "UIDVALIDITY"
	CodeUnavailable          CodeName = "UNAVAILABLE"
	CodeUnknownCTE           CodeName = "UNKNOWN-CTE" // RFC 3516
	CodeUnseen               CodeName = "UNSEEN"
	CodeAppendLimit          CodeName = "APPENDLIMIT" // RFC 7889
	CodeNoUpdate             CodeName = "NOUPDATE"    // RFC 5267 section 4.3.1
)

// Code is a response code. The zero Code is "no code". Which fields are
// written depends on Name:
//
//	UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, APPENDLIMIT: Num
//	APPENDUID: Num (UIDVALIDITY) and Set (the UIDs)
//	COPYUID: Num (UIDVALIDITY), Set (source UIDs) and Set2 (destination)
//	MODIFIED: Set
//	PERMANENTFLAGS: List, parenthesised
//	BADCHARSET: List, parenthesised when not empty
//	NOUPDATE: List[0], the tag, quoted
//	CAPABILITY and unknown names: List, space-separated
type Code struct {
	Name      CodeName
	Num       uint64
	Set, Set2 NumSet
	List      []string
}

// UIDNextCode returns [UIDNEXT n].
func UIDNextCode(n uint32) Code { return Code{Name: CodeUIDNext, Num: uint64(n)} }

// UIDValidityCode returns [UIDVALIDITY n].
func UIDValidityCode(n uint32) Code { return Code{Name: CodeUIDValidity, Num: uint64(n)} }

// UnseenCode returns [UNSEEN n].
func UnseenCode(seq uint32) Code { return Code{Name: CodeUnseen, Num: uint64(seq)} }

// HighestModSeqCode returns [HIGHESTMODSEQ n].
func HighestModSeqCode(n uint64) Code { return Code{Name: CodeHighestModSeq, Num: n} }

// AppendUIDCode returns [APPENDUID uidvalidity uids] (RFC 4315 section 3).
func AppendUIDCode(uidValidity uint32, uids NumSet) Code {
	return Code{Name: CodeAppendUID, Num: uint64(uidValidity), Set: uids}
}

// CopyUIDCode returns [COPYUID uidvalidity src dst] (RFC 4315 section 3).
func CopyUIDCode(uidValidity uint32, src, dst NumSet) Code {
	return Code{Name: CodeCopyUID, Num: uint64(uidValidity), Set: src, Set2: dst}
}

// ModifiedCode returns [MODIFIED set] (RFC 7162 section 3.1.3).
func ModifiedCode(set NumSet) Code { return Code{Name: CodeModified, Set: set} }

// PermanentFlagsCode returns [PERMANENTFLAGS (flags)].
func PermanentFlagsCode(flags []string) Code { return Code{Name: CodePermanentFlags, List: flags} }

// CapabilityCode returns [CAPABILITY caps...].
func CapabilityCode(caps []string) Code { return Code{Name: CodeCapability, List: caps} }

// NoUpdateCode returns [NOUPDATE "tag"] (RFC 5267 section 4.3.1): the
// result of the command with that tag is no longer kept up to date.
func NoUpdateCode(tag string) Code { return Code{Name: CodeNoUpdate, List: []string{tag}} }

// BadCharsetCode returns [BADCHARSET (charsets)].
func BadCharsetCode(charsets []string) Code { return Code{Name: CodeBadCharset, List: charsets} }

func (w *Writer) code(c Code) {
	w.writeByte('[')
	w.writeString(string(c.Name))
	switch c.Name {
	case CodeUIDNext, CodeUIDValidity, CodeUnseen, CodeHighestModSeq, CodeAppendLimit:
		w.SP().Num64(c.Num)
	case CodeAppendUID:
		w.SP().Num64(c.Num).SP().NumSet(c.Set)
	case CodeCopyUID:
		w.SP().Num64(c.Num).SP().NumSet(c.Set).SP().NumSet(c.Set2)
	case CodeModified:
		w.SP().NumSet(c.Set)
	case CodePermanentFlags:
		w.SP().Flags(c.List)
	case CodeNoUpdate:
		w.SP().String(c.List[0])
	case CodeBadCharset:
		if len(c.List) > 0 {
			w.SP().ListStart()
			for i, cs := range c.List {
				if i > 0 {
					w.SP()
				}
				w.AString(cs)
			}
			w.ListEnd()
		}
	default:
		for _, s := range c.List {
			w.SP()
			w.writeString(s)
		}
	}
	w.writeString("] ")
}

// defaultText is sent when a status response has no text, which the
// grammar requires (RFC 9051 resp-text).
func defaultText(c Cond) string {
	switch c {
	case OK:
		return "completed"
	case NO:
		return "failed"
	case BAD:
		return "invalid command"
	case BYE:
		return "closing connection"
	}
	return "ready"
}

// Status writes a complete status response line. tag "" writes an untagged
// one ("* OK ..."); code may be the zero Code.
func (w *Writer) Status(tag string, cond Cond, code Code, text string) *Writer {
	if tag == "" {
		w.writeString("* ")
	} else {
		w.writeString(tag)
		w.writeByte(' ')
	}
	w.writeString(string(cond))
	w.writeByte(' ')
	if code.Name != "" {
		w.code(code)
	}
	if text == "" {
		text = defaultText(cond)
	}
	w.text(text)
	w.CRLF()
	return w
}

// Tagged writes "tag cond [code] text".
func (w *Writer) Tagged(tag string, cond Cond, code Code, text string) *Writer {
	if tag == "" {
		tag = "*"
	}
	w.tagged++
	w.last = cond
	return w.Status(tag, cond, code, text)
}

// TaggedCount returns how many tagged responses Tagged wrote, and the
// condition of the latest.
func (w *Writer) TaggedCount() (n int, last Cond) { return w.tagged, w.last }

// Untagged writes "* cond [code] text".
func (w *Writer) Untagged(cond Cond, code Code, text string) *Writer {
	return w.Status("", cond, code, text)
}

// Continuation writes a continuation request "+ text" (RFC 9051 section
// 7.5). The session must Flush right after: the client waits for it.
func (w *Writer) Continuation(text string) *Writer {
	w.writeString("+ ")
	w.text(text)
	return w.CRLF()
}

// Challenge writes a SASL challenge, "+ " and its base64 (RFC 9051
// section 7.5, continue-req): "+ " alone for an empty one, which is what
// AUTHENTICATE PLAIN sends. Text there would be read as a corrupt
// challenge by SASL clients (Python's imaplib, offlineimap).
func (w *Writer) Challenge(data []byte) *Writer {
	w.writeString("+ ")
	w.writeString(base64.StdEncoding.EncodeToString(data))
	return w.CRLF()
}

// Capability writes "* CAPABILITY caps...".
func (w *Writer) Capability(caps []string) *Writer { return w.atoms("* CAPABILITY", caps) }

// Enabled writes "* ENABLED caps..." (RFC 5161 section 3.2).
func (w *Writer) Enabled(caps []string) *Writer { return w.atoms("* ENABLED", caps) }

// atoms writes prefix, then each atom after a space, then CRLF.
func (w *Writer) atoms(prefix string, atoms []string) *Writer {
	w.writeString(prefix)
	for _, a := range atoms {
		w.writeByte(' ')
		w.writeString(a)
	}
	return w.CRLF()
}

// Exists writes "* n EXISTS".
func (w *Writer) Exists(n uint32) *Writer { return w.Star().Num(n).Raw(" EXISTS\r\n") }

// Recent writes "* n RECENT" (IMAP4rev1 only).
func (w *Writer) Recent(n uint32) *Writer { return w.Star().Num(n).Raw(" RECENT\r\n") }

// Expunge writes "* seq EXPUNGE".
func (w *Writer) Expunge(seq uint32) *Writer { return w.Star().Num(seq).Raw(" EXPUNGE\r\n") }

// FlagsResponse writes "* FLAGS (flags)".
func (w *Writer) FlagsResponse(flags []string) *Writer {
	return w.Raw("* FLAGS ").Flags(flags).CRLF()
}

// Vanished writes "* VANISHED [(EARLIER) ]uids" (RFC 7162 section 3.2.10).
func (w *Writer) Vanished(earlier bool, uids NumSet) *Writer {
	w.writeString("* VANISHED ")
	if earlier {
		w.writeString("(EARLIER) ")
	}
	return w.NumSet(uids).CRLF()
}

// BeginFetch writes "* seq FETCH (": the session writes the items and
// ends the line with EndFetch.
func (w *Writer) BeginFetch(seq uint32) *Writer { return w.Star().Num(seq).Raw(" FETCH (") }

// EndFetch writes ")" CRLF.
func (w *Writer) EndFetch() *Writer { return w.Raw(")\r\n") }

// FetchItemName writes the response name of a FETCH item, such as
// BODY[1.TEXT]<0> for BODY.PEEK[1.TEXT]<0.100>.
func (w *Writer) FetchItemName(it *FetchItem) *Writer {
	w.write(it.AppendResponseName(w.scratch[:0]))
	return w
}
