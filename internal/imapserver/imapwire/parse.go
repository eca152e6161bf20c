package imapwire

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/store"
)

// Options bound what a Reader accepts. Zero fields take the defaults.
type Options struct {
	// MaxLine bounds one line of a command, without its CRLF and without
	// literal data. Longer lines are a fatal error: the rest of such a
	// line cannot be told apart from the next command. Default 64 KiB.
	MaxLine int
	// MaxLiteral bounds the message literal of APPEND, and how much of a
	// rejected non-synchronising literal is read and thrown away to stay
	// in step (RFC 7888 section 4). Default 64 MiB.
	MaxLiteral int64
	// MaxStringLiteral bounds every other literal (passwords, search
	// strings, mailbox names). Default 64 KiB.
	MaxStringLiteral int64
	// MaxCommand bounds a whole command: lines and literals. Default
	// MaxLiteral + 1 MiB.
	MaxCommand int64
	// MaxNonSyncLiteral, when above 0, bounds non-synchronising literals
	// "{n+}" more tightly than the other limits: 4096 where the server
	// announces LITERAL- rather than LITERAL+, and a larger one is BAD
	// [TOOBIG] (RFC 7888 section 4). It is read and thrown away, up to
	// MaxLiteral, so that the session goes on.
	MaxNonSyncLiteral int64
	// Continue is called before the data of a synchronising literal
	// "{n}" is read (RFC 9051 section 4.3): the session writes "+ text"
	// and flushes. It is not called for "{n+}" (RFC 7888), nor for a
	// literal that is refused, which the client learns of from the BAD.
	// A nil Continue sends nothing (for tests).
	Continue func(text string) error
	// MultiAppend accepts several messages in one APPEND (RFC 3502).
	// When false such an APPEND is a ParseError.
	MultiAppend bool
	// Commands says how to read each command: given the command name in
	// upper case and whether it came after UID, it returns the parser of
	// its arguments, or nil for a command that does not exist (or has no
	// UID form). A non-nil error refuses the command before any of its
	// arguments (and so any literal) is read: it is answered as BAD with
	// the error's text. Nil means StandardCommands. The IMAP server
	// passes its command table here.
	Commands func(name string, uid bool) (ParseFunc, error)
	// Budget, when set, is asked for the bytes of every literal before
	// "+" is sent or its data read: a refusal gives a ParseError with No
	// set, and for a synchronising literal no "+". Bytes reserved for a
	// command that parsed are in Command.Reserved, for the caller to
	// release once it is done with the command (ReleaseLiterals); the
	// Reader releases those of a command it refuses.
	Budget Budget
	// Spool, when set, takes APPEND literals of SpoolFrom bytes or more
	// out of memory (Bounded memory, issue 12 part 2): it is called with
	// the literal's size and whether it is a literal8, after the limits
	// and before "+", and returns the writer that gets exactly its n
	// bytes as they are read. Budget is not asked for them. An error
	// refuses the command with NO [UNAVAILABLE] (try later) and, for a
	// synchronising literal, no "+": nothing of it is read. The writer
	// ends up in AppendMessage.Spooled for the caller, who closes it; the
	// Reader closes those of a command it refuses or that the connection
	// cuts off.
	Spool     func(n int64, binary bool) (io.WriteCloser, error)
	SpoolFrom int64
}

// Budget bounds the bytes that literals hold in memory across sessions.
type Budget interface {
	// Reserve takes n bytes, or reports false when they are not free.
	Reserve(n int64) bool
	// Release gives back bytes taken by Reserve.
	Release(n int64)
}

func (o Options) withDefaults() Options {
	if o.MaxLine <= 0 {
		o.MaxLine = 64 << 10
	}
	if o.MaxLiteral <= 0 {
		o.MaxLiteral = 64 << 20
	}
	if o.MaxStringLiteral <= 0 {
		o.MaxStringLiteral = 64 << 10
	}
	if o.MaxCommand <= 0 {
		o.MaxCommand = o.MaxLiteral + 1<<20
	}
	if o.Commands == nil {
		o.Commands = StandardCommands
	}
	return o
}

// ParseError is a command the Reader could not accept. The session answers
// "Tag BAD [Code] Msg" ("* BAD" when Tag is empty, RFC 9051 section 7.1.3)
// and, when Fatal, closes the connection: the Reader could not find where
// the next command starts. When not Fatal, the Reader has already skipped
// the rest of the broken command.
//
// A command that is well formed but names a mailbox that cannot exist (a
// valid astring that is not valid modified UTF-7, or not valid UTF-8 once
// UTF-8 is on) is a ParseError with No set: the session answers "Tag NO"
// instead, for the command's syntax is right and only the name is wrong
// (RFC 9051 section 7.1: BAD is for protocol errors). The whole command
// has been read, literals included; Name is the command's name.
type ParseError struct {
	Tag   string
	Msg   string
	Fatal bool
	// Code is a response code for the BAD, or "": CodeTooBig for a line
	// or literal over a limit (RFC 7888 section 4, RFC 4469 section 5).
	Code CodeName
	// No makes the answer "Tag NO [Code] Msg" (Code CANNOT when empty):
	// the command is well formed but cannot be taken, for an invalid
	// mailbox name (above), or for now, when Options.Budget refused its
	// literal (Code UNAVAILABLE).
	No   bool
	Name string
}

func (e *ParseError) Error() string {
	if e.Code != "" {
		return "[" + string(e.Code) + "] " + e.Msg
	}
	return e.Msg
}

// ErrSASLCancelled is returned by DecodeSASL for the client's "*" (RFC 9051
// section 6.2.2).
var ErrSASLCancelled = errors.New("authentication cancelled by client")

// DecodeSASL decodes one client line of an AUTHENTICATE exchange, as read
// by Reader.ReadLine: base64, or "*" to cancel.
func DecodeSASL(line string) ([]byte, error) {
	if line == "*" {
		return nil, ErrSASLCancelled
	}
	b, err := base64.StdEncoding.Strict().DecodeString(line)
	if err != nil {
		return nil, fmt.Errorf("invalid base64 in SASL response: %w", err)
	}
	return b, nil
}

