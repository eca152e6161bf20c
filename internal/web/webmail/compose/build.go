// Package compose builds the messages the webmail sends and saves as
// drafts: a new message with attachments, a reply, a reply to all, a
// forward inline or as an attached message. It is pure: it reads an
// original message's stored bytes and pre-parsed structure
// (message.Info) and writes RFC 5322 / MIME bytes, and knows nothing of
// HTTP or the store.
package compose

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Address is one mailbox: an optional display name and the address.
type Address struct {
	Name string
	Addr string
}

// String is the address as written in a form field: `Name <a@b>` or `a@b`.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	if strings.IndexFunc(a.Name, needsQuote) < 0 {
		return a.Name + " <" + a.Addr + ">"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a.Name) + `" <` + a.Addr + ">"
}

// needsQuote tells whether a display name character is a special of RFC
// 5322 3.2.3 (or a control), so that the name must be quoted; other
// characters, UTF-8 included (RFC 6532), go as they are.
func needsQuote(r rune) bool {
	return r < 0x20 || r == 0x7f || strings.ContainsRune(`()<>[]:;@\,."`, r)
}

// Attachment is a file of a message. Exactly one of Data, Body and
// Entity holds it.
type Attachment struct {
	Filename    string
	ContentType string // as "application/pdf"; guessed from the name when empty
	// Data is the file, held in memory: a small one.
	Data []byte
	// Body, when not nil, is read instead of Data: Size bytes of the
	// file, read once while the message is written (an upload waiting
	// in a spool file), so that a large file is never whole in memory.
	Body io.Reader
	// Encoded, when not nil, is the file's body already in the
	// transfer encoding Encoding (RFC 2045 6), copied as it is and never
	// decoded: how a draft's next version keeps the files of the
	// previous one, read from its stored body.
	Encoded  io.Reader
	Encoding string
	// Size is the file's decoded size when Data is nil, for limits and
	// for people.
	Size int64
}

// Len is the file's decoded size.
func (a Attachment) Len() int64 {
	if a.Body == nil && a.Encoded == nil {
		return int64(len(a.Data))
	}
	return a.Size
}

// Draft is a message as the compose page holds it.
type Draft struct {
	From        Address // the signed-in address: the identity
	To, Cc, Bcc []Address
	Subject     string
	Text        string // the plain-text body, any line endings
	// InReplyTo and References are message ids without angle brackets
	// (RFC 5322 3.6.4), set by Reply.
	InReplyTo  string
	References []string
	// Attachments are attached files, in order.
	Attachments []Attachment
	// Forwarded, when not empty, is a whole message attached as
	// message/rfc822 (RFC 2046 5.2.1): a forward as attachment.
	Forwarded []byte
	// ForwardedName names that attachment (its subject, say).
	ForwardedName string
}

// Recipients is every envelope recipient of d: To, Cc and Bcc, each
// address once, in that order.
func (d *Draft) Recipients() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]Address{d.To, d.Cc, d.Bcc} {
		for _, a := range list {
			k := strings.ToLower(a.Addr)
			if !seen[k] {
				seen[k] = true
				out = append(out, a.Addr)
			}
		}
	}
	return out
}

// ErrNoFrom reports a draft without the sender's address.
var ErrNoFrom = errors.New("compose: no From address")

// maxReferences bounds the References field of a reply: RFC 5322 3.6.4
// lets a long thread's list be trimmed, and the first id (the thread's
// root) and the latest ones are those threading needs (RFC 5256).
const maxReferences = 20

