package webmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// A draft's whole state is its message in Drafts: recipients, subject,
// text, attachments, the threading fields of a reply and its
// Message-ID. Each save writes the message again from the form (the
// text fields only: an autosave sends no files), the previous version
// and new uploads, and stores it in place of the previous version in one
// write (store.SaveDraft). So a draft survives a reload, a restart and
// another device, and what is sent is exactly what was saved.
//
// Memory does not grow with the files (DESIGN.md, bounded resources):
// uploads are streamed from the request into spool files
// (compose_upload.go); the previous version's files are copied from its
// stored body still encoded, never decoded or held whole; and the new
// version is written into a spool, pre-parsed from it mapped, and
// streamed into the store.

// draftForm is what the compose form posts.
type draftForm struct {
	DraftID     int64  // the version being edited; 0 for a new draft
	Source      string // "reply:ID", "replyall:ID", "forward:ID" or "forwardatt:ID", for a new draft
	To, Cc, Bcc string
	Subject     string
	Text        string
	Remove      map[int]bool // indexes of the previous version's attachments to drop
	// Key is the compose page's own (newDraftKey), kept by its first
	// draft: with DraftID 0, the page may have saved before and lost the
	// answer with the id.
	Key string
	// byKey: DraftID is the draft Key found, which the page never named.
	byKey bool
	// Uploads are new files: Data in tests, else Body, a spool that
	// close frees.
	Uploads []compose.Attachment
	spools  []*smtpserver.Spool
}

// close frees the form's upload spools.
func (f *draftForm) close() {
	for _, sp := range f.spools {
		sp.Close()
	}
}

// errForm is a mistake in the form the user can fix; its text is shown.
type errForm struct {
	msg    string
	status int // the HTTP status; 0 for 422
	// gone: the draft the form names is no longer in Drafts (sent or
	// deleted); the page offers to save the form as a new draft.
	gone bool
}

// errDraftGone is the answer to a save or send naming a draft whose
// last version was sent or deleted (perhaps in another window): a page
// of its own, not a 404, as the text typed is still on the page.
var errDraftGone = &errForm{msg: "This draft is no longer in Drafts: it was sent or deleted, perhaps in another window. " +
	"What you typed here is not saved; save it as a new draft to keep it.", status: http.StatusConflict, gone: true}

// draftHeld is the error of a save naming a draft whose current version
// is held for sending (store.ErrExists): a send whose answer was lost,
// or one from another window.
type draftHeld struct{ id int64 }

func (e *draftHeld) Error() string { return fmt.Sprintf("draft %d is being sent", e.id) }

func (e *errForm) Error() string { return e.msg }

// httpStatus is the status of a page that shows the mistake.
func (e *errForm) httpStatus() int {
	if e.status != 0 {
		return e.status
	}
	return http.StatusUnprocessableEntity
}

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

// loadDraft reads a live draft of the account, a message of its
// Drafts, whole (tests; the pages use draftInfo). Any other id (another
// account's, an INBOX message) is ErrNotFound.
func (a *app) loadDraft(ctx context.Context, acct store.Account, id int64) (store.Message, compose.Original, error) {
	if _, _, err := a.draftInfo(ctx, acct, id); err != nil {
		return store.Message{}, compose.Original{}, err
	}
	return a.loadOriginal(ctx, acct.ID, id)
}

// draftInfo reads a live draft of the account and its stored structure,
// not its bytes. Any other id (another account's, an INBOX message) is
// ErrNotFound.
func (a *app) draftInfo(ctx context.Context, acct store.Account, id int64) (store.Message, *message.Info, error) {
	m, err := a.store.Message(ctx, acct.ID, id)
	if err != nil {
		return m, nil, err
	}
	drafts, err := a.store.Mailbox(ctx, acct.ID, store.Drafts)
	if err != nil {
		return m, nil, err
	}
	if m.MailboxID != drafts.ID {
		return m, nil, fmt.Errorf("message %d is not a draft: %w", id, store.ErrNotFound)
	}
	b, err := a.store.Body(ctx, acct.ID, m.BodyID)
	if err != nil {
		return m, nil, err
	}
	return m, b.Info, nil
}