// Reader reads commands from a client. It is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	opts Options
	utf8 bool
	buf  []byte // the current line, reused
}

// NewReader returns a Reader of r bounded by opts.
func NewReader(r *bufio.Reader, opts Options) *Reader {
	return &Reader{br: r, opts: opts.withDefaults()}
}

// SetOptions replaces the Reader's limits and hooks, for example when
// the session signs in and larger literals become acceptable.
func (r *Reader) SetOptions(opts Options) { r.opts = opts.withDefaults() }

// SetUTF8 switches mailbox names between modified UTF-7 (off, the default)
// and UTF-8 (on), for after ENABLE UTF8=ACCEPT (RFC 6855 section 3) or
// ENABLE IMAP4rev2 (RFC 9051 section 5.1).
func (r *Reader) SetUTF8(on bool) { r.utf8 = on }

// UTF8 reports whether mailbox names are read as UTF-8.
func (r *Reader) UTF8() bool { return r.utf8 }

// ReadLine reads one line without its CRLF: an AUTHENTICATE response (RFC
// 9051 section 6.2.2) or the DONE ending IDLE (RFC 2177). A line longer
// than Options.MaxLine gives a fatal *ParseError.
func (r *Reader) ReadLine() (string, error) {
	line, err := r.readLine()
	if err != nil {
		return "", err
	}
	return string(line), nil
}

