package webmail

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// A draft's whole state is its message in Drafts: recipients, subject,
// text, attachments, the threading fields of a reply and its
// Message-ID. Each save builds the message again from the form, the
// previous version (attachments, threading) and new uploads, and stores
// it in place of the previous version in one write (store.SaveDraft). So
// a draft survives a reload, a restart and another device, and what is
// sent is exactly what was saved.

// draftForm is what the compose form posts.
type draftForm struct {
	DraftID     int64  // the version being edited; 0 for a new draft
	Source      string // "reply:ID", "replyall:ID", "forward:ID" or "forwardatt:ID", for a new draft
	To, Cc, Bcc string
	Subject     string
	Text        string
	Remove      map[int]bool // indexes of the previous version's attachments to drop
	Uploads     []compose.Attachment
}

// errForm is a mistake in the form the user can fix; its text is shown.
type errForm struct{ msg string }

func (e *errForm) Error() string { return e.msg }

// loadOriginal reads a message of the account whole, with its stored
// structure. Another account's id is store.ErrNotFound.
func (a *app) loadOriginal(ctx context.Context, acct, id int64) (store.Message, compose.Original, error) {
	m, err := a.store.Message(ctx, acct, id)
	if err != nil {
		return m, compose.Original{}, err
	}
	b, err := a.store.Body(ctx, acct, m.BodyID)
	if err != nil {
		return m, compose.Original{}, err
	}
	rc, err := a.store.OpenBody(ctx, acct, m.BodyID)
	if err != nil {
		return m, compose.Original{}, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, b.Size+1))
	if err != nil {
		return m, compose.Original{}, fmt.Errorf("read message %d: %w", id, err)
	}
	return m, compose.Original{Raw: raw, Info: b.Info}, nil
}

// loadDraft reads a live draft of the account: a message of its Drafts.
// Any other id (another account's, an INBOX message) is ErrNotFound.
func (a *app) loadDraft(ctx context.Context, acct store.Account, id int64) (store.Message, compose.Original, error) {
	m, o, err := a.loadOriginal(ctx, acct.ID, id)
	if err != nil {
		return m, o, err
	}
	drafts, err := a.store.Mailbox(ctx, acct.ID, store.Drafts)
	if err != nil {
		return m, o, err
	}
	if m.MailboxID != drafts.ID {
		return m, o, fmt.Errorf("message %d is not a draft: %w", id, store.ErrNotFound)
	}
	return m, o, nil
}

// parseSource reads "kind:id".
func parseSource(s string) (kind string, id int64, ok bool) {
	kind, v, found := strings.Cut(s, ":")
	if !found {
		return "", 0, false
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return "", 0, false
	}
	switch kind {
	case "reply", "replyall", "forward", "forwardatt":
		return kind, id, true
	}
	return "", 0, false
}

// startDraft prefills a new draft from its source: a reply, reply to
// all or forward of a message of the account.
func (a *app) startDraft(ctx context.Context, acct store.Account, source string) (compose.Draft, error) {
	d := compose.Draft{From: compose.Address{Addr: acct.Address}}
	kind, id, ok := parseSource(source)
	if !ok {
		return d, nil
	}
	_, o, err := a.loadOriginal(ctx, acct.ID, id)
	if err != nil {
		return d, err
	}
	switch kind {
	case "reply":
		return compose.Reply(o, acct.Address, false), nil
	case "replyall":
		return compose.Reply(o, acct.Address, true), nil
	case "forward":
		return compose.Forward(o, acct.Address, false), nil
	default:
		return compose.Forward(o, acct.Address, true), nil
	}
}

// draftFromStored turns a saved draft back into the form's fields.
func draftFromStored(acct store.Account, o compose.Original) compose.Draft {
	env := &o.Info.Envelope
	return compose.Draft{
		From:        compose.Address{Addr: acct.Address},
		To:          addrsOf(env.To),
		Cc:          addrsOf(env.Cc),
		Bcc:         addrsOf(env.Bcc),
		Subject:     o.Info.Subject,
		Text:        compose.BodyText(o),
		InReplyTo:   strings.Trim(env.InReplyTo, "<> "),
		References:  o.Info.References,
		Attachments: compose.Attachments(o),
	}
}

