package webmail

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// The search box ignores accents, as Gmail and Outlook do: "resume"
// finds "résumé", "Müller" finds "muller" and the reverse. A key matches
// when IMAP SEARCH's own check (imapmsg.Match: substrings,
// case-insensitive) finds it, or when its text is found, both taken
// without accents (message.FoldAccents), in the place the key looks at.
// The store's candidates already ignore accents (store.MailSearch's
// FoldAccents), so the slower check runs on few messages: those the
// IMAP check turned down.

// candidate is one message a search checks, read at most once.
type candidate struct {
	m      store.Message
	bodies *candidateBodies
	memory *imapmsg.SearchMemory
	raw    []byte
	info   *message.Info
	loaded bool
	err    error
	gone   bool   // purged or moved since it was listed
	free   func() // gives the read message's share of memory back
}

// release gives back the memory the candidate's message took: call it
// once the candidate is checked.
func (c *candidate) release() {
	if c.free != nil {
		c.free()
		c.free, c.raw = nil, nil
	}
}

// imap is the candidate as imapmsg.Match takes it.
func (c *candidate) imap(ctx context.Context) *imapmsg.Message {
	m := c.m
	return &imapmsg.Message{
		UID: m.UID, Flags: m.Flags, Keywords: m.Keywords, ModSeq: m.ModSeq, Received: m.Received, Size: m.Size,
		Subject: m.Subject, From: m.From,
		Load: func() ([]byte, *message.Info, error) { return c.load(ctx) },
	}
}

// body returns the stored body record, with its structure, without
// reading the message.
func (c *candidate) body(ctx context.Context) (store.MessageBody, error) {
	b, ok, err := c.bodies.of(ctx, c.m)
	if err == nil && !ok {
		c.gone, err = true, store.ErrNotFound
	}
	return b, err
}

// load reads the message once.
func (c *candidate) load(ctx context.Context) ([]byte, *message.Info, error) {
	if c.loaded {
		return c.raw, c.info, c.err
	}
	c.loaded = true
	b, err := c.body(ctx)
	if err != nil {
		c.err = err
		return nil, nil, err
	}
	if c.free, err = c.memory.Take(ctx, b.Body.Size); err != nil {
		c.err = err
		return nil, nil, err
	}
	rc, err := b.Open(ctx)
	if errors.Is(err, store.ErrNotFound) {
		c.gone = true
	}
	if err != nil {
		c.err = err
		return nil, nil, err
	}
	defer rc.Close()
	c.raw, c.err = io.ReadAll(rc)
	c.info = b.Body.Info
	return c.raw, c.info, c.err
}

// matchFolded checks one key without accents, in the places the webmail
// searches: the decoded subject, the senders and recipients (names and
// addresses), and for TEXT and BODY the text of the body (text parts,
// HTML as text, embedded messages); TEXT also every header field and
// the attachments' names. The subject and addresses come from the stored
// structure, so only TEXT and BODY read the message.
func (c *candidate) matchFolded(ctx context.Context, k imapwire.SearchKey) (bool, error) {
	needle := message.FoldAccents(k.Text)
	if needle == "" {
		return false, nil
	}
	b, err := c.body(ctx)
	if err != nil {
		return false, err
	}
	info := b.Body.Info
	env := &info.Envelope
	has := func(s string) bool { return strings.Contains(message.FoldAccents(s), needle) }
	addrs := func(lists ...[]message.Address) bool {
		for _, list := range lists {
			for _, a := range list {
				if !a.GroupStart && !a.GroupEnd && has(message.DecodeHeader(a.Name)+" <"+a.Mailbox+"@"+a.Host+">") {
					return true
				}
			}
		}
		return false
	}
	switch k.Op {
	case imapwire.SearchSubject:
		return has(info.Subject), nil
	case imapwire.SearchFrom:
		return addrs(env.From), nil
	case imapwire.SearchTo:
		return addrs(env.To), nil
	case imapwire.SearchCc:
		return addrs(env.Cc), nil
	case imapwire.SearchBcc:
		return addrs(env.Bcc), nil
	case imapwire.SearchBody, imapwire.SearchText:
	default:
		return false, nil
	}
	if k.Op == imapwire.SearchText && (has(info.Subject) || addrs(env.From, env.To, env.Cc, env.Bcc)) {
		return true, nil
	}
	raw, _, err := c.load(ctx)
	if err != nil {
		return false, err
	}
	var text strings.Builder
	if k.Op == imapwire.SearchText {
		fieldsText(&text, info.Part.Header(raw))
	}
	searchText(&text, raw, &info.Part, k.Op == imapwire.SearchText)
	return has(text.String()), nil
}

// searchText writes the text of part p's body as IMAP BODY searches it,
// pieces apart (a NUL, which no search holds, between them), and with
// names also the attachments' file names.
func searchText(b *strings.Builder, raw []byte, p *message.Part, names bool) {
	if names && p.Filename != "" {
		b.WriteString(p.Filename)
		b.WriteByte(0)
	}
	switch {
	case p.Type == "multipart":
		for i := range p.Parts {
			searchText(b, raw, &p.Parts[i], names)
		}
	case p.Message != nil:
		fieldsText(b, p.Message.Part.Header(raw))
		searchText(b, raw, &p.Message.Part, names)
	case p.IsTextual():
		s, _ := message.DecodeText(raw, p)
		if p.Type == "text" && p.Subtype == "html" {
			s = message.HTMLText(s)
		}
		b.WriteString(s)
		b.WriteByte(0)
	}
}

// fieldsText writes the values of a header's fields, unfolded and
// decoded, pieces apart.
func fieldsText(b *strings.Builder, header []byte) {
	for _, whole := range message.Fields(header) {
		v := string(whole)
		if i := strings.IndexByte(v, ':'); i >= 0 {
			v = v[i+1:]
		}
		v = strings.NewReplacer("\r\n", "", "\n", "").Replace(v)
		b.WriteString(message.DecodeHeader(strings.TrimSpace(v)))
		b.WriteByte(0)
	}
}
