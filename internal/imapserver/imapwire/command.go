package imapwire

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// Command is one client command as read by Reader.ReadCommand.
type Command struct {
	// Tag is the client's tag, to be echoed in the tagged response.
	Tag string
	// Name is the command name in upper case. The UID forms (RFC 9051
	// section 6.4.9) have the base name and UID set: "UID FETCH" is
	// Name "FETCH" with UID true.
	Name string
	UID  bool
	// Args holds the typed arguments, one of the pointer types below
	// (*Login, *Select, *Fetch, ...), or nil for commands that take none:
	// CAPABILITY, NOOP, LOGOUT, STARTTLS, NAMESPACE, IDLE, CHECK, CLOSE,
	// UNSELECT and (non-UID) EXPUNGE.
	Args Args
	// Reserved is what the command's literals took from
	// Options.Budget: the caller releases it when done (ReleaseLiterals).
	Reserved int64
	budget   Budget // the Options.Budget that Reserved came from
}

// ReleaseLiterals gives back what the command's literals took, to the
// budget they took it from: the reader's options may have changed since
// (a LOGIN's literals were taken before sign-in). It may be called more
// than once.
func (c *Command) ReleaseLiterals() {
	if c.Reserved > 0 {
		c.budget.Release(c.Reserved)
		c.Reserved = 0
	}
}

// Args is implemented by the argument types of Command. The method is
// unexported so that the set of argument types is the one this package
// parses.
type Args interface {
	// appendArgs appends the arguments in wire form, each preceded by SP.
	appendArgs(b []byte) []byte
}

// String returns the command in wire form without the final CRLF, with
// strings that need it as non-synchronising literals (RFC 7888) and mailbox
// names in modified UTF-7. Reading it back gives an equal command (see
// FuzzReadCommand). It is meant for tests and debugging; it includes
// passwords.
func (c *Command) String() string {
	b := make([]byte, 0, 64)
	b = append(b, c.Tag...)
	b = append(b, ' ')
	if c.UID {
		b = append(b, "UID "...)
	}
	b = append(b, c.Name...)
	if c.Args != nil {
		b = c.Args.appendArgs(b)
	}
	return string(b)
}

// Authenticate is AUTHENTICATE mechanism [initial-response] (RFC 9051
// section 6.2.2, SASL-IR RFC 4959). Further client responses are read with
// Reader.ReadLine and decoded with DecodeSASL.
type Authenticate struct {
	Mechanism string // upper case
	// InitialResponse is the decoded SASL-IR initial response: nil when
	// absent, empty and non-nil when the client sent "=".
	InitialResponse []byte
}

func (a *Authenticate) appendArgs(b []byte) []byte {
	b = append(b, ' ')
	b = append(b, a.Mechanism...)
	if a.InitialResponse != nil {
		b = append(b, ' ')
		if len(a.InitialResponse) == 0 {
			b = append(b, '=')
		} else {
			b = appendBase64(b, a.InitialResponse)
		}
	}
	return b
}

// Login is LOGIN userid password (RFC 9051 section 6.2.3).
type Login struct {
	Username, Password string
}

func (a *Login) appendArgs(b []byte) []byte {
	b = appendAString(append(b, ' '), a.Username)
	return appendAString(append(b, ' '), a.Password)
}

// Enable is ENABLE capability... (RFC 5161).
type Enable struct {
	Capabilities []string // upper case
}

func (a *Enable) appendArgs(b []byte) []byte {
	for _, c := range a.Capabilities {
		b = append(append(b, ' '), c...)
	}
	return b
}

// Select is SELECT or EXAMINE mailbox [(params)] (RFC 9051 sections 6.3.2,
// 6.3.3, with the CONDSTORE and QRESYNC parameters of RFC 7162 sections
// 3.1.8 and 3.2.5).
type Select struct {
	Mailbox   string
	CondStore bool
	QResync   *QResync // nil when absent
}

// QResync holds the QRESYNC select parameter (RFC 7162 section 3.2.5):
// (uidvalidity modseq [known-uids [(known-sequence-set known-uid-set)]]).
// Absent sets are empty.
type QResync struct {
	UIDValidity  uint32
	ModSeq       uint64
	KnownUIDs    NumSet
	KnownSeqs    NumSet // seq-match-data: message numbers...
	KnownSeqUIDs NumSet // ...and the UIDs they had
}