// draftText reads the text of a stored draft: only the bytes up to the
// end of its text part, which comes first, never its files.
func (a *app) draftText(ctx context.Context, acct int64, m store.Message, info *message.Info) (string, error) {
	p := compose.TextPart(info)
	if p == nil {
		return "", nil
	}
	rc, err := a.store.OpenBody(ctx, acct, m.BodyID)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	prefix, err := io.ReadAll(io.LimitReader(rc, p.End))
	if err != nil {
		return "", fmt.Errorf("read draft %d text: %w", m.ID, err)
	}
	return compose.DraftText(prefix, info), nil
}

// parseSource reads "kind:id", or "kind:id:path" for the message
// attached to message id at part path (the attached message's page).
func parseSource(s string) (kind string, id int64, path string, ok bool) {
	kind, v, found := strings.Cut(s, ":")
	if !found {
		return "", 0, "", false
	}
	v, path, _ = strings.Cut(v, ":")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || len(path) > 200 || strings.Trim(path, "0123456789.") != "" {
		return "", 0, "", false
	}
	switch kind {
	case "reply", "replyall", "forward", "forwardatt":
		return kind, id, path, true
	}
	return "", 0, "", false
}

// attachedOriginal is the structure of the message attached to another
// at part path, as a reply or forward reads it: its envelope and parts
// (their offsets into the outer message) and the fields Parse decodes
// for a message of its own. An attached message keeps no References
// (message.Embedded): a reply to it refers to its Message-ID alone.
func attachedOriginal(outer *message.Info, path string) (*message.Info, bool) {
	p, ok := findPart(&outer.Part, path)
	if !ok || p.Message == nil {
		return nil, false
	}
	env := p.Message.Envelope
	info := &message.Info{Envelope: env, Part: p.Message.Part, MessageID: strings.Trim(env.MessageID, "<> \t"),
		Subject: strings.TrimSpace(message.DecodeHeader(env.Subject))}
	if names := addressNames(env.From); len(names) > 0 {
		info.From = names[0]
	}
	if date, ok := message.ParseDate(env.Date); ok {
		info.Date = date
	}
	return info, true
}