// Build writes d as a message dated date with Message-ID messageID
// (without angle brackets), in memory. The Bcc field is kept: the Sent
// copy keeps it and submission removes it from what is sent (RFC 5322
// 3.6.3).
func Build(d Draft, date time.Time, messageID string) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, d, date, messageID); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes d to w as Build does, streaming: each attachment's Body
// or Entity is copied through a small buffer, so that memory does not
// grow with the files (DESIGN.md, bounded resources). A message with
// attachments is multipart/mixed (RFC 2046 5.1.3): its text first, then
// the files in order.
func Write(w io.Writer, d Draft, date time.Time, messageID string) error {
	if d.From.Addr == "" {
		return ErrNoFrom
	}
	var h gomail.Header
	h.SetDate(date)
	h.SetMessageID(messageID)
	h.SetAddressList("From", toMail([]Address{d.From}))
	h.SetAddressList("To", toMail(d.To))
	h.SetAddressList("Cc", toMail(d.Cc))
	h.SetAddressList("Bcc", toMail(d.Bcc))
	h.SetSubject(d.Subject)
	if d.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{d.InReplyTo})
	}
	h.SetMsgIDList("References", trimReferences(d.References))
	h.Set("MIME-Version", "1.0")

	text := normalizeText(d.Text)
	var th message.Header
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", textEncoding(text))
	if len(d.Attachments) == 0 && len(d.Forwarded) == 0 {
		for _, k := range []string{"Content-Type", "Content-Transfer-Encoding"} {
			h.Set(k, th.Get(k))
		}
		if err := textproto.WriteHeader(w, h.Header.Header); err != nil {
			return fmt.Errorf("write message header: %w", err)
		}
		return writeBody(w, th.Get("Content-Transfer-Encoding"), strings.NewReader(text), -1, "message text")
	}

	boundary := newBoundary()
	h.SetContentType("multipart/mixed", map[string]string{"boundary": boundary})
	if err := textproto.WriteHeader(w, h.Header.Header); err != nil {
		return fmt.Errorf("write message header: %w", err)
	}
	// RFC 2046 5.1.1: the CRLF before a delimiter belongs to it.
	delim := "\r\n--" + boundary + "\r\n"
	if _, err := io.WriteString(w, delim[2:]); err != nil {
		return fmt.Errorf("write message text: %w", err)
	}
	if err := textproto.WriteHeader(w, th.Header); err != nil {
		return fmt.Errorf("write message text: %w", err)
	}
	if err := writeBody(w, th.Get("Content-Transfer-Encoding"), strings.NewReader(text), -1, "message text"); err != nil {
		return err
	}
	for _, a := range d.Attachments {
		if _, err := io.WriteString(w, delim); err != nil {
			return fmt.Errorf("write attachment %q: %w", a.Filename, err)
		}
		if err := writeAttachment(w, a); err != nil {
			return err
		}
	}
	if len(d.Forwarded) > 0 {
		if _, err := io.WriteString(w, delim); err != nil {
			return fmt.Errorf("attach forwarded message: %w", err)
		}
		if err := writeForwarded(w, d.Forwarded, d.ForwardedName); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\r\n--"+boundary+"--\r\n"); err != nil {
		return fmt.Errorf("finish message: %w", err)
	}
	return nil
}

// newBoundary is a random multipart boundary: 120 random bits, so that
// no text or kept entity contains it (RFC 2046 5.1.1).
func newBoundary() string {
	var b [15]byte
	rand.Read(b[:])
	return "xm-" + hex.EncodeToString(b[:])
}

