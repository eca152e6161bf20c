package compose

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/message"
)

// Original is a stored message that is replied to or forwarded: its raw
// bytes and the structure parsed at ingest, which is read, never parsed
// again. A caller that streams the message instead of holding it leaves
// Raw nil and gives Text, its QuotedText, which is all that Reply and
// ForwardHead read of it.
type Original struct {
	Raw  []byte
	Info *message.Info
	Text string
}

// Reply returns the draft of a reply to o from self (the signed-in
// address). With all, it is a reply to all: the other recipients of o go
// to Cc.
//
// Recipients (RFC 5322 3.6.3): the reply goes to o's Reply-To, or its
// From when it has none (the stored envelope already gives From for an
// absent Reply-To, RFC 3501 7.4.2). A reply to a message the user sent
// goes to its recipients instead. Each address appears once, and the
// user's own address never, across To and Cc.
func Reply(o Original, self string, all bool) Draft {
	env := &o.Info.Envelope
	d := Draft{From: Address{Addr: self}}
	seen := map[string]bool{strings.ToLower(self): true}
	add := func(list *[]Address, as []message.Address) {
		for _, a := range as {
			if a.GroupStart || a.GroupEnd || a.Mailbox == "" || a.Host == "" {
				continue
			}
			addr := a.Mailbox + "@" + a.Host
			k := strings.ToLower(addr)
			if seen[k] {
				continue
			}
			seen[k] = true
			*list = append(*list, Address{Name: strings.TrimSpace(message.DecodeHeader(a.Name)), Addr: addr})
		}
	}
	fromSelf := false
	for _, a := range env.From {
		if strings.EqualFold(a.Mailbox+"@"+a.Host, self) {
			fromSelf = true
		}
	}
	if fromSelf {
		// Replying to one's own sent message continues to its recipients.
		add(&d.To, env.To)
		if all {
			add(&d.Cc, env.Cc)
		}
	} else {
		add(&d.To, env.ReplyTo)
		if all {
			add(&d.Cc, env.To)
			add(&d.Cc, env.Cc)
		}
	}
	d.Subject = replySubject(o.Info.Subject)
	// RFC 5322 3.6.4: In-Reply-To is the parent's Message-ID; References
	// the parent's References (or, lacking them, its In-Reply-To when it
	// names one message) followed by the parent's Message-ID.
	if o.Info.MessageID != "" {
		d.InReplyTo = o.Info.MessageID
		refs := o.Info.References
		if len(refs) == 0 {
			if ids := strings.Fields(strings.NewReplacer("<", " ", ">", " ").Replace(env.InReplyTo)); len(ids) == 1 {
				refs = ids
			}
		}
		d.References = append(append([]string(nil), refs...), o.Info.MessageID)
	}
	text, rest := cutQuoted(BodyText(o))
	d.Text = "\n\n" + attribution(o) + "\n" + quote(text)
	if rest > 0 {
		d.Text += fmt.Sprintf("> [The original goes on for %s more; it is not quoted here.]\n", ByteSize(int64(rest)))
	}
	return d
}

// maxQuoted bounds the original text a reply quotes or an inline forward
// carries. The draft is the page's text area, posted whole with every
// autosave: a reply to a 4 MB message made a 4.4 MB text that the page
// sent again on each keystroke's save.
const maxQuoted = 256 << 10

// cutQuoted returns text cut to maxQuoted at the end of a line (or of a
// character, for a line longer than that) and how many bytes it left out.
func cutQuoted(text string) (string, int) {
	if len(text) <= maxQuoted {
		return text, 0
	}
	cut := strings.LastIndexByte(text[:maxQuoted], '\n')
	if cut <= 0 {
		cut = maxQuoted
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
	}
	return strings.TrimSuffix(text[:cut], "\r"), len(text) - cut
}

// Forward returns the draft of a forward of o from self, with no
// recipients yet. Inline, o's text is quoted under a header block and
// its attachments are attached again; as an attachment, o goes whole as
// message/rfc822, its attachments inside it.
func Forward(o Original, self string, asAttachment bool) Draft {
	d := ForwardHead(o, self, asAttachment)
	if asAttachment {
		d.Forwarded = o.Raw
	} else {
		d.Attachments = Attachments(o)
	}
	return d
}