// startDraft prefills a new draft from its source: a reply, reply to
// all or forward of a message of the account. It reads of the original
// only its text part (what a reply quotes and an inline forward shows),
// by range, never the whole message (DESIGN.md, bounded resources): an
// inline forward's files are sections of one stream of the stored body,
// copied still encoded when the draft is written, and a forward as an
// attachment streams the whole message. Nothing of them is read until
// the draft is written (the compose page only lists them), except that
// with write a forward as attachment is first read once for its shape
// (compose.ScanShape). done frees the streams; call it after writing.
func (a *app) startDraft(ctx context.Context, acct store.Account, source string, write bool) (d compose.Draft, done func(), err error) {
	d = compose.Draft{From: compose.Address{Addr: acct.Address}}
	done = func() {}
	kind, id, path, ok := parseSource(source)
	if !ok {
		return d, done, nil
	}
	m, err := a.store.Message(ctx, acct.ID, id)
	if err != nil {
		return d, done, err
	}
	b, err := a.store.Body(ctx, acct.ID, m.BodyID)
	if err != nil {
		return d, done, err
	}
	o := compose.Original{Info: b.Info}
	// The message forwarded as an attachment: the whole stored one, or
	// the attached one's bytes, the body of its message/rfc822 part.
	start, size := int64(0), b.Size
	if path != "" {
		info, ok := attachedOriginal(b.Info, path)
		if !ok {
			return d, done, fmt.Errorf("message %d has no message attached at %q: %w", id, path, store.ErrNotFound)
		}
		o.Info = info
		start, size = info.Part.HeaderStart, info.Part.End-info.Part.HeaderStart
	}
	if kind != "forwardatt" {
		if o.Text, err = a.originalText(ctx, acct.ID, m.BodyID, o.Info); err != nil {
			return d, done, err
		}
	}
	open := func() (io.ReadCloser, error) { return a.store.OpenBody(ctx, acct.ID, m.BodyID) }
	switch kind {
	case "reply":
		return compose.Reply(o, acct.Address, false), done, nil
	case "replyall":
		return compose.Reply(o, acct.Address, true), done, nil
	case "forward":
		d = compose.ForwardHead(o, acct.Address, false)
		files, err := a.files(ctx, acct.ID, m.BodyID, o.Info)
		if err != nil {
			return d, done, err
		}
		cur := &bodyCursor{open: open}
		for _, f := range files {
			d.Attachments = append(d.Attachments, compose.Attachment{Filename: f.Name, ContentType: f.ContentType,
				Size: f.Size, Encoding: f.Part.Encoding, Encoded: cur.section(f.Part.BodyStart, f.Part.End)})
		}
		return d, cur.Close, nil
	}
	d = compose.ForwardHead(o, acct.Address, true)
	var shape compose.Shape
	if write {
		rr, rdone, err := a.openRanges(ctx, acct.ID, m.BodyID)
		if err != nil {
			return d, done, err
		}
		shape, err = compose.ScanShape(io.NewSectionReader(rr, start, size))
		rdone()
		if err != nil {
			return d, done, fmt.Errorf("forward message %d: %w", m.ID, err)
		}
	}
	cur := &bodyCursor{open: open}
	d.Attachments = []compose.Attachment{compose.ForwardedAttachment(d.ForwardedName, size, shape, cur.section(start, start+size))}
	d.ForwardedName = ""
	return d, cur.Close, nil
}

// originalText is the text of a stored message that a reply quotes
// (compose.QuotedText), its parts read by range, at most maxShownText
// bytes of them together.
func (a *app) originalText(ctx context.Context, acct, bodyID int64, info *message.Info) (string, error) {
	if len(compose.QuotedParts(info)) == 0 {
		return "", nil
	}
	rr, done, err := a.openRanges(ctx, acct, bodyID)
	if err != nil {
		return "", err
	}
	defer done()
	left := int64(maxShownText)
	text, err := compose.QuotedText(info, func(p *message.Part) (string, error) {
		if left <= 0 {
			return "", nil
		}
		s, _, err := partText(rr, p, left)
		left -= p.End - p.BodyStart
		return s, err
	})
	if err != nil {
		return "", fmt.Errorf("read the text of body %d: %w", bodyID, err)
	}
	return text, nil
}

// files lists a stored body's attachments (compose.Files), reading the
// last bytes of each base64 one for its exact size.
func (a *app) files(ctx context.Context, acct, bodyID int64, info *message.Info) ([]compose.File, error) {
	rr, done, err := a.openRanges(ctx, acct, bodyID)
	if err != nil {
		return nil, err
	}
	defer done()
	return compose.Files(info, rr), nil
}

// draftFromStored turns a saved draft back into the form's fields: its
// header fields, its text, and its files (a.files) by name and size
// (without their bytes).
func draftFromStored(acct store.Account, info *message.Info, text string, files []compose.File) compose.Draft {
	env := &info.Envelope
	d := compose.Draft{
		From:       compose.Address{Addr: acct.Address},
		To:         addrsOf(env.To),
		Cc:         addrsOf(env.Cc),
		Bcc:        addrsOf(env.Bcc),
		Subject:    info.Subject,
		Text:       text,
		InReplyTo:  strings.Trim(env.InReplyTo, "<> "),
		References: info.References,
	}
	for _, f := range files {
		d.Attachments = append(d.Attachments, compose.Attachment{Filename: f.Name, ContentType: f.ContentType, Size: f.Size,
			Encoded: eofReader{}})
	}
	return d
}