// readLine reads a line into r.buf and returns it without CRLF. A bare LF
// ends a line too, as many servers allow. At EOF before any byte it returns
// io.EOF, within a line io.ErrUnexpectedEOF.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > r.opts.MaxLine+2 {
			r.buf = append(r.buf, chunk[:min(len(chunk), 128)]...)
			return nil, &ParseError{Tag: lineTag(r.buf), Msg: "line too long", Fatal: true, Code: CodeTooBig}
		}
		r.buf = append(r.buf, chunk...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(r.buf) == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line := r.buf[:len(r.buf)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// lineTag returns the tag at the start of a line, if it is a valid one.
func lineTag(line []byte) string {
	i := 0
	for i < len(line) && isTagChar(line[i]) {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return ""
	}
	return string(line[:i])
}

// readN reads a literal of n bytes. The buffer grows with the data that
// arrives, so a client announcing a large literal and sending nothing costs
// little memory.
func (r *Reader) readN(n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, 64<<10))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(cap(buf)))))
		}
		k := min(n-int64(len(buf)), int64(cap(buf)-len(buf)))
		m, err := io.ReadFull(r.br, buf[len(buf):len(buf)+int(k)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// ReadCommand reads and parses one command, with its literals. It returns
// io.EOF when the client closed the connection between commands, a
// *ParseError for a command it could not accept (see ParseError for what
// the session then does), and other errors for I/O failures, after which the
// connection is unusable. Empty lines between commands are skipped.
func (r *Reader) ReadCommand() (*Command, error) {
	var line []byte
	for {
		l, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(l) > 0 {
			line = l
			break
		}
	}
	pp := &Parser{parser{r: r, line: line, total: int64(len(line)) + 2}}
	p := &pp.parser
	cmd := pp.command()
	if p.err == nil && p.nameErr == "" {
		cmd.Reserved, cmd.budget = p.reserved, r.opts.Budget
		return cmd, nil
	}
	if p.reserved > 0 {
		r.opts.Budget.Release(p.reserved)
	}
	for _, w := range p.spools {
		w.Close()
	}
	if p.err == nil {
		return nil, &ParseError{Tag: cmd.Tag, Msg: p.nameErr, No: true, Name: cmd.Name}
	}
	var perr *ParseError
	if !errors.As(p.err, &perr) {
		return nil, p.err
	}
	if perr.Tag == "" {
		perr.Tag = p.tag
	}
	if !perr.Fatal && !p.noResync && !p.resync() {
		perr.Fatal = true
	}
	return nil, perr
}

// resync skips the rest of a broken command so that the next ReadCommand
// starts on a command boundary. The rest of the current line is already
// read; what can follow it is literal data. For a synchronising literal the
// client waits for "+", which it will not get: it sees the BAD instead and
// abandons the command (RFC 9051 section 7.5), so nothing more is sent. A
// non-synchronising literal is on its way and is read and discarded, up to
// MaxLiteral in all. It returns false when it could not get in step.
func (p *parser) resync() bool {
	var discarded int64
	for {
		n, nonsync, ok, overflow := trailingLiteral(p.line)
		if overflow {
			return false
		}
		if !ok || !nonsync {
			return true
		}
		discarded += n
		if discarded > p.r.opts.MaxLiteral {
			return false
		}
		if _, err := io.CopyN(io.Discard, p.r.br, n); err != nil {
			return false
		}
		line, err := p.r.readLine()
		if err != nil {
			return false
		}
		p.line = line
	}
}

// trailingLiteral reports whether line ends with a literal announcement
// "{n}", "{n+}" or "~{n}".
func trailingLiteral(line []byte) (n int64, nonsync, ok, overflow bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false, false
	}
	i := len(line) - 2
	if line[i] == '+' {
		nonsync = true
		i--
	}
	end := i + 1
	for i >= 0 && line[i] >= '0' && line[i] <= '9' {
		i--
	}
	if i < 0 || line[i] != '{' || i+1 == end {
		return 0, false, false, false
	}
	v, ok := parseBounded(line[i+1:end], 1<<62)
	if !ok {
		return 0, nonsync, true, true
	}
	return int64(v), nonsync, true, false
}

// parser parses one command. Its first error sticks: later calls do nothing
// and return zero values, so parse functions check p.err only where they
// loop or branch on what they read.
type parser struct {
	r        *Reader // nil for ParseNumSet
	line     []byte  // current line, without CRLF
	pos      int
	err      error // *ParseError, or an I/O error
	tag      string
	name     string // for messages: "UID FETCH"
	cmdName  string // the command's name: "FETCH"
	total    int64  // bytes of this command so far
	noResync bool   // the error is a refused synchronising literal
	// nameErr is the first invalid mailbox name's complaint; parsing goes
	// on so that the command is read whole (see ParseError.No).
	nameErr  string
	reserved int64            // bytes taken from Options.Budget
	spools   []io.WriteCloser // from Options.Spool, closed if the command fails
}

func (p *parser) failf(format string, args ...any) {
	p.failCodef("", format, args...)
}

// failCodef records the first error, with a response code.
func (p *parser) failCodef(code CodeName, format string, args ...any) {
	if p.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p.name != "" {
		msg = p.name + ": " + msg
	}
	p.err = &ParseError{Tag: p.tag, Msg: msg, Code: code}
}

func (p *parser) atEnd() bool { return p.err != nil || p.pos >= len(p.line) }

func (p *parser) peek() byte {
	if p.atEnd() {
		return 0
	}
	return p.line[p.pos]
}

func (p *parser) take(c byte) bool {
	if p.peek() == c && !p.atEnd() {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte, what string) {
	if !p.take(c) {
		p.failf("expected %s, found %s", what, p.describe())
	}
}

func (p *parser) sp() { p.expect(' ', "space") }

// spThen consumes SP when the byte after it is c.
func (p *parser) spThen(c byte) bool {
	if p.err == nil && p.pos+1 < len(p.line) && p.line[p.pos] == ' ' && p.line[p.pos+1] == c {
		p.pos++
		return true
	}
	return false
}

// Character classes of RFC 9051 section 9.

func isAtomChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

func isAStringChar(c byte) bool { return isAtomChar(c) || c == ']' }

func isTagChar(c byte) bool { return isAStringChar(c) && c != '+' }

func isListChar(c byte) bool { return isAtomChar(c) || c == '%' || c == '*' || c == ']' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// span consumes the bytes for which ok holds.
func (p *parser) span(ok func(byte) bool) []byte {
	if p.err != nil {
		return nil
	}
	start := p.pos
	for p.pos < len(p.line) && ok(p.line[p.pos]) {
		p.pos++
	}
	return p.line[start:p.pos]
}

// spanText is span for the atoms of astrings and LIST patterns, which in
// UTF-8 mode (IMAP4rev2 or ENABLE UTF8=ACCEPT) also take whole UTF-8
// characters. RFC 6855 section 3 allows UTF-8 in quoted strings only, but
// clients send UTF-8 mailbox names bare once they enabled it (Python's
// imaplib quotes nothing), and a bare name with UTF-8 in it means nothing
// else: taking it is safer than a BAD the client cannot explain.
func (p *parser) spanText(ok func(byte) bool) []byte {
	if p.r == nil || !p.r.utf8 {
		return p.span(ok)
	}
	if p.err != nil {
		return nil
	}
	start := p.pos
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		if c < utf8.RuneSelf {
			if !ok(c) {
				break
			}
			p.pos++
			continue
		}
		r, size := utf8.DecodeRune(p.line[p.pos:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		p.pos += size
	}
	return p.line[start:p.pos]
}

// describe names the next byte for an error message.
func (p *parser) describe() string {
	if p.pos >= len(p.line) {
		return "end of line"
	}
	c := p.line[p.pos]
	if c > ' ' && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *parser) atom(what string) string {
	b := p.span(isAtomChar)
	if len(b) == 0 {
		p.failf("expected %s, found %s", what, p.describe())
		return ""
	}
	return string(b)
}

// keyword reads an atom in upper case.
func (p *parser) keyword(what string) string {
	b := p.span(isAtomChar)
	if len(b) == 0 {
		p.failf("expected %s, found %s", what, p.describe())
		return ""
	}
	return upperASCII(b)
}

func upperASCII(b []byte) string {
	for _, c := range b {
		if c >= 'a' && c <= 'z' {
			return strings.ToUpper(string(b))
		}
	}
	return string(b)
}

// peekKeyword reports whether the next token is the atom kw, in any case.
func (p *parser) peekKeyword(kw string) bool {
	if p.err != nil || len(p.line)-p.pos < len(kw) {
		return false
	}
	if !strings.EqualFold(string(p.line[p.pos:p.pos+len(kw)]), kw) {
		return false
	}
	end := p.pos + len(kw)
	return end == len(p.line) || !isAtomChar(p.line[end])
}

func (p *parser) takeKeyword(kw string) bool {
	if p.peekKeyword(kw) {
		p.pos += len(kw)
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) {
	if !p.takeKeyword(kw) {
		p.failf("expected %s, found %s", kw, p.describe())
	}
}

// number reads a number that fits max. It is the one place where the
// parser turns digits into a number: the bound is checked before each
// step, so no number wraps past 2^64 (issue 11 part 4: "{18446744073709551616}"
// was read as "{0}", and an UNCHANGEDSINCE of 2^64 as 0).
func (p *parser) number(what string, max uint64) uint64 {
	b := p.span(isDigit)
	if len(b) == 0 {
		p.failf("expected %s, found %s", what, p.describe())
		return 0
	}
	n, ok := parseBounded(b, max)
	if !ok {
		p.failf("%s out of range", what)
		return 0
	}
	return n
}

// parseBounded returns the value of the decimal digits b, and false when
// it is over max.
func parseBounded(b []byte, max uint64) (uint64, bool) {
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > max || n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func (p *parser) number32(what string) uint32 {
	return uint32(p.number(what, 1<<32-1))
}

func (p *parser) nzNumber32(what string) uint32 {
	n := p.number32(what)
	if n == 0 && p.err == nil {
		p.failf("%s must not be 0", what)
	}
	return n
}

// modSeq reads a mod-sequence-value (RFC 7162 section 7): 63 bits.
func (p *parser) modSeq(zeroOK bool) uint64 {
	n := p.number("mod-sequence", 1<<63-1)
	if n == 0 && !zeroOK && p.err == nil {
		p.failf("mod-sequence must not be 0")
	}
	return n
}

// quoted reads a quoted string (RFC 9051 quoted: UTF-8 allowed, only \" and
// \\ escapes).
func (p *parser) quoted() string {
	if !p.take('"') {
		p.failf("expected quoted string")
		return ""
	}
	start := p.pos
	var sb []byte
	escaped := false
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		switch {
		case c == '"':
			var s string
			if escaped {
				s = string(sb)
			} else {
				s = string(p.line[start:p.pos])
			}
			p.pos++
			return s
		case c == '\\':
			if !escaped {
				sb = append(sb, p.line[start:p.pos]...)
				escaped = true
			}
			if p.pos+1 >= len(p.line) || (p.line[p.pos+1] != '"' && p.line[p.pos+1] != '\\') {
				p.failf("invalid escape in quoted string")
				return ""
			}
			sb = append(sb, p.line[p.pos+1])
			p.pos += 2
			continue
		case c == 0 || c == '\r' || c == '\n':
			p.failf("invalid byte 0x%02x in quoted string", c)
			return ""
		case c >= 0x80:
			r, size := utf8.DecodeRune(p.line[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				p.failf("invalid UTF-8 in quoted string")
				return ""
			}
			if escaped {
				sb = append(sb, p.line[p.pos:p.pos+size]...)
			}
			p.pos += size
			continue
		}
		if escaped {
			sb = append(sb, c)
		}
		p.pos++
	}
	p.failf("unterminated quoted string")
	return ""
}

// literal kinds set the size limit and what is allowed.
const (
	litString = iota // a string argument: MaxStringLiteral, no NUL
	litAppend        // an APPEND message: MaxLiteral, literal8 allowed
)

// literal reads "{n}" / "{n+}" (and "~{n}" for litAppend) at the end of the
// line, the n bytes of data, and the next line.
func (p *parser) literal(kind int) (data []byte, binary bool) {
	data, binary, _, _ = p.literalOrSpool(kind)
	return data, binary
}

// literalOrSpool is literal, which for an APPEND literal sent to
// Options.Spool returns the spool's writer and the literal's size
// instead of data.
func (p *parser) literalOrSpool(kind int) (litData []byte, binary bool, spooled io.WriteCloser, size int64) {
	if p.err != nil {
		return nil, false, nil, 0
	}
	if kind == litAppend && p.take('~') {
		binary = true // RFC 3516 section 4.2
	}
	p.expect('{', "literal")
	n := int64(p.number("literal size", 1<<62))
	nonsync := p.take('+')
	p.expect('}', "'}' after literal size")
	if p.err != nil {
		return nil, false, nil, 0
	}
	if p.pos != len(p.line) {
		p.failf("literal size must end the line")
		return nil, false, nil, 0
	}
	if p.r == nil {
		p.failf("literal not allowed here")
		return nil, false, nil, 0
	}
	limit := p.r.opts.MaxStringLiteral
	if kind == litAppend {
		limit = p.r.opts.MaxLiteral
	}
	if nonsync && p.r.opts.MaxNonSyncLiteral > 0 && n > p.r.opts.MaxNonSyncLiteral {
		// No "{n}" in the text: a client reads a line ending in one as
		// the start of a literal.
		p.failCodef(CodeTooBig, "non-synchronizing literal of %d bytes is over the LITERAL- limit of %d; send it as a synchronizing literal",
			n, p.r.opts.MaxNonSyncLiteral)
		return nil, false, nil, 0
	}
	if n > limit || p.total+n > p.r.opts.MaxCommand {
		p.failCodef(CodeTooBig, "literal of %d bytes is over the limit of %d", n, max(0, min(limit, p.r.opts.MaxCommand-p.total)))
		// Refusing a synchronising literal means not sending "+": the
		// client then sends nothing more of this command. A refused
		// non-synchronising one is on its way; resync discards it.
		p.noResync = !nonsync
		return nil, false, nil, 0
	}
	var spool io.WriteCloser
	if kind == litAppend && p.r.opts.Spool != nil && n >= p.r.opts.SpoolFrom {
		w, err := p.r.opts.Spool(n, binary)
		if err != nil {
			p.failCodef(CodeUnavailable, "the server cannot take a message of %d bytes now; try again later", n)
			perr := p.err.(*ParseError)
			perr.No, perr.Name = true, p.cmdName
			p.noResync = !nonsync
			return nil, false, nil, 0
		}
		spool = w
		p.spools = append(p.spools, w)
	} else if b := p.r.opts.Budget; b != nil {
		if !b.Reserve(n) {
			p.failCodef(CodeUnavailable, "the server is short of memory for literals; try again later")
			perr := p.err.(*ParseError)
			perr.No, perr.Name = true, p.cmdName
			p.noResync = !nonsync
			return nil, false, nil, 0
		}
		p.reserved += n
	}
	if !nonsync && p.r.opts.Continue != nil {
		if err := p.r.opts.Continue("Ready"); err != nil {
			p.err = err
			return nil, false, nil, 0
		}
	}
	var spoolErr error
	if spool != nil {
		// Straight from the connection's buffer to the spool: memory
		// does not grow with the literal. A spool that fails (a full
		// disk) still gets the literal read, so that the session stays
		// in step and answers NO.
		w := &stickyWriter{w: spool}
		if _, err := io.CopyN(w, p.r.br, n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			p.err = err
			return nil, false, nil, 0
		}
		spoolErr = w.err
	} else {
		data, err := p.r.readN(n)
		if err != nil {
			p.err = err
			return nil, false, nil, 0
		}
		litData = data
	}
	p.total += n
	line, err := p.r.readLine()
	if err != nil {
		if perr, ok := err.(*ParseError); ok {
			perr.Tag = p.tag
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		p.err = err
		return nil, false, nil, 0
	}
	p.line, p.pos = line, 0
	p.total += int64(len(line)) + 2
	if p.total > p.r.opts.MaxCommand {
		p.failCodef(CodeTooBig, "command too long")
		return nil, false, nil, 0
	}
	if kind == litString && bytes.IndexByte(litData, 0) >= 0 {
		p.failf("NUL in literal") // CHAR8 excludes NUL, RFC 9051 section 9
		return nil, false, nil, 0
	}
	if spoolErr != nil {
		p.failCodef(CodeUnavailable, "the server could not keep the message now; try again later")
		perr := p.err.(*ParseError)
		perr.No, perr.Name = true, p.cmdName
		return nil, false, nil, 0
	}
	if spool == nil {
		return litData, binary, nil, 0
	}
	return nil, binary, spool, n
}

// stickyWriter passes writes on until one fails, then takes the rest
// without writing it and keeps the first error.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(b []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
	return len(b), nil
}

// str reads a string: quoted or literal.
func (p *parser) str(what string) string {
	switch p.peek() {
	case '"':
		return p.quoted()
	case '{':
		data, _ := p.literal(litString)
		return string(data)
	}
	p.failf("expected %s, found %s", what, p.describe())
	return ""
}

func (p *parser) astring(what string) string {
	switch p.peek() {
	case '"', '{':
		return p.str(what)
	}
	b := p.spanText(isAStringChar)
	if len(b) == 0 {
		p.failf("expected %s, found %s", what, p.describe())
		return ""
	}
	return string(b)
}

// nstring reads a string or NIL.
func (p *parser) nstring(what string) (s string, isNil bool) {
	if p.takeKeyword("NIL") {
		return "", true
	}
	return p.str(what), false
}

// mailbox reads a mailbox name: decoded from modified UTF-7 unless UTF-8 is
// on, and INBOX in any case made "INBOX" (RFC 9051 section 5.1).
func (p *parser) mailbox() string {
	return store.CanonicalMailbox(p.mailboxName(p.astring("mailbox name")))
}

func (p *parser) mailboxName(s string) string {
	if p.err != nil {
		return ""
	}
	if p.r != nil && p.r.utf8 {
		if !utf8.ValidString(s) {
			p.badName("mailbox name is not valid UTF-8")
			return s
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				p.badName("control character in mailbox name")
				return s
			}
		}
		return s
	}
	d, err := DecodeMailbox(s)
	if err != nil {
		p.badName("mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)")
		return s
	}
	return d
}

// badName records a mailbox name that is a valid astring but no valid
// name: the command is still read to its end, then refused with NO.
func (p *parser) badName(msg string) {
	if p.nameErr == "" {
		p.nameErr = msg
	}
}

// listMailbox reads a LIST pattern (RFC 9051 list-mailbox).
func (p *parser) listMailbox() string {
	switch p.peek() {
	case '"', '{':
		return p.mailboxName(p.str("mailbox pattern"))
	}
	b := p.spanText(isListChar)
	if len(b) == 0 {
		p.failf("expected mailbox pattern, found %s", p.describe())
		return ""
	}
	return p.mailboxName(string(b))
}

// flag reads a flag: a keyword atom or "\" atom, system flags in their
// canonical case so sessions can compare them directly.
func (p *parser) flag() string {
	if p.take('\\') {
		return canonicalFlag(p.atom("flag"))
	}
	return p.atom("flag")
}

func canonicalFlag(name string) string {
	for _, f := range [...]string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\Recent`} {
		if strings.EqualFold(name, f[1:]) {
			return f
		}
	}
	return `\` + name
}

// listItems reads the items of a parenthesised list whose "(" is
// already read: item, once per item, reads one; listItems reads the SP
// between items and the closing ")", and returns how many items there were.
func (p *parser) listItems(item func()) int {
	n := 0
	for ; p.err == nil && !p.take(')'); n++ {
		if n > 0 {
			p.sp()
		}
		item()
	}
	return n
}

// flagList reads "(" [flag *(SP flag)] ")".
func (p *parser) flagList() []string {
	p.expect('(', "'(' to start flag list")
	flags := []string{}
	p.listItems(func() {
		flags = append(flags, p.flag())
	})
	return flags
}

// numSet reads a sequence-set, or "$" (RFC 5182) when allowDollar.
func (p *parser) numSet(allowDollar bool) NumSet {
	if p.take('$') {
		if !allowDollar {
			p.failf("$ is not allowed here")
		}
		return NumSet{Dollar: true}
	}
	var set NumSet
	for p.err == nil {
		first := p.seqNumber()
		last := first
		if p.take(':') {
			last = p.seqNumber()
		}
		set.Ranges = append(set.Ranges, NumRange{first, last})
		if !p.take(',') {
			break
		}
	}
	if p.err != nil {
		return NumSet{}
	}
	return set
}

func (p *parser) seqNumber() uint32 {
	if p.take('*') {
		return Star
	}
	if !isDigit(p.peek()) {
		p.failf("invalid sequence set: expected number or '*', found %s", p.describe())
		return 0
	}
	n := p.number32("sequence number")
	if n == 0 && p.err == nil {
		p.failf("invalid sequence set: 0 is not a message number or UID")
	}
	return n
}

// monthNames holds the date-month names, three letters each.
const monthNames = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"

// dateParts reads date-day "-" date-month "-" date-year.
func (p *parser) dateParts(fixedDay bool) (y int, m time.Month, d int) {
	if fixedDay {
		p.take(' ') // date-day-fixed: SP DIGIT
	}
	day := p.span(isDigit)
	if len(day) == 0 || len(day) > 2 {
		p.failf("invalid date")
		return
	}
	d = int(day[0] - '0')
	if len(day) == 2 {
		d = d*10 + int(day[1]-'0')
	}
	p.expect('-', "'-' in date")
	if p.err != nil || p.pos+3 > len(p.line) {
		p.failf("invalid date")
		return
	}
	mon := strings.ToUpper(string(p.line[p.pos : p.pos+3]))
	p.pos += 3
	if i := strings.Index(monthNames, mon); i >= 0 && i%3 == 0 {
		m = time.Month(i/3 + 1)
	}
	if m == 0 {
		p.failf("invalid month in date")
		return
	}
	p.expect('-', "'-' in date")
	year := p.span(isDigit)
	if len(year) != 4 {
		p.failf("invalid year in date")
		return
	}
	for _, c := range year {
		y = y*10 + int(c-'0')
	}
	if d < 1 || d > daysIn(m, y) {
		p.failf("invalid day in date")
	}
	return
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// date reads a SEARCH date, optionally quoted (RFC 9051 date). It is a
// calendar day; the session picks the time zone (RFC 9051 section 6.4.4
// says to disregard time and timezone).
func (p *parser) date() time.Time {
	q := p.take('"')
	y, m, d := p.dateParts(false)
	if q {
		p.expect('"', "closing quote of date")
	}
	if p.err != nil {
		return time.Time{}
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateTime reads an APPEND date-time: "dd-Mon-yyyy hh:mm:ss +zzzz".
func (p *parser) dateTime() time.Time {
	p.expect('"', "date-time")
	y, mo, d := p.dateParts(true)
	p.sp()
	two := func(max int) int {
		b := p.span(isDigit)
		if len(b) != 2 {
			p.failf("invalid time in date-time")
			return 0
		}
		v := int(b[0]-'0')*10 + int(b[1]-'0')
		if v > max {
			p.failf("invalid time in date-time")
		}
		return v
	}
	hh := two(23)
	p.expect(':', "':' in time")
	mm := two(59)
	p.expect(':', "':' in time")
	ss := two(60)
	p.sp()
	sign := 1
	if p.take('-') {
		sign = -1
	} else {
		p.expect('+', "time zone")
	}
	zone := p.span(isDigit)
	p.expect('"', "closing quote of date-time")
	if p.err != nil {
		return time.Time{}
	}
	if len(zone) != 4 || zone[2] > '5' {
		p.failf("invalid time zone in date-time")
		return time.Time{}
	}
	off := (int(zone[0]-'0')*10+int(zone[1]-'0'))*3600 + (int(zone[2]-'0')*10+int(zone[3]-'0'))*60
	return time.Date(y, mo, d, hh, mm, ss, 0, time.FixedZone("", sign*off))
}

// command parses the whole command (RFC 9051 section 9, command): the tag,
// the name, and the arguments with the parser Options.Commands gives.
func (pp *Parser) command() *Command {
	p := &pp.parser
	tag := p.span(isTagChar)
	if len(tag) == 0 {
		p.failf("invalid tag")
		return nil
	}
	if p.peek() != ' ' {
		if p.atEnd() {
			p.tag = string(tag)
			p.failf("missing command")
		} else {
			p.failf("invalid tag")
		}
		return nil
	}
	p.tag = string(tag)
	p.pos++
	cmd := &Command{Tag: p.tag}
	cmd.Name = p.keyword("command name")
	if p.err != nil {
		return nil
	}
	if cmd.Name == "UID" {
		cmd.UID = true
		p.sp()
		cmd.Name = p.keyword("command after UID")
		if p.err != nil {
			return nil
		}
	}
	parse, err := p.r.opts.Commands(cmd.Name, cmd.UID)
	switch {
	case err != nil:
		p.failf("%s", err.Error())
		return nil
	case parse == nil && cmd.UID:
		p.failf("UID %s is not a command", cmd.Name)
		return nil
	case parse == nil:
		p.failf("unknown command")
		return nil
	}
	p.name, p.cmdName = cmd.Name, cmd.Name
	if cmd.UID {
		p.name = "UID " + cmd.Name
	}
	cmd.Args = parse(pp, cmd.UID)
	if p.err == nil && p.pos != len(p.line) {
		p.failf("unexpected %s after arguments", p.describe())
	}
	if p.err != nil {
		return nil
	}
	return cmd
}

// ParseFunc reads the arguments of one command, from just after its name
// to the end of the command (literals included), and returns them; uid is
// set for the UID form. Errors are recorded in p and returned by
// Reader.ReadCommand. The Parse functions below are the ones for the
// commands this package knows.
type ParseFunc func(p *Parser, uid bool) Args

// Parser is the state of reading one command, handed to a ParseFunc. Its
// methods are this package's own: a new command's syntax is added here,
// beside its argument type.
type Parser struct {
	parser
}

// StandardCommands is the default of Options.Commands: every command this
// package parses, with the parser the IMAP server's table also names.
// Tools and tests use it; the server passes its own table.
func StandardCommands(name string, uid bool) (ParseFunc, error) {
	if uid {
		switch name {
		case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD":
		default:
			return nil, nil
		}
	}
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "NAMESPACE", "IDLE", "CHECK", "CLOSE", "UNSELECT":
		return ParseNone, nil
	case "EXPUNGE":
		return ParseExpunge, nil
	case "AUTHENTICATE":
		return ParseAuthenticate, nil
	case "LOGIN":
		return ParseLogin, nil
	case "ENABLE":
		return ParseEnable, nil
	case "SELECT", "EXAMINE":
		return ParseSelect, nil
	case "CREATE":
		return ParseCreate, nil
	case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE":
		return ParseMailbox, nil
	case "RENAME":
		return ParseRename, nil
	case "LIST":
		return ParseList, nil
	case "LSUB":
		return ParseLSub, nil
	case "STATUS":
		return ParseStatus, nil
	case "APPEND":
		return ParseAppend, nil
	case "SEARCH":
		return ParseSearch, nil
	case "FETCH":
		return ParseFetch, nil
	case "STORE":
		return ParseStore, nil
	case "COPY", "MOVE":
		return ParseCopy, nil
	case "COMPRESS":
		return ParseCompress, nil
	case "ID":
		return ParseID, nil
	case "SORT":
		return ParseSort, nil
	case "THREAD":
		return ParseThread, nil
	case "GETQUOTA":
		return ParseGetQuota, nil
	case "GETQUOTAROOT":
		return ParseGetQuotaRoot, nil
	case "CANCELUPDATE":
		return ParseCancelUpdate, nil
	}
	return nil, nil
}

// ParseNone reads no arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS,
// NAMESPACE, IDLE, CHECK, CLOSE, UNSELECT.
func ParseNone(*Parser, bool) Args { return nil }

// ParseExpunge reads nothing for EXPUNGE, the UID set of UID EXPUNGE
// (RFC 4315 section 2.1).
func ParseExpunge(p *Parser, uid bool) Args {
	if !uid {
		return nil
	}
	p.sp()
	return &Expunge{UIDs: p.numSet(true)}
}

// ParseAuthenticate reads AUTHENTICATE's arguments into *Authenticate.
func ParseAuthenticate(p *Parser, _ bool) Args { return p.authenticate() }

// ParseLogin reads LOGIN userid password into *Login.
func ParseLogin(p *Parser, _ bool) Args {
	a := &Login{}
	p.sp()
	a.Username = p.astring("user name")
	p.sp()
	a.Password = p.astring("password")
	return a
}

// ParseEnable reads ENABLE capability... into *Enable.
func ParseEnable(p *Parser, _ bool) Args {
	a := &Enable{}
	for p.err == nil && !p.atEnd() {
		p.sp()
		a.Capabilities = append(a.Capabilities, p.keyword("capability"))
	}
	if len(a.Capabilities) == 0 {
		p.failf("missing capability")
	}
	return a
}

// ParseSelect reads SELECT's and EXAMINE's arguments into *Select.
func ParseSelect(p *Parser, _ bool) Args { return p.selectArgs() }

// ParseCreate reads CREATE's arguments into *Create.
func ParseCreate(p *Parser, _ bool) Args { return p.create() }

// ParseMailbox reads one mailbox name into *MailboxArgs: DELETE,
// SUBSCRIBE, UNSUBSCRIBE.
func ParseMailbox(p *Parser, _ bool) Args {
	p.sp()
	return &MailboxArgs{Mailbox: p.mailbox()}
}

// ParseRename reads RENAME existing new into *Rename.
func ParseRename(p *Parser, _ bool) Args {
	a := &Rename{}
	p.sp()
	a.From = p.mailbox()
	p.sp()
	a.To = p.mailbox()
	return a
}

// ParseList reads LIST's arguments (RFC 5258) into *List.
func ParseList(p *Parser, _ bool) Args { return p.list() }

// ParseLSub reads LSUB reference pattern into *List.
func ParseLSub(p *Parser, _ bool) Args {
	a := &List{}
	p.sp()
	a.Reference = p.mailboxName(p.astring("reference name"))
	p.sp()
	a.Patterns = []string{p.listMailbox()}
	return a
}

// ParseStatus reads STATUS mailbox (items) into *Status.
func ParseStatus(p *Parser, _ bool) Args {
	a := &Status{}
	p.sp()
	a.Mailbox = p.mailbox()
	p.sp()
	a.Items = p.statusItems()
	return a
}

// ParseAppend reads APPEND's arguments into *Append.
func ParseAppend(p *Parser, _ bool) Args { return p.appendArgs() }

// ParseSearch reads SEARCH's arguments into *Search.
func ParseSearch(p *Parser, _ bool) Args { return p.search() }

// ParseFetch reads FETCH's arguments into *Fetch.
func ParseFetch(p *Parser, uid bool) Args { return p.fetch(uid) }

// ParseStore reads STORE's arguments into *Store.
func ParseStore(p *Parser, _ bool) Args { return p.store() }

// ParseCopy reads sequence-set mailbox into *Copy: COPY and MOVE.
func ParseCopy(p *Parser, _ bool) Args {
	a := &Copy{}
	p.sp()
	a.Set = p.numSet(true)
	p.sp()
	a.Mailbox = p.mailbox()
	return a
}

// ParseCompress reads COMPRESS mechanism into *Compress.
func ParseCompress(p *Parser, _ bool) Args {
	p.sp()
	return &Compress{Mechanism: p.keyword("compression mechanism")}
}

// ParseID reads ID's arguments into *ID.
func ParseID(p *Parser, _ bool) Args { return p.id() }

// authenticate parses AUTHENTICATE mechanism [SP initial-response] (RFC
// 9051 section 6.2.2, RFC 4959 section 3).
func (p *parser) authenticate() Args {
	a := &Authenticate{}
	p.sp()
	a.Mechanism = p.keyword("SASL mechanism")
	if p.take(' ') {
		ir := p.span(func(c byte) bool { return c != ' ' })
		if len(ir) == 0 {
			p.failf("empty initial response")
			return a
		}
		if string(ir) == "=" {
			a.InitialResponse = []byte{}
		} else {
			dec, err := base64.StdEncoding.Strict().DecodeString(string(ir))
			if err != nil {
				p.failf("invalid base64 in initial response")
				return a
			}
			a.InitialResponse = dec
		}
	}
	return a
}

// selectArgs parses mailbox [SP "(" select-param *(SP select-param) ")"]
// with the CONDSTORE and QRESYNC parameters of RFC 7162 sections 3.1.8 and
// 3.2.5.
func (p *parser) selectArgs() Args {
	a := &Select{}
	p.sp()
	a.Mailbox = p.mailbox()
	if !p.take(' ') {
		return a
	}
	p.expect('(', "'(' to start select parameters")
	p.listItems(func() {
		switch param := p.keyword("select parameter"); param {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			if a.QResync != nil {
				p.failf("QRESYNC given twice")
				break
			}
			a.QResync = p.qresync()
		case "":
		default:
			p.failf("unknown select parameter %s", param)
		}
	})
	return a
}

func (p *parser) qresync() *QResync {
	q := &QResync{}
	p.sp()
	p.expect('(', "'(' to start QRESYNC parameters")
	q.UIDValidity = p.nzNumber32("UIDVALIDITY")
	p.sp()
	q.ModSeq = p.modSeq(false)
	if !p.spThen('(') && p.take(' ') {
		q.KnownUIDs = p.knownSet()
		p.spThen('(')
	}
	if p.take('(') {
		q.KnownSeqs = p.knownSet()
		p.sp()
		q.KnownSeqUIDs = p.knownSet()
		p.expect(')', "')' after sequence match data")
	}
	p.expect(')', "')' to end QRESYNC parameters")
	return q
}

// knownSet reads a sequence set in which "*" is not allowed (RFC 7162
// section 7, known-uids and seq-match-data).
func (p *parser) knownSet() NumSet {
	s := p.numSet(false)
	if s.HasStar() {
		p.failf("'*' is not allowed in QRESYNC sets")
	}
	return s
}

// create parses mailbox [SP "(" "USE" SP "(" use-attrs ")" ")"] (RFC 6154
// section 3).
func (p *parser) create() Args {
	a := &Create{}
	p.sp()
	a.Mailbox = p.mailbox()
	if !p.take(' ') {
		return a
	}
	p.expect('(', "'(' to start create parameters")
	p.expectKeyword("USE")
	p.sp()
	p.expect('(', "'(' to start special-use list")
	a.SpecialUse = []string{}
	p.listItems(func() {
		p.expect('\\', "special-use attribute")
		a.SpecialUse = append(a.SpecialUse, canonicalUse(p.atom("special-use attribute")))
	})
	p.expect(')', "')' to end create parameters")
	return a
}

func canonicalUse(name string) string {
	for _, u := range [...]string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`} {
		if strings.EqualFold(name, u[1:]) {
			return u
		}
	}
	return `\` + name
}

// list parses LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP
// list-return-opts] (RFC 5258 section 6).
func (p *parser) list() Args {
	a := &List{}
	p.sp()
	if p.take('(') {
		a.Extended = true
		base := false
		p.listItems(func() {
			switch opt := p.keyword("selection option"); opt {
			case "SUBSCRIBED":
				a.Select.Subscribed, base = true, true
			case "SPECIAL-USE": // RFC 6154 section 5.2
				a.Select.SpecialUse, base = true, true
			case "REMOTE":
				a.Select.Remote = true
			case "RECURSIVEMATCH":
				a.Select.RecursiveMatch = true
			case "":
			default:
				// RFC 5258 section 3.1: unknown selection options
				// must be rejected.
				p.failf("unknown selection option %s", opt)
			}
		})
		if a.Select.RecursiveMatch && !base && p.err == nil {
			p.failf("RECURSIVEMATCH needs another selection option")
		}
		p.sp()
	}
	a.Reference = p.mailboxName(p.astring("reference name"))
	p.sp()
	if p.take('(') {
		a.Extended = true
		p.listItems(func() {
			a.Patterns = append(a.Patterns, p.listMailbox())
		})
		if len(a.Patterns) == 0 {
			p.failf("empty pattern list")
		}
	} else {
		a.Patterns = []string{p.listMailbox()}
	}
	if !p.take(' ') {
		return a
	}
	a.Extended = true
	p.expectKeyword("RETURN")
	p.sp()
	p.expect('(', "'(' to start return options")
	p.listItems(func() {
		switch opt := p.keyword("return option"); opt {
		case "SUBSCRIBED":
			a.Return.Subscribed = true
		case "CHILDREN":
			a.Return.Children = true
		case "SPECIAL-USE":
			a.Return.SpecialUse = true
		case "STATUS": // RFC 5819 section 2
			p.sp()
			a.Return.Status = p.statusItems()
		case "":
		default:
			p.failf("unknown return option %s", opt)
		}
	})
	return a
}

// statusItems reads "(" status-att *(SP status-att) ")".
func (p *parser) statusItems() []StatusItem {
	p.expect('(', "'(' to start status items")
	items := []StatusItem{}
	p.listItems(func() {
		name := p.keyword("status item")
		it, ok := statusItem(name)
		if !ok && p.err == nil {
			p.failf("unknown status item %s", name)
		}
		items = append(items, it)
	})
	if len(items) == 0 {
		p.failf("empty status item list")
	}
	return items
}

// appendArgs parses APPEND mailbox [SP flag-list] [SP date-time] SP
// (literal / literal8 / "UTF8" SP "(" literal8 ")"), repeated for
// MULTIAPPEND (RFC 3502 section 6; the UTF8 form is RFC 6855 section 4).
// The CATENATE form is not accepted.
func (p *parser) appendArgs() Args {
	a := &Append{}
	p.sp()
	a.Mailbox = p.mailbox()
	for p.err == nil {
		if len(a.Messages) > 0 {
			if p.atEnd() {
				break
			}
			if !p.r.opts.MultiAppend {
				p.failf("only one message per APPEND (no MULTIAPPEND)")
				break
			}
		}
		var m AppendMessage
		p.sp()
		if p.peek() == '(' {
			m.Flags = p.flagList()
			p.sp()
		}
		if p.peek() == '"' {
			m.Date = p.dateTime()
			p.sp()
		}
		switch p.peek() {
		case '{', '~':
			m.Data, m.Binary, m.Spooled, m.Size = p.literalOrSpool(litAppend)
		case 'U', 'u':
			if kw := p.keyword("APPEND data"); kw != "UTF8" {
				if p.err == nil {
					p.failf("expected message literal or UTF8, found %s", kw)
				}
				break
			}
			p.sp()
			p.expect('(', "'(' after UTF8")
			if p.err == nil && p.peek() != '~' {
				p.failf("UTF8 data must be a literal8 (~{n})")
			}
			m.Data, m.Binary, m.Spooled, m.Size = p.literalOrSpool(litAppend)
			m.UTF8 = true
			p.expect(')', "')' after UTF8 literal")
		default:
			if p.err == nil {
				p.failf("expected message literal, found %s", p.describe())
			}
		}
		a.Messages = append(a.Messages, m)
	}
	return a
}

// store parses STORE sequence-set [store-modifiers] SP store-att-flags (RFC
// 9051 section 6.4.6, RFC 7162 section 3.1.3).
func (p *parser) store() Args {
	a := &Store{}
	p.sp()
	a.Set = p.numSet(true)
	p.sp()
	if p.take('(') {
		p.listItems(func() {
			switch mod := p.keyword("store modifier"); mod {
			case "UNCHANGEDSINCE":
				p.sp()
				a.UnchangedSince = p.modSeq(true)
				a.HasUnchangedSince = true
			case "":
			default:
				p.failf("unknown store modifier %s", mod)
			}
		})
		p.sp()
	}
	switch {
	case p.take('+'):
		a.Op = StoreAdd
	case p.take('-'):
		a.Op = StoreRemove
	}
	switch item := p.keyword("FLAGS"); item {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	case "":
	default:
		p.failf("expected FLAGS or FLAGS.SILENT, found %s", item)
	}
	p.sp()
	if p.peek() == '(' {
		a.Flags = p.flagList()
	} else {
		a.Flags = []string{p.flag()}
		for p.err == nil && p.take(' ') {
			a.Flags = append(a.Flags, p.flag())
		}
	}
	return a
}

// id parses ID ("(" [string SP nstring *(SP string SP nstring)] ")" / NIL)
// (RFC 2971 section 4).
func (p *parser) id() Args {
	a := &ID{}
	p.sp()
	if p.takeKeyword("NIL") {
		return a
	}
	p.expect('(', "'(' or NIL")
	a.Params = []IDParam{}
	p.listItems(func() {
		var f IDParam
		f.Name = p.str("ID field name")
		p.sp()
		f.Value, f.ValueNil = p.nstring("ID field value")
		a.Params = append(a.Params, f)
	})
	return a
}