// ForwardHead is Forward without o's bytes: the subject, and inline the
// header block and quoted text; as an attachment, ForwardedName. The
// caller attaches o's files (Files, copied from the stored body) or o
// itself (ForwardedAttachment) as streams.
func ForwardHead(o Original, self string, asAttachment bool) Draft {
	d := Draft{From: Address{Addr: self}, Subject: forwardSubject(o.Info.Subject)}
	if asAttachment {
		// Slashes as dashes, as the message page names an attached
		// message: "Q3/Q4 plan" is not "Q4 plan" in a directory.
		d.ForwardedName = message.SubjectFilename(o.Info.Subject)
		return d
	}
	env := &o.Info.Envelope
	var b strings.Builder
	b.WriteString("\n\n---------- Forwarded message ----------\n")
	fmt.Fprintf(&b, "From: %s\n", displayList(env.From))
	if !o.Info.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", o.Info.Date.Format("Mon, 2 Jan 2006 at 15:04 -0700"))
	}
	fmt.Fprintf(&b, "Subject: %s\n", o.Info.Subject)
	if len(env.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", displayList(env.To))
	}
	if len(env.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", displayList(env.Cc))
	}
	b.WriteString("\n")
	text, rest := cutQuoted(BodyText(o))
	b.WriteString(text)
	if rest > 0 {
		fmt.Fprintf(&b, "\n[The message goes on for %s more; forward it as an attachment to send it whole.]\n", ByteSize(int64(rest)))
	}
	d.Text = b.String()
	return d
}

var (
	// replyPrefix matches the reply markers clients put before a subject,
	// in English and the common localised forms ("AW:", "SV:"), with
	// counters ("Re[2]:") and repeats.
	replyPrefix = regexp.MustCompile(`(?i)^\s*((re|aw|sv|antw|vs|ref)(\[\d+\]|\(\d+\))?\s*:\s*)+`)
	fwdPrefix   = regexp.MustCompile(`(?i)^\s*((fwd?|wg|tr|rv)\s*:\s*)+`)
)

// replySubject is "Re: " and the subject without any reply markers, so a
// thread never grows "Re: Re: Re:" (RFC 5322 3.6.5 suggests "Re: ").
func replySubject(s string) string {
	return "Re: " + strings.TrimSpace(replyPrefix.ReplaceAllString(s, ""))
}

// forwardSubject is "Fwd: " and the subject, once.
func forwardSubject(s string) string {
	return "Fwd: " + strings.TrimSpace(fwdPrefix.ReplaceAllString(s, ""))
}

// attribution is the line above quoted text: who wrote, and when.
func attribution(o Original) string {
	who := o.Info.From
	if who == "" {
		who = "someone"
	}
	if o.Info.Date.IsZero() {
		return who + " wrote:"
	}
	return fmt.Sprintf("On %s, %s wrote:", o.Info.Date.Format("Mon, 2 Jan 2006 at 15:04"), who)
}