// eofReader stands for bytes a listed file does not carry.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

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
	ID int64
	// Draft is what was saved, its files listed (names, types, sizes)
	// without their bytes.
	Draft compose.Draft
	Size  int64 // of the written message
	// RemoveSkipped: the version the form named had been replaced, and
	// the form's removals (indexes of its files) were not done.
	RemoveSkipped bool
}

// maxSaveTries bounds how often a save starts again because another
// save (another window) replaced the version it was building on.
const maxSaveTries = 4

// saveDraft writes the draft from f (with the previous version's files
// and threading, or its source's) and stores it in place of the previous
// version. Mistakes the user can fix are *errForm; a draft held for
// sending is *draftHeld.
//
// The version the form names may have been replaced since the page got
// it: a save whose answer was lost (stored, but the page kept the old
// id), or one from another window. The save then lands on the current
// version (store.Compose.DraftSuccessor), builds on its files (the byte
// ranges it shares are of that version), and answers its state, so the
// page takes the new id. Another save replacing that version meanwhile
// makes this one start again on the newer one: the last writer's text
// wins, and no file is lost.
//
// A form naming no draft may come from a page whose first save was
// stored but whose answer was lost: the draft its key found
// (store.Compose.DraftByKey) stands for the version it names.
func (a *app) saveDraft(ctx context.Context, acct store.Account, f draftForm) (saved, error) {
	if f.DraftID == 0 && f.Key != "" {
		id, err := a.store.DraftByKey(ctx, acct.ID, f.Key)
		if errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrDraftGone) {
			var s saved
			if s, err = a.saveVersion(ctx, acct, f, 0); !errors.Is(err, store.ErrExists) {
				return s, err
			}
			// Another request of the page (a send after a save) stored
			// its first draft meanwhile: this one saves onto that.
			if err = rewindUploads(f.Uploads); err != nil {
				return saved{}, err
			}
			id, err = a.store.DraftByKey(ctx, acct.ID, f.Key)
		}
		if errors.Is(err, store.ErrDraftGone) {
			return saved{}, errDraftGone
		} else if err != nil {
			return saved{}, err
		}
		f.DraftID, f.byKey = id, true
	}
	if f.DraftID == 0 {
		return a.saveVersion(ctx, acct, f, 0)
	}
	var err error
	for range maxSaveTries {
		var cur int64
		if cur, err = a.store.DraftSuccessor(ctx, acct.ID, f.DraftID); errors.Is(err, store.ErrDraftGone) {
			return saved{}, errDraftGone
		} else if err != nil {
			return saved{}, err // another account's id: ErrNotFound, a 404
		}
		if err = rewindUploads(f.Uploads); err != nil {
			return saved{}, err
		}
		var s saved
		s, err = a.saveVersion(ctx, acct, f, cur)
		switch {
		case errors.Is(err, store.ErrExists):
			return saved{}, &draftHeld{id: cur}
		case !errors.Is(err, store.ErrNotFound):
			return s, err
		}
		// cur was replaced (or sent) since it was resolved: again.
	}
	return saved{}, err
}

// rewindUploads puts the uploads' readers back at their start for a save
// that starts again.
func rewindUploads(ups []compose.Attachment) error {
	for _, u := range ups {
		if sk, ok := u.Body.(io.Seeker); ok {
			if _, err := sk.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("rewind upload %q: %w", u.Filename, err)
			}
		}
	}
	return nil
}