func (a *Select) appendArgs(b []byte) []byte {
	b = appendMailbox(append(b, ' '), a.Mailbox)
	if !a.CondStore && a.QResync == nil {
		return b
	}
	b = append(b, " ("...)
	if a.CondStore {
		b = append(b, "CONDSTORE"...)
	}
	if q := a.QResync; q != nil {
		if a.CondStore {
			b = append(b, ' ')
		}
		b = append(b, "QRESYNC ("...)
		b = strconv.AppendUint(b, uint64(q.UIDValidity), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, q.ModSeq, 10)
		if !q.KnownUIDs.IsEmpty() {
			b = q.KnownUIDs.AppendTo(append(b, ' '))
		}
		if !q.KnownSeqs.IsEmpty() {
			b = q.KnownSeqs.AppendTo(append(b, " ("...))
			b = q.KnownSeqUIDs.AppendTo(append(b, ' '))
			b = append(b, ')')
		}
		b = append(b, ')')
	}
	return append(b, ')')
}

// Create is CREATE mailbox [(USE (attrs))] (RFC 9051 section 6.3.4, the
// USE parameter of RFC 6154 section 3).
type Create struct {
	Mailbox string
	// SpecialUse lists the requested special-use attributes, such as
	// `\Sent`, with the RFC 6154 ones in their canonical case.
	SpecialUse []string
}

func (a *Create) appendArgs(b []byte) []byte {
	b = appendMailbox(append(b, ' '), a.Mailbox)
	if a.SpecialUse != nil {
		b = append(b, " (USE ("...)
		b = appendJoined(b, a.SpecialUse)
		b = append(b, "))"...)
	}
	return b
}

// MailboxArgs is the argument of DELETE, SUBSCRIBE and UNSUBSCRIBE.
type MailboxArgs struct {
	Mailbox string
}

func (a *MailboxArgs) appendArgs(b []byte) []byte {
	return appendMailbox(append(b, ' '), a.Mailbox)
}

// Rename is RENAME existing new (RFC 9051 section 6.3.6).
type Rename struct {
	From, To string
}

func (a *Rename) appendArgs(b []byte) []byte {
	b = appendMailbox(append(b, ' '), a.From)
	return appendMailbox(append(b, ' '), a.To)
}

// List is LIST (basic or RFC 5258 LIST-EXTENDED, with the RFC 6154
// SPECIAL-USE and RFC 5819 STATUS return options) and LSUB (RFC 3501
// section 6.3.9; one pattern, no options).
type List struct {
	Reference string   // decoded from modified UTF-7 unless UTF-8 is on
	Patterns  []string // at least one; may contain the wildcards % and *
	Select    ListSelect
	Return    ListReturn
	// Extended is set when the client used LIST-EXTENDED syntax (selection
	// options, a pattern list or RETURN), which changes the response
	// rules (RFC 5258 section 3).
	Extended bool
}

// ListSelect holds the LIST selection options (RFC 5258 section 3.1, RFC
// 6154 section 5.2).
type ListSelect struct {
	Subscribed, Remote, RecursiveMatch, SpecialUse bool
}

// ListReturn holds the LIST return options (RFC 5258 section 3.2, RFC 6154
// section 5.2, RFC 5819 section 2). Status is nil unless STATUS was asked.
type ListReturn struct {
	Subscribed, Children, SpecialUse bool
	Status                           []StatusItem
}

func (a *List) appendArgs(b []byte) []byte {
	s := a.Select
	if s.Subscribed || s.Remote || s.RecursiveMatch || s.SpecialUse {
		b = append(b, " ("...)
		b = appendOpts(b, opt{s.Subscribed, "SUBSCRIBED"}, opt{s.Remote, "REMOTE"}, opt{s.RecursiveMatch, "RECURSIVEMATCH"}, opt{s.SpecialUse, "SPECIAL-USE"})
		b = append(b, ')')
	}
	b = appendMailbox(append(b, ' '), a.Reference)
	b = append(b, ' ')
	if len(a.Patterns) == 1 && !a.Extended {
		b = appendListMailbox(b, a.Patterns[0])
	} else {
		b = append(b, '(')
		for i, p := range a.Patterns {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendListMailbox(b, p)
		}
		b = append(b, ')')
	}
	r := a.Return
	if r.Subscribed || r.Children || r.SpecialUse || r.Status != nil {
		b = append(b, " RETURN ("...)
		b = appendOpts(b, opt{r.Subscribed, "SUBSCRIBED"}, opt{r.Children, "CHILDREN"}, opt{r.SpecialUse, "SPECIAL-USE"})
		if r.Status != nil {
			if b[len(b)-1] != '(' {
				b = append(b, ' ')
			}
			b = append(b, "STATUS ("...)
			b = appendJoined(b, r.Status)
			b = append(b, ')')
		}
		b = append(b, ')')
	}
	return b
}