// quote prefixes every line with "> " (">" before an already quoted or
// empty line), as RFC 3676 4.5 describes for quoted text.
func quote(text string) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n ")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, ">") {
			lines[i] = ">" + l
		} else {
			lines[i] = "> " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func displayList(as []message.Address) string {
	var parts []string
	for _, a := range as {
		if a.GroupStart || a.GroupEnd {
			continue
		}
		addr := a.Mailbox
		if a.Host != "" {
			addr += "@" + a.Host
		}
		parts = append(parts, Address{Name: strings.TrimSpace(message.DecodeHeader(a.Name)), Addr: addr}.String())
	}
	return strings.Join(parts, ", ")
}

// TextPart is the text part of a draft the compose page edits: its
// first text/plain part that is not an attachment, else its first HTML
// part; nil when it has neither.
func TextPart(info *message.Info) *message.Part {
	var plain, html *message.Part
	walk(&info.Part, func(p *message.Part) {
		if p.Disposition == "attachment" || p.Type != "text" {
			return
		}
		switch p.Subtype {
		case "plain":
			if plain == nil {
				plain = p
			}
		case "html":
			if html == nil {
				html = p
			}
		}
	})
	if plain != nil {
		return plain
	}
	return html
}

// DraftText returns the text of a stored draft (TextPart), HTML as
// text; raw needs to hold the draft only up to that part's end.
func DraftText(raw []byte, info *message.Info) string {
	p := TextPart(info)
	if p == nil {
		return ""
	}
	s, _ := message.DecodeText(raw, p)
	return partText(p, s)
}

// QuotedParts are the parts of a message that a reply quotes and an
// inline forward carries, in their order: every text/plain or text/html
// part that is not an attachment, so that a multipart/mixed of several
// text parts (as mailing lists add a footer, and phones send text, a
// photo, more text) is quoted whole. Of a multipart/alternative only one
// is taken: the plain text, else the richest one that has text (RFC
// 2046 5.1.4); embedded messages are files, not quoted.
func QuotedParts(info *message.Info) []*message.Part {
	var out []*message.Part
	var visit func(p *message.Part)
	visit = func(p *message.Part) {
		if !p.IsMultipart() {
			if p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html") && p.Disposition != "attachment" {
				out = append(out, p)
			}
			return
		}
		if p.Subtype != "alternative" {
			for i := range p.Parts {
				visit(&p.Parts[i])
			}
			return
		}
		var best []*message.Part
		for i := range p.Parts {
			saved := out
			out = nil
			visit(&p.Parts[i])
			alt := out
			out = saved
			if len(alt) == 0 {
				continue
			}
			if c := &p.Parts[i]; c.Type == "text" && c.Subtype == "plain" {
				best = alt
				break
			}
			best = alt
		}
		out = append(out, best...)
	}
	visit(&info.Part)
	return out
}