// saveVersion is saveDraft on the live version cur (0 for a new draft),
// which f.DraftID names or was replaced by.
func (a *app) saveVersion(ctx context.Context, acct store.Account, f draftForm, cur int64) (saved, error) {
	var d compose.Draft
	messageID := ""
	var kept []compose.File // the previous version's files kept, in order
	var skipped bool        // the form's removals not done
	if cur != 0 {
		m, info, err := a.draftInfo(ctx, acct, cur)
		if err != nil {
			return saved{}, err
		}
		files, err := a.files(ctx, acct.ID, m.BodyID, info)
		if err != nil {
			return saved{}, err
		}
		d = draftFromStored(acct, info, "", files)
		messageID = info.MessageID
		if cur != f.DraftID || f.byKey {
			// The page's Remove indexes are of the files of the version
			// it named, which this one may list otherwise: nothing is
			// removed (the answer says so). Uploads this version already
			// has are those of the save whose answer was lost, sent
			// again by the page: not attached twice.
			skipped, f.Remove = len(f.Remove) > 0, nil
			f.Uploads = withoutStored(f.Uploads, files)
		}
		// The files kept are copied from the previous version's body,
		// still encoded, in the order they lie in it: one pass over
		// one stream of it.
		cur := &bodyCursor{open: func() (io.ReadCloser, error) { return a.store.OpenBody(ctx, acct.ID, m.BodyID) }}
		defer cur.Close()
		d.Attachments = d.Attachments[:0]
		for i, file := range files {
			if f.Remove[i] {
				continue
			}
			d.Attachments = append(d.Attachments, compose.Attachment{Filename: file.Name, ContentType: file.ContentType,
				Size: file.Size, Encoding: file.Part.Encoding, Encoded: cur.section(file.Part.BodyStart, file.Part.End)})
			kept = append(kept, file)
		}
	} else {
		var err error
		var done func()
		if d, done, err = a.startDraft(ctx, acct, f.Source, true); err != nil {
			return saved{}, err
		}
		defer done()
	}
	if messageID == "" {
		messageID = compose.NewMessageID(acct.Address)
	}
	var err error
	if d.To, err = compose.ParseAddressList(f.To); err != nil {
		return saved{}, &errForm{msg: "To: " + err.Error()}
	}
	if d.Cc, err = compose.ParseAddressList(f.Cc); err != nil {
		return saved{}, &errForm{msg: "Cc: " + err.Error()}
	}
	if d.Bcc, err = compose.ParseAddressList(f.Bcc); err != nil {
		return saved{}, &errForm{msg: "Bcc: " + err.Error()}
	}
	d.Subject, d.Text = f.Subject, f.Text
	d.From = compose.Address{Addr: acct.Address}
	d.Attachments = append(d.Attachments, f.Uploads...)
	var total int64
	for _, att := range d.Attachments {
		total += att.Len()
	}
	if limit := a.maxAttachmentBytes(); total > limit {
		return saved{}, a.tooMuch(total)
	}
	sp := a.newSpool()
	defer sp.Close()
	if err := compose.Write(sp, d, a.now(), messageID); err != nil {
		if errors.Is(err, smtpserver.ErrBudget) {
			return saved{}, busy(err)
		}
		return saved{}, fmt.Errorf("write draft: %w", err)
	}
	info, err := sp.Parse()
	if err != nil {
		return saved{}, fmt.Errorf("parse draft: %w", err)
	}
	del := &store.Delivery{Body: sp.Reader(), Size: sp.Size(), Info: info, Received: a.now(), DraftKey: f.Key}
	// The kept files' bytes are stored once, by the version that
	// brought them: the new version refers to them where they are
	// (store.DraftSharing), so that an autosave writes the text, not the
	// files again.
	dl, err := a.store.SaveDraftSharing(ctx, acct.ID, cur, del, sharedFiles(kept, info, sp.Reader()))
	if err != nil {
		return saved{}, err
	}
	for i, att := range d.Attachments {
		d.Attachments[i] = compose.Attachment{Filename: att.Filename, ContentType: att.ContentType, Size: att.Len(), Encoded: eofReader{}}
	}
	return saved{ID: dl.MessageID, Draft: d, Size: sp.Size(), RemoveSkipped: skipped}, nil
}