func addrsOf(as []message.Address) []compose.Address {
	var out []compose.Address
	for _, x := range as {
		if x.GroupStart || x.GroupEnd || x.Mailbox == "" {
			continue
		}
		addr := x.Mailbox
		if x.Host != "" {
			addr += "@" + x.Host
		}
		out = append(out, compose.Address{Name: strings.TrimSpace(message.DecodeHeader(x.Name)), Addr: addr})
	}
	return out
}

// saved is the result of saving a draft.
type saved struct {
	ID          int64
	Draft       compose.Draft
	Attachments []compose.Attachment
	Size        int64 // of the built message
}

// saveDraft builds the draft from f (with the previous version's
// attachments and threading, or its source's) and stores it in place of
// the previous version. Mistakes the user can fix are *errForm.
func (a *app) saveDraft(ctx context.Context, acct store.Account, f draftForm) (saved, error) {
	var d compose.Draft
	messageID := ""
	if f.DraftID != 0 {
		_, prev, err := a.loadDraft(ctx, acct, f.DraftID)
		if err != nil {
			return saved{}, err
		}
		d = draftFromStored(acct, prev)
		messageID = prev.Info.MessageID
		kept := d.Attachments[:0]
		for i, att := range d.Attachments {
			if !f.Remove[i] {
				kept = append(kept, att)
			}
		}
		d.Attachments = kept
	} else {
		var err error
		if d, err = a.startDraft(ctx, acct, f.Source); err != nil {
			return saved{}, err
		}
		if len(d.Forwarded) > 0 {
			// Kept from now on as an attachment of the draft.
			d.Attachments = append(d.Attachments, compose.Attachment{Filename: d.ForwardedName + ".eml",
				ContentType: "message/rfc822", Data: d.Forwarded})
			d.Forwarded, d.ForwardedName = nil, ""
		}
	}
	if messageID == "" {
		messageID = compose.NewMessageID(acct.Address)
	}
	var err error
	if d.To, err = compose.ParseAddressList(f.To); err != nil {
		return saved{}, &errForm{"To: " + err.Error()}
	}
	if d.Cc, err = compose.ParseAddressList(f.Cc); err != nil {
		return saved{}, &errForm{"Cc: " + err.Error()}
	}
	if d.Bcc, err = compose.ParseAddressList(f.Bcc); err != nil {
		return saved{}, &errForm{"Bcc: " + err.Error()}
	}
	d.Subject, d.Text = f.Subject, f.Text
	d.From = compose.Address{Addr: acct.Address}
	d.Attachments = append(d.Attachments, f.Uploads...)
	var total int64
	for _, att := range d.Attachments {
		total += int64(len(att.Data))
	}
	if limit := a.maxAttachmentBytes(); total > limit {
		return saved{}, &errForm{fmt.Sprintf("Attachments come to %s; at most %s in total.", byteSize(total), byteSize(limit))}
	}
	raw, err := compose.Build(d, a.now(), messageID)
	if err != nil {
		return saved{}, fmt.Errorf("build draft: %w", err)
	}
	del := store.NewDelivery(raw, a.now())
	dl, err := a.store.SaveDraft(ctx, acct.ID, f.DraftID, del)
	if err != nil {
		return saved{}, err
	}
	return saved{ID: dl.MessageID, Draft: d, Attachments: d.Attachments, Size: int64(len(raw))}, nil
}

// maxAttachmentBytes is what attachments may add up to: the message
// limit of submission, less base64's third (RFC 2045 6.8) and room for
// the text and headers.
func (a *app) maxAttachmentBytes() int64 {
	limit := a.opt.Compose.MaxMessageBytes
	if limit <= 0 {
		limit = 25 << 20
	}
	return max(limit*3/4-(256<<10), 1<<20)
}

// byteSize writes a size as people read it: 512 bytes, 12 KB, 3.4 MB.
func byteSize(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10) + " bytes"
	case n < 1000*1000:
		return strconv.FormatInt((n+500)/1000, 10) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