// StatusItem is a STATUS data item name (RFC 9051 section 6.3.11; SIZE,
// DELETED from RFC 9051, HIGHESTMODSEQ from RFC 7162 section 3.1.6, RECENT
// from RFC 3501).
type StatusItem string

// The status items accepted.
const (
	StatusMessages      StatusItem = "MESSAGES"
	StatusUIDNext       StatusItem = "UIDNEXT"
	StatusUIDValidity   StatusItem = "UIDVALIDITY"
	StatusUnseen        StatusItem = "UNSEEN"
	StatusDeleted       StatusItem = "DELETED"
	StatusSize          StatusItem = "SIZE"
	StatusRecent        StatusItem = "RECENT"
	StatusHighestModSeq StatusItem = "HIGHESTMODSEQ"
	// StatusAppendLimit is RFC 7889 section 3.2's: the largest message
	// APPEND takes into the mailbox.
	StatusAppendLimit StatusItem = "APPENDLIMIT"
)

func statusItem(s string) (StatusItem, bool) {
	switch it := StatusItem(s); it {
	case StatusMessages, StatusUIDNext, StatusUIDValidity, StatusUnseen, StatusDeleted, StatusSize, StatusRecent, StatusHighestModSeq, StatusAppendLimit:
		return it, true
	}
	return "", false
}

// Status is STATUS mailbox (items) (RFC 9051 section 6.3.11).
type Status struct {
	Mailbox string
	Items   []StatusItem
}

func (a *Status) appendArgs(b []byte) []byte {
	b = appendMailbox(append(b, ' '), a.Mailbox)
	b = append(b, " ("...)
	b = appendJoined(b, a.Items)
	return append(b, ')')
}

// Append is APPEND mailbox message (RFC 9051 section 6.3.12). Messages has
// exactly one element unless Options.MultiAppend allows the RFC 3502 form.
type Append struct {
	Mailbox  string
	Messages []AppendMessage
}

// AppendMessage is one message of an APPEND.
type AppendMessage struct {
	Flags []string  // nil when no flag list was given
	Date  time.Time // zero when no date-time was given
	// Data is the literal, unless it went to Options.Spool: then Data is
	// nil and Spooled is the writer that got it, which the caller closes.
	Data    []byte
	Spooled io.WriteCloser
	// Size is the size of a Spooled literal (0 with Data).
	Size int64
	// Binary is set for a literal8 (RFC 3516 section 4.4): the data may
	// hold NUL and unencoded binary content.
	Binary bool
	// UTF8 is set for "UTF8 (~{n}...)" (RFC 6855 section 4): a message
	// with UTF-8 headers, allowed once UTF8=ACCEPT is enabled. Binary is
	// set with it.
	UTF8 bool
}

func (a *Append) appendArgs(b []byte) []byte {
	b = appendMailbox(append(b, ' '), a.Mailbox)
	for _, m := range a.Messages {
		if m.Flags != nil {
			b = appendFlagList(append(b, ' '), m.Flags)
		}
		if !m.Date.IsZero() {
			b = appendDateTime(append(b, ' '), m.Date)
		}
		b = append(b, ' ')
		data := m.Data
		if m.Spooled != nil {
			// Not held: the literal is shown as that many spaces.
			data = bytes.Repeat([]byte{' '}, int(m.Size))
		}
		if m.UTF8 {
			b = append(b, "UTF8 (~"...)
			b = append(appendLiteral(b, data), ')')
			continue
		}
		if m.Binary {
			b = append(b, '~')
		}
		b = appendLiteral(b, data)
	}
	return b
}

// Expunge is the argument of UID EXPUNGE (RFC 9051 section 6.4.9, UIDPLUS
// RFC 4315). Plain EXPUNGE has nil Args.
type Expunge struct {
	UIDs NumSet
}

func (a *Expunge) appendArgs(b []byte) []byte {
	return a.UIDs.AppendTo(append(b, ' '))
}

// StoreOp says how STORE changes flags.
type StoreOp uint8

// The STORE operations: FLAGS, +FLAGS, -FLAGS.
const (
	StoreReplace StoreOp = iota
	StoreAdd
	StoreRemove
)

// Store is STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags (RFC
// 9051 section 6.4.6, RFC 7162 section 3.1.3).
type Store struct {
	Set    NumSet
	Op     StoreOp
	Silent bool
	Flags  []string
	// UnchangedSince is valid when HasUnchangedSince; 0 is a legal value
	// (mod-sequence-valzer) that fails the store for every message.
	UnchangedSince    uint64
	HasUnchangedSince bool
}