// withoutStored drops the uploads that the stored files already hold, by
// name and size: a page whose save was stored but whose answer was lost
// sends that save's files again with its next save.
func withoutStored(ups []compose.Attachment, stored []compose.File) []compose.Attachment {
	var out []compose.Attachment
	for _, u := range ups {
		if !slices.ContainsFunc(stored, func(f compose.File) bool { return f.Name == u.Filename && f.Size == u.Len() }) {
			out = append(out, u)
		}
	}
	return out
}

// tooMuch is the answer to files over the limit: 413, with the limit.
func (a *app) tooMuch(total int64) *errForm {
	limit := a.maxAttachmentBytes()
	msg := fmt.Sprintf("That is too much to attach: at most %s in total.", compose.ByteSize(limit))
	if total > 0 {
		msg = fmt.Sprintf("Attachments come to %s; at most %s in total.", compose.ByteSize(total), compose.ByteSize(limit))
	}
	return &errForm{msg: msg, status: http.StatusRequestEntityTooLarge}
}

// bodyCursor reads byte ranges of one stored body, in increasing order,
// from one stream of it, opened at the first read.
type bodyCursor struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	pos  int64
}

// section reads [start, end) of the body. Sections must be read in
// order, each to its end, and must not overlap.
func (c *bodyCursor) section(start, end int64) io.Reader {
	return &cursorSection{c: c, start: start, end: end}
}

func (c *bodyCursor) Close() {
	if c.rc != nil {
		c.rc.Close()
	}
}

type cursorSection struct {
	c          *bodyCursor
	start, end int64
	started    bool
}

func (s *cursorSection) Read(p []byte) (int, error) {
	c := s.c
	if c.rc == nil {
		rc, err := c.open()
		if err != nil {
			return 0, err
		}
		c.rc = rc
	}
	if !s.started {
		if c.pos > s.start {
			return 0, errors.New("stored draft read out of order")
		}
		n, err := io.CopyN(io.Discard, c.rc, s.start-c.pos)
		c.pos += n
		if err != nil {
			return 0, fmt.Errorf("skip to byte %d of the stored draft: %w", s.start, err)
		}
		s.started = true
	}
	if c.pos >= s.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.end-c.pos)]
	n, err := c.rc.Read(p)
	c.pos += int64(n)
	if err == io.EOF && c.pos < s.end {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// maxAttachmentBytes is what attachments may add up to: the message
// limit of submission, less room for the text and headers, and less what
// base64 adds (RFC 2045 6.8): 4 bytes for 3, then CRLF after every 76,
// so 57 bytes of a file take 78. Submit checks the whole message again.
func (a *app) maxAttachmentBytes() int64 {
	limit := a.opt.Compose.MaxMessageBytes
	if limit <= 0 {
		limit = 25 << 20
	}
	return max((limit-(256<<10))/78*57, 1<<20)
}

// sharedFiles pairs the files kept from the previous version with the
// same files in the new one (the first ones, in order: compose.Write
// copies kept files first, byte for byte, still encoded): each pair's
// encoded bytes are the same, a range of the new body that the previous
// version's body holds. A pair that differs in name, encoding or length
// is not shared: it is stored again.
func sharedFiles(kept []compose.File, info *message.Info, body io.Reader) []store.SharedRange {
	if len(kept) == 0 {
		return nil
	}
	ra, _ := body.(io.ReaderAt)
	now := compose.Files(info, ra)
	var out []store.SharedRange
	for i, k := range kept {
		if i >= len(now) {
			break
		}
		n := now[i]
		length := k.Part.End - k.Part.BodyStart
		if n.Name != k.Name || n.Part.Encoding != k.Part.Encoding || n.Part.End-n.Part.BodyStart != length || length <= 0 {
			continue
		}
		out = append(out, store.SharedRange{Off: n.Part.BodyStart, Len: length, SrcOff: k.Part.BodyStart})
	}
	return out
}