// writeBody writes a part's body in the transfer encoding enc: base64
// in lines of 76 (RFC 2045 6.8), quoted-printable (6.7), or as it is.
// With n >= 0, exactly n bytes of r are written, and fewer is an error.
func writeBody(w io.Writer, enc string, r io.Reader, n int64, what string) error {
	var wc io.WriteCloser
	switch strings.ToLower(enc) {
	case "base64":
		wc = base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: w, max: 76})
	case "quoted-printable":
		wc = quotedprintable.NewWriter(w)
	default:
		wc = nopCloser{w}
	}
	var err error
	if n >= 0 {
		var got int64
		got, err = io.CopyN(wc, r, n)
		if err == io.EOF {
			err = fmt.Errorf("%d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
		}
	} else {
		_, err = io.Copy(wc, r)
	}
	if err == nil {
		err = wc.Close()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if strings.EqualFold(enc, "base64") {
		// The last line ends like the others.
		if _, err := io.WriteString(w, "\r\n"); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// lineWrapper breaks base64 output into lines of max characters.
type lineWrapper struct {
	w   io.Writer
	max int
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if l.col == l.max {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
		k := min(len(p), l.max-l.col)
		m, err := l.w.Write(p[:k])
		n += m
		l.col += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func writeAttachment(w io.Writer, a Attachment) error {
	ct := a.ContentType
	if ct == "" {
		ct = TypeByName(a.Filename)
	}
	typ, params, err := mime.ParseMediaType(ct)
	if err != nil {
		typ, params = "application/octet-stream", map[string]string{}
	}
	name := cleanFilename(a.Filename)
	if a.Encoded != nil {
		// Kept as it was written, byte for byte, under a header of its
		// own (the stored one may be a whole message's header).
		enc := strings.ToLower(a.Encoding)
		if enc == "" {
			enc = "7bit"
		}
		var ah gomail.AttachmentHeader
		if !strings.HasPrefix(typ, "message/") {
			params["name"] = name
		}
		ah.SetContentType(typ, params)
		ah.SetFilename(name)
		ah.Set("Content-Transfer-Encoding", enc)
		if err := textproto.WriteHeader(w, ah.Header.Header); err != nil {
			return fmt.Errorf("write attachment %q: %w", name, err)
		}
		if _, err := io.Copy(w, a.Encoded); err != nil {
			return fmt.Errorf("copy attachment %q: %w", name, err)
		}
		return nil
	}
	if typ == "message/rfc822" {
		if a.Body == nil {
			// An attached message (kept from a draft, or a forwarded one
			// forwarded again) may not be base64 (RFC 2046 5.2.1).
			return writeForwarded(w, a.Data, strings.TrimSuffix(a.Filename, ".eml"))
		}
		// A streamed one cannot be checked for 8-bit safety before it is
		// written: it goes as a file, as writeForwarded does for a
		// message with over-long lines.
		typ, params = "application/octet-stream", map[string]string{}
	}
	// The name parameter of Content-Type is for clients older than
	// Content-Disposition (RFC 2183); both are RFC 2231-encoded by
	// mime.FormatMediaType when not ASCII.
	params["name"] = name
	var ah gomail.AttachmentHeader
	ah.SetContentType(typ, params)
	ah.SetFilename(name)
	ah.Set("Content-Transfer-Encoding", "base64")
	if err := textproto.WriteHeader(w, ah.Header.Header); err != nil {
		return fmt.Errorf("write attachment %q: %w", name, err)
	}
	if a.Body != nil {
		return writeBody(w, "base64", a.Body, a.Size, fmt.Sprintf("attachment %q", name))
	}
	return writeBody(w, "base64", bytes.NewReader(a.Data), int64(len(a.Data)), fmt.Sprintf("attachment %q", name))
}

// writeForwarded attaches a whole message. RFC 2046 5.2.1 allows only
// 7bit, 8bit or binary for message/rfc822, so its bytes go as they are;
// a message with a line over 998 bytes or a NUL cannot go as 8bit (RFC
// 5322 2.1.1, 2.3) and is attached as a base64 application/octet-stream
// file instead, which every client can still open.
func writeForwarded(w io.Writer, raw []byte, name string) error {
	var ah gomail.AttachmentHeader
	fn := cleanFilename(name)
	if fn == "" || fn == "attachment" {
		fn = "message"
	}
	fn += ".eml"
	enc := "base64"
	if (Shape{LongestLine: int64(longestLine(raw)), NUL: bytes.IndexByte(raw, 0) >= 0}).asFile() {
		ah.SetContentType("application/octet-stream", map[string]string{"name": fn})
	} else {
		ah.SetContentType("message/rfc822", nil)
		enc = "7bit"
		if !isASCII(raw) {
			enc = "8bit"
		}
	}
	ah.SetFilename(fn)
	ah.Set("Content-Transfer-Encoding", enc)
	if err := textproto.WriteHeader(w, ah.Header.Header); err != nil {
		return fmt.Errorf("attach forwarded message: %w", err)
	}
	body := raw
	if enc != "base64" && !bytes.HasSuffix(body, []byte("\n")) {
		body = append(body[:len(body):len(body)], '\r', '\n')
	}
	return writeBody(w, enc, bytes.NewReader(body), int64(len(body)), "forwarded message")
}

func toMail(as []Address) []*gomail.Address {
	out := make([]*gomail.Address, 0, len(as))
	for _, a := range as {
		out = append(out, &gomail.Address{Name: a.Name, Address: a.Addr})
	}
	return out
}

// trimReferences keeps the first id and the last maxReferences-1.
func trimReferences(refs []string) []string {
	var clean []string
	for _, r := range refs {
		r = strings.Trim(strings.TrimSpace(r), "<>")
		if r != "" && !strings.ContainsAny(r, " \t\r\n<>") {
			clean = append(clean, r)
		}
	}
	if len(clean) <= maxReferences {
		return clean
	}
	return append([]string{clean[0]}, clean[len(clean)-(maxReferences-1):]...)
}

// normalizeText makes the body's line endings CRLF and removes trailing
// white space at the end of the text.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimRight(s, " \t\n")
	return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
}

// textEncoding is 7bit for short-lined ASCII text (readable as is in any
// client's "show original"), else quoted-printable (RFC 2045 6.7), which
// keeps 8-bit text and long lines safe over any relay.
func textEncoding(text string) string {
	if isASCII([]byte(text)) && longestLine([]byte(text)) <= 78 {
		return "7bit"
	}
	return "quoted-printable"
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == 0 {
			return false
		}
	}
	return true
}

func longestLine(b []byte) int {
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		if l := len(bytes.TrimRight(b[:i], "\r")); l > n {
			n = l
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return n
}

// TypeByName guesses a media type from a file name's extension, with a
// small table of its own so the answer does not depend on the machine's
// mime.types, and application/octet-stream when unknown.
func TypeByName(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := knownTypes[ext]; ok {
		return t
	}
	return "application/octet-stream"
}

var knownTypes = map[string]string{
	".txt": "text/plain", ".csv": "text/csv", ".html": "text/html", ".htm": "text/html",
	".pdf": "application/pdf", ".zip": "application/zip", ".json": "application/json",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".svg": "image/svg+xml", ".ics": "text/calendar", ".eml": "message/rfc822",
	".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
}

// NewMessageID returns a new globally unique message id (RFC 5322 3.6.4)
// in the domain of the sender's address, without angle brackets.
func NewMessageID(from string) string {
	var b [16]byte
	rand.Read(b[:])
	host := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		host = from[i+1:]
	}
	return hex.EncodeToString(b[:]) + "@" + host
}

// ParseAddressList reads what a user typed in a To, Cc or Bcc field:
// addresses with or without display names, separated by commas or
// semicolons. It fails on the first entry that is not an address, naming
// it.
func ParseAddressList(s string) ([]Address, error) {
	var out []Address
	for _, part := range splitList(s) {
		a, err := mail.ParseAddress(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an email address", part)
		}
		out = append(out, Address{Name: a.Name, Addr: a.Address})
	}
	return out, nil
}

// splitList splits on commas and semicolons outside quotes and angle
// brackets, dropping empty entries.
func splitList(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, angle := false, false
	flush := func() {
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s):
			cur.WriteByte(c)
			i++
			c = s[i]
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle = true
		case c == '>' && !quoted:
			angle = false
		case (c == ',' || c == ';') && !quoted && !angle:
			flush()
			continue
		}
		cur.WriteByte(c)
	}
	flush()
	return out
}

// FormatAddressList writes addresses as a form field value.
func FormatAddressList(as []Address) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