func (a *Store) appendArgs(b []byte) []byte {
	b = a.Set.AppendTo(append(b, ' '))
	if a.HasUnchangedSince {
		b = append(b, " (UNCHANGEDSINCE "...)
		b = strconv.AppendUint(b, a.UnchangedSince, 10)
		b = append(b, ')')
	}
	b = append(b, ' ')
	switch a.Op {
	case StoreAdd:
		b = append(b, '+')
	case StoreRemove:
		b = append(b, '-')
	}
	b = append(b, "FLAGS"...)
	if a.Silent {
		b = append(b, ".SILENT"...)
	}
	return appendFlagList(append(b, ' '), a.Flags)
}

// Copy is the argument of COPY and MOVE (RFC 9051 sections 6.4.7, 6.4.8).
type Copy struct {
	Set     NumSet
	Mailbox string
}

func (a *Copy) appendArgs(b []byte) []byte {
	b = a.Set.AppendTo(append(b, ' '))
	return appendMailbox(append(b, ' '), a.Mailbox)
}

// Compress is COMPRESS mechanism (RFC 4978 section 3).
type Compress struct {
	Mechanism string // upper case; only DEFLATE is defined
}

func (a *Compress) appendArgs(b []byte) []byte {
	return append(append(b, ' '), a.Mechanism...)
}

// ID is ID (params) or ID NIL (RFC 2971 section 3.1).
type ID struct {
	Params []IDParam // nil for NIL
}

// IDParam is one field of ID. Field names are case-insensitive.
type IDParam struct {
	Name     string
	Value    string
	ValueNil bool
}

func (a *ID) appendArgs(b []byte) []byte {
	if a.Params == nil {
		return append(b, " NIL"...)
	}
	b = append(b, " ("...)
	for i, p := range a.Params {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendString(b, p.Name)
		b = append(b, ' ')
		if p.ValueNil {
			b = append(b, "NIL"...)
		} else {
			b = appendString(b, p.Value)
		}
	}
	return append(b, ')')
}

// Encoding helpers shared by Command.String and the Writer.

// opt is a named boolean option, for appendOpts.
type opt struct {
	on   bool
	name string
}

// appendOpts appends the names of the options that are on, space-separated.
func appendOpts(b []byte, opts ...opt) []byte {
	first := true
	for _, o := range opts {
		if o.on {
			if !first {
				b = append(b, ' ')
			}
			first = false
			b = append(b, o.name...)
		}
	}
	return b
}

// appendJoined appends the atoms of list separated by spaces.
func appendJoined[S ~string](b []byte, list []S) []byte {
	for i, s := range list {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	return b
}

func appendFlagList(b []byte, flags []string) []byte {
	b = append(b, '(')
	b = appendJoined(b, flags)
	return append(b, ')')
}

// appendMailbox appends a mailbox name as a client would send it before
// enabling UTF-8: modified UTF-7 in an astring.
func appendMailbox(b []byte, name string) []byte {
	return appendAString(b, EncodeMailbox(name))
}

func appendListMailbox(b []byte, pat string) []byte {
	enc := EncodeMailbox(pat)
	if enc != "" {
		ok := true
		for i := 0; i < len(enc); i++ {
			if !isListChar(enc[i]) {
				ok = false
				break
			}
		}
		if ok {
			return append(b, enc...)
		}
	}
	return appendString(b, enc)
}

// appendAString appends s as an atom when it can be one, else as a string.
func appendAString(b []byte, s string) []byte {
	if s == "" || strings.EqualFold(s, "NIL") {
		return appendString(b, s)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return appendString(b, s)
		}
	}
	return append(b, s...)
}

// appendString appends s quoted when it may be (RFC 9051 quoted, which
// allows UTF-8), else as a non-synchronising literal.
func appendString(b []byte, s string) []byte {
	if !quotable(s, true) {
		return appendLiteral(b, []byte(s))
	}
	return appendQuoted(b, s)
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func appendLiteral(b, data []byte) []byte {
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, "+}\r\n"...)
	return append(b, data...)
}

func appendBase64(b, data []byte) []byte {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for len(data) >= 3 {
		v := uint(data[0])<<16 | uint(data[1])<<8 | uint(data[2])
		b = append(b, enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], enc[v&63])
		data = data[3:]
	}
	switch len(data) {
	case 1:
		v := uint(data[0]) << 16
		b = append(b, enc[v>>18&63], enc[v>>12&63], '=', '=')
	case 2:
		v := uint(data[0])<<16 | uint(data[1])<<8
		b = append(b, enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], '=')
	}
	return b
}

// dateTimeLayout is RFC 9051 date-time without the quotes; the day is
// space-padded (date-day-fixed).
const dateTimeLayout = "_2-Jan-2006 15:04:05 -0700"

func appendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, dateTimeLayout)
	return append(b, '"')
}