// QuotedText returns the text of a message's QuotedParts, HTML as text,
// in order, a blank line between them; read gives a part's decoded text.
func QuotedText(info *message.Info, read func(p *message.Part) (string, error)) (string, error) {
	var b strings.Builder
	for _, p := range QuotedParts(info) {
		s, err := read(p)
		if err != nil {
			return "", err
		}
		s = strings.TrimRight(partText(p, s), "\r\n")
		if strings.TrimSpace(s) == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// partText is a text part's decoded text as a reply shows it: HTML as
// the text a reader sees.
func partText(p *message.Part, s string) string {
	if p.Subtype == "html" {
		return strings.TrimSpace(message.HTMLText(s))
	}
	return s
}

// BodyText returns the text of o a reply quotes (QuotedText): o.Text
// when o has no Raw.
func BodyText(o Original) string {
	if o.Raw == nil {
		return o.Text
	}
	s, _ := QuotedText(o.Info, func(p *message.Part) (string, error) {
		s, _ := message.DecodeText(o.Raw, p)
		return s, nil
	})
	return s
}

// File is an attachment of a stored message, by its place in the
// message, without its bytes.
type File struct {
	Part        *message.Part
	Name        string
	ContentType string // type/subtype, with the charset of a text
	Size        int64  // decoded, estimated from the encoded size
}

// Files lists a stored message's attachments as Attachments returns
// them, in the same order, reading nothing but info and, for a base64
// file's exact size, the last bytes of its body from body (the stored
// message, read at offsets; nil when the sizes are not needed).
func Files(info *message.Info, body io.ReaderAt) []File {
	var out []File
	for _, p := range fileParts(&info.Part) {
		ct := p.Type + "/" + p.Subtype
		if cs := p.Param("charset"); cs != "" && p.Type == "text" {
			ct = mime.FormatMediaType(ct, map[string]string{"charset": cs})
		}
		out = append(out, File{Part: p, Name: fileName(p), ContentType: ct, Size: DecodedSize(p, body)})
	}
	return out
}

// DecodedSize is a part's decoded size, from its encoded one (the
// attachment lists of the compose and message pages). base64
// carries 6 bits in each character of its alphabet (RFC 2045 6.8), so a
// body decodes to 3/4 byte per character once its line breaks (CRLF:
// stored bodies are normalised) and the one or two "=" that pad its last
// group are left out; the padding and any white space after it are read
// from the body's last bytes. The other encodings are counted as they
// are. An unreadable tail leaves the estimate without padding (at most 2
// bytes high), as does a nil body.
func DecodedSize(p *message.Part, body io.ReaderAt) int64 {
	n := p.End - p.BodyStart
	if p.Encoding != "BASE64" || n <= 0 {
		return max(n, 0)
	}
	tail := make([]byte, min(n, 80))
	if body == nil {
		tail = nil
	} else if k, _ := body.ReadAt(tail, p.End-int64(len(tail))); k < len(tail) {
		tail = nil
	}
	// Lines counts the LFs, plus one for a last line without one.
	lfs := p.Lines
	if len(tail) > 0 && tail[len(tail)-1] != '\n' {
		lfs--
	}
	rest := bytes.TrimRight(tail, " \t\r\n")
	trailingLFs := int64(bytes.Count(tail[len(rest):], []byte("\n")))
	chars := n - int64(len(tail)-len(rest)) - 2*(lfs-trailingLFs)
	if tail == nil {
		chars = n - 2*p.Lines
	}
	for range 2 {
		if len(rest) > 0 && rest[len(rest)-1] == '=' {
			rest = rest[:len(rest)-1]
			chars--
		}
	}
	return max(chars*3/4, 0)
}

// cleanFilename is the name a file goes out under: message.SafeFilename,
// or "attachment" when nothing of it is left.
func cleanFilename(name string) string {
	if name = message.SafeFilename(name); name == "" {
		return "attachment"
	}
	return name
}

func fileName(p *message.Part) string {
	name := message.SafeFilename(p.Filename)
	switch {
	case name == "" && p.Type == "message" && p.Message != nil && p.Message.Envelope.Subject != "":
		name = cleanFilename(message.SubjectFilename(message.DecodeHeader(p.Message.Envelope.Subject))) + ".eml"
	case name == "" && p.Type == "message":
		name = "message.eml"
	case name == "" && isCalendar(p):
		name = "invite.ics"
	case name == "":
		name = "attachment"
	}
	return name
}

// Attachments returns o's files (fileParts) with their bytes.
func Attachments(o Original) []Attachment {
	var out []Attachment
	for _, p := range fileParts(&o.Info.Part) {
		data, _ := message.Decode(o.Raw, p)
		out = append(out, Attachment{Filename: fileName(p), ContentType: p.Type + "/" + p.Subtype,
			Data: append([]byte(nil), data...)})
	}
	return out
}

// fileParts are the parts of a message that are its files, in order:
// its leaf parts that are attachments, or that are not text and not
// inside an embedded message. A meeting invitation's text/calendar part
// (an alternative to the HTML, as Outlook sends it, RFC 6047 2.4) is a
// file too, unless the message attaches the invitation as a named file
// of its own (as Gmail does), as the message page lists them.
func fileParts(root *message.Part) []*message.Part {
	var files, invitations []*message.Part
	named := false
	walk(root, func(p *message.Part) {
		switch {
		case isAttachment(p):
			files = append(files, p)
			named = named || isCalendar(p)
		case isCalendar(p):
			invitations = append(invitations, p)
		}
	})
	if named {
		return files
	}
	return append(files, invitations...)
}

func isAttachment(p *message.Part) bool {
	if p.Disposition == "attachment" || p.Filename != "" {
		return true
	}
	return p.Type != "text" && p.Type != "multipart"
}

func isCalendar(p *message.Part) bool {
	return p.Type == "text" && p.Subtype == "calendar" || p.Type == "application" && p.Subtype == "ics"
}

// walk calls fn for each leaf part of the tree, in order, not descending
// into embedded messages (a message/rfc822 part is one leaf).
func walk(p *message.Part, fn func(*message.Part)) {
	if p.IsMultipart() {
		for i := range p.Parts {
			walk(&p.Parts[i], fn)
		}
		return
	}
	fn(p)
}

// ByteSize writes a size as people read it: 512 bytes, 12 KB, 3.4 MB.
func ByteSize(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " bytes"
	case n < 1000*1000:
		return strconv.FormatInt((n+500)/1000, 10) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
