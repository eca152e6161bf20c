package webmail

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

// composeView is the compose page's data.
type composeView struct {
	DraftID     int64
	Source      string
	To, Cc, Bcc string
	Subject     string
	Text        string
	Attachments []draftAttachment
	// Pending: attachments that come with the source (a forward) and are
	// stored with the first save.
	Pending    bool
	Limit      string // the attachment size limit, for people
	LimitBytes int64
	Error      string
	// Unsaved: the save or send was refused, so the fields shown are
	// not the draft's, whatever was saved before.
	Unsaved bool
	// Gone: the draft named was sent or deleted; the page offers to
	// save what it holds as a new draft.
	Gone bool
	// HeldID: the draft is held for sending, by this outbox entry.
	HeldID int64
	// Key is the page's own, made when it is rendered (newDraftKey):
	// its first save keeps it, and a later save naming no draft (the
	// answer with the id lost) finds that draft by it.
	Key     string
	SavedAt string
	Undo    int // seconds of the undo window
	Heading string
	// Account is the signed-in address: the page saves only into it
	// after a sign-in in another tab (compose.js).
	Account string
}

type draftAttachment struct {
	Index int
	Name  string
	Size  string
}

func (c *composer) view(d compose.Draft, id int64, source string) composeView {
	v := composeView{DraftID: id, Source: source, Key: newDraftKey(),
		To: compose.FormatAddressList(d.To), Cc: compose.FormatAddressList(d.Cc), Bcc: compose.FormatAddressList(d.Bcc),
		Subject: d.Subject, Text: d.Text, Limit: compose.ByteSize(c.maxAttachmentBytes()), LimitBytes: c.maxAttachmentBytes(),
		Undo: int(c.opt.Compose.UndoSend / time.Second), Pending: id == 0}
	for i, a := range d.Attachments {
		v.Attachments = append(v.Attachments, draftAttachment{Index: i, Name: a.Filename, Size: compose.ByteSize(a.Len())})
	}
	if len(d.Forwarded) > 0 {
		v.Attachments = append(v.Attachments, draftAttachment{Index: len(v.Attachments), Name: d.ForwardedName + ".eml",
			Size: compose.ByteSize(int64(len(d.Forwarded)))})
	}
	switch kind, _, _, _ := parseSource(source); kind {
	case "reply":
		v.Heading = "Reply"
	case "replyall":
		v.Heading = "Reply to all"
	case "forward", "forwardatt":
		v.Heading = "Forward"
	default:
		v.Heading = "New message"
		if id != 0 {
			v.Heading = "Draft"
		}
	}
	return v
}

// page serves GET /compose: a new message (?to= prefills), a saved
// draft (?draft=ID), or a reply, reply to all or forward of a message
// (?reply=ID, ?replyall=ID, ?forward=ID, with &as=attachment), or of the
// message attached to it at a part (&part=PATH).
func (c *composer) page(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ctx := r.Context()
	q := r.URL.Query()
	if v := q.Get("draft"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			web.NotFound(w, r)
			return
		}
		m, info, err := c.draftInfo(ctx, acct, id)
		if errors.Is(err, store.ErrNotFound) {
			// A replaced version (a reload after a save whose answer
			// was lost): its current one.
			if cur, serr := c.store.DraftSuccessor(ctx, acct.ID, id); serr == nil && cur != id {
				http.Redirect(w, r, "/compose?draft="+strconv.FormatInt(cur, 10), http.StatusSeeOther)
				return
			}
		}
		if err != nil {
			c.failed(w, r, acct.ID, "open draft", err)
			return
		}
		text, err := c.draftText(ctx, acct.ID, m, info)
		if err != nil {
			c.failed(w, r, acct.ID, "open draft", err)
			return
		}
		files, err := c.files(ctx, acct.ID, m.BodyID, info)
		if err != nil {
			c.failed(w, r, acct.ID, "open draft", err)
			return
		}
		c.render(w, r, acct, http.StatusOK, c.view(draftFromStored(acct, info, text, files), id, ""))
		return
	}
	source := ""
	for _, kind := range []string{"reply", "replyall", "forward"} {
		if v := q.Get(kind); v != "" {
			if kind == "forward" && q.Get("as") == "attachment" {
				kind = "forwardatt"
			}
			source = kind + ":" + v
			if part := q.Get("part"); part != "" {
				// A message attached to message v (its page).
				source += ":" + part
			}
			break
		}
	}
	if source != "" {
		if _, _, _, ok := parseSource(source); !ok {
			web.NotFound(w, r)
			return
		}
	}
	d, done, err := c.startDraft(ctx, acct, source, false)
	if err != nil {
		c.failed(w, r, acct.ID, "start draft", err)
		return
	}
	defer done()
	if to := q.Get("to"); to != "" && len(d.To) == 0 {
		if list, err := compose.ParseAddressList(to); err == nil {
			d.To = list
		}
	}
	c.render(w, r, acct, http.StatusOK, c.view(d, 0, source))
}

func (c *composer) render(w http.ResponseWriter, r *http.Request, acct store.Account, status int, v composeView) {
	v.Account = acct.Address
	c.compose.Render(w, r, status, web.View{Title: v.Heading, App: "webmail", Nav: c.navFor(r, acct, "Compose"), Data: v})
}

// uploadType trusts the browser's type unless it is the generic one.
func uploadType(ct, name string) string {
	if ct == "" || ct == "application/octet-stream" {
		return compose.TypeByName(name)
	}
	return ct
}

// formView is the page again after a failed save or send, with what the
// user typed.
func (c *composer) formView(f draftForm, msg string) composeView {
	v := composeView{DraftID: f.DraftID, Key: f.Key, Source: f.Source, To: f.To, Cc: f.Cc, Bcc: f.Bcc, Subject: f.Subject,
		Text: f.Text, Error: msg, Limit: compose.ByteSize(c.maxAttachmentBytes()), LimitBytes: c.maxAttachmentBytes(),
		Undo: int(c.opt.Compose.UndoSend / time.Second), Heading: "New message"}
	return v
}

// errBeingSent is the answer to a save of a draft held for sending.
var errBeingSent = &errForm{msg: "This message is already being sent (from another window, or a send whose answer was lost). " +
	"To edit it, undo the send; what you typed here is not saved.", status: http.StatusConflict}

// showHeld answers a send of a draft whose current version, draftID, is
// held for sending already: that entry's undo page.
func (c *composer) showHeld(w http.ResponseWriter, r *http.Request, acct store.Account, f draftForm, draftID int64) {
	id, err := c.heldEntry(r.Context(), acct, draftID)
	if err != nil {
		c.failed(w, r, acct.ID, "read outbox", err)
		return
	}
	if id == 0 {
		// Sent in between: the draft is gone.
		c.render(w, r, acct, errDraftGone.httpStatus(), c.refusedView(r.Context(), acct, f, errDraftGone))
		return
	}
	http.Redirect(w, r, "/outbox/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// heldEntry is the id of the account's outbox entry that holds draftID,
// 0 when none does (any more).
func (c *composer) heldEntry(ctx context.Context, acct store.Account, draftID int64) (int64, error) {
	list, err := c.store.Outbox(ctx, acct.ID)
	if err != nil {
		return 0, err
	}
	for _, e := range list {
		if e.DraftID == draftID {
			return e.ID, nil
		}
	}
	return 0, nil
}

// refusedView is formView with the files of the draft's stored version,
// which a refused save or send leaves unchanged: the page (a whole page
// without script, the draft state with it) still lists them, instead of
// seeming to have dropped them along with the refused upload.
func (c *composer) refusedView(ctx context.Context, acct store.Account, f draftForm, fe *errForm) composeView {
	v := c.formView(f, fe.msg)
	v.Unsaved, v.Gone = true, fe.gone
	if f.DraftID != 0 {
		v.Heading = "Draft"
		// The draft's current version: the page takes its id, as
		// from a save (the one named may have been replaced).
		if cur, err := c.store.DraftSuccessor(ctx, acct.ID, f.DraftID); err == nil {
			v.DraftID = cur
			if m, info, err := c.draftInfo(ctx, acct, cur); err == nil {
				if files, err := c.files(ctx, acct.ID, m.BodyID, info); err == nil {
					v.Attachments = c.view(draftFromStored(acct, info, "", files), cur, "").Attachments
				}
			}
		}
	}
	return v
}

// save serves POST /compose/save: the autosave (htmx, answered with the
// draft state fragment) and the "Save draft" and "Remove" buttons
// (answered with the compose page of the new version).
func (c *composer) save(w http.ResponseWriter, r *http.Request, acct store.Account) {
	f, err := c.readForm(w, r, acct)
	defer f.close()
	var s saved
	if err == nil {
		s, err = c.saveDraft(r.Context(), acct, f)
	}
	htmx := r.Header.Get("HX-Request") == "true"
	var held *draftHeld
	var heldID int64 // its outbox entry, for a link to its undo page
	if errors.As(err, &held) {
		heldID, _ = c.heldEntry(r.Context(), acct, held.id)
		err = errBeingSent
	}
	var fe *errForm
	switch {
	case errors.As(err, &fe) && htmx:
		// 200, so that htmx swaps the message in, unless the status
		// says more (413: too large; 409: the draft was sent meanwhile;
		// compose.js swaps those in too); the draft is unchanged.
		v := c.refusedView(r.Context(), acct, f, fe)
		v.HeldID = heldID
		status := http.StatusOK
		if fe.status != 0 {
			status = fe.status
		}
		c.compose.Fragment(w, r, status, "draft-state", web.View{Data: v})
		return
	case errors.As(err, &fe):
		v := c.refusedView(r.Context(), acct, f, fe)
		v.HeldID = heldID
		c.render(w, r, acct, fe.httpStatus(), v)
		return
	case err != nil:
		c.failed(w, r, acct.ID, "save draft", err)
		return
	}
	if htmx {
		v := c.view(s.Draft, s.ID, "")
		v.Key = f.Key
		v.SavedAt = c.now().Format("15:04:05")
		c.compose.Fragment(w, r, http.StatusOK, "draft-state", web.View{Data: v})
		return
	}
	if s.RemoveSkipped {
		web.SetFlash(w, "Draft saved. It had changed meanwhile (in another window, or by a save whose answer was lost), "+
			"so nothing was removed: check its files below.")
	} else {
		web.SetFlash(w, "Draft saved.")
	}
	http.Redirect(w, r, "/compose?draft="+strconv.FormatInt(s.ID, 10), http.StatusSeeOther)
}

// send serves POST /compose/send: the draft is saved, then held in the
// outbox for the undo window, after which submission.Outbox submits it.
func (c *composer) send(w http.ResponseWriter, r *http.Request, acct store.Account) {
	ctx := r.Context()
	f, err := c.readForm(w, r, acct)
	defer f.close()
	var s saved
	if err == nil {
		s, err = c.saveDraft(ctx, acct, f)
	}
	var fe *errForm
	var held *draftHeld
	switch {
	case errors.As(err, &held):
		// Sent already, by a send whose answer was lost or from another
		// window: its undo page, not a second send.
		c.showHeld(w, r, acct, f, held.id)
		return
	case errors.As(err, &fe):
		c.render(w, r, acct, fe.httpStatus(), c.refusedView(ctx, acct, f, fe))
		return
	case err != nil:
		c.failed(w, r, acct.ID, "save draft to send", err)
		return
	}
	if len(s.Draft.Recipients()) == 0 {
		v := c.view(s.Draft, s.ID, "")
		v.Key = f.Key
		v.Error = "Add at least one recipient in To, Cc or Bcc. Your draft is saved."
		c.render(w, r, acct, http.StatusUnprocessableEntity, v)
		return
	}
	if check := c.opt.Compose.CheckSend; check != nil {
		refusal, err := check(ctx, acct, s.Draft.Recipients(), s.Size)
		if err != nil {
			c.failed(w, r, acct.ID, "check message to send", err)
			return
		}
		if refusal != "" {
			v := c.view(s.Draft, s.ID, "")
			v.Key = f.Key
			v.Error = "Not sent: " + refusal + ". Your draft is saved."
			c.render(w, r, acct, http.StatusUnprocessableEntity, v)
			return
		}
	}
	e, err := c.store.ScheduleSend(ctx, acct.ID, s.ID, c.now().Add(c.opt.Compose.UndoSend), web.RemoteIP(r))
	if err != nil {
		c.failed(w, r, acct.ID, "hold message for sending", err)
		return
	}
	if c.opt.Compose.WakeOutbox != nil {
		c.opt.Compose.WakeOutbox()
	}
	http.Redirect(w, r, "/outbox/"+strconv.FormatInt(e.ID, 10), http.StatusSeeOther)
}

// contacts serves GET /compose/contacts?to=… (or cc, bcc): the options
// of the field's datalist, completing the address being typed after the
// last comma.
func (c *composer) contacts(w http.ResponseWriter, r *http.Request, acct store.Account) {
	var val string
	for _, k := range []string{"to", "cc", "bcc"} {
		if v, ok := r.URL.Query()[k]; ok && len(v) > 0 {
			val = v[0]
			break
		}
	}
	head, last := "", val
	if i := strings.LastIndexAny(val, ",;"); i >= 0 {
		head, last = strings.TrimSpace(val[:i+1])+" ", val[i+1:]
	}
	last = strings.TrimSpace(last)
	var opts []string
	if len(last) >= 1 {
		list, err := c.store.Contacts(r.Context(), acct.ID, last, 8)
		if err != nil {
			c.failed(w, r, acct.ID, "complete addresses", err)
			return
		}
		for _, ct := range list {
			opts = append(opts, head+compose.Address{Name: ct.Name, Addr: ct.Address}.String())
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	c.compose.Fragment(w, r, http.StatusOK, "contact-options", web.View{Data: opts})
}

// outboxView is the undo page's data.
type outboxView struct {
	ID      int64
	DraftID int64
	Held    bool   // still cancellable
	Sent    bool   // submitted
	Error   string // sending failed for good
	Seconds int    // until it is sent
	SendAt  int64  // unix milliseconds, for the countdown
}

// outboxPage serves GET /outbox/{id}: the undo bar while the message is
// held, the failure if sending failed, else a note that it was sent.
// Another account's id, like one that never existed, is a 404: the store
// looks the entry up by the signed-in account.
func (c *composer) outboxPage(w http.ResponseWriter, r *http.Request, acct store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.NotFound(w, r)
		return
	}
	e, err := c.store.OutboxEntry(r.Context(), acct.ID, id)
	if err != nil {
		c.failed(w, r, acct.ID, "read outbox", err)
		return
	}
	now := c.now()
	v := outboxView{ID: id, DraftID: e.DraftID, Error: e.Error, Sent: !e.Sent.IsZero()}
	if e.Sent.IsZero() {
		v.Held = e.Error == "" && !e.LeaseUntil.After(now)
		v.Seconds = max(int((e.SendAt.Sub(now)+time.Second-1)/time.Second), 0)
		v.SendAt = e.SendAt.UnixMilli()
	}
	title := "Sent"
	switch {
	case v.Error != "":
		title = "Not sent"
	case v.Held:
		title = "Sending"
	}
	c.outbox.Render(w, r, http.StatusOK, web.View{Title: title, App: "webmail", Nav: c.navFor(r, acct, ""), Data: v})
}

// undo serves POST /outbox/{id}/undo: the held message goes back to
// compose, or the page says it is too late. Another account's id is a
// 404, like on the page.
func (c *composer) undo(w http.ResponseWriter, r *http.Request, acct store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.NotFound(w, r)
		return
	}
	if _, err := c.store.OutboxEntry(r.Context(), acct.ID, id); err != nil {
		c.failed(w, r, acct.ID, "read outbox", err)
		return
	}
	e, err := c.store.CancelSend(r.Context(), acct.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		// Claimed by the sender, or sent, since the page was shown.
		web.SetFlash(w, "Too late to undo: the message has been sent.")
		http.Redirect(w, r, "/outbox/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
		return
	}
	if err != nil {
		c.failed(w, r, acct.ID, "undo send", err)
		return
	}
	web.SetFlash(w, "Sending undone: your message is back here to edit.")
	http.Redirect(w, r, "/compose?draft="+strconv.FormatInt(e.DraftID, 10), http.StatusSeeOther)
}

// statusView is the delivery status of a sent message.
type statusView struct {
	MessageID  int64
	Subject    string
	Recipients []recipientView
}

type recipientView struct {
	Rcpt   string
	State  string // delivered, deferred, bounced, …
	Label  string // for people
	Badge  string // badge class
	Detail string
	When   string
	Next   string
	Local  bool
}

// deliveryStatus serves GET /messages/{id}/status: per recipient, where
// a sent message stands. An htmx request gets the fragment (for the
// message page), a browser the page.
func (c *composer) deliveryStatus(w http.ResponseWriter, r *http.Request, acct store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		web.NotFound(w, r)
		return
	}
	m, err := c.store.Message(r.Context(), acct.ID, id)
	if err != nil {
		c.failed(w, r, acct.ID, "read message", err)
		return
	}
	list, err := c.store.DeliveryStatus(r.Context(), acct.ID, m.MessageID)
	if err != nil {
		c.failed(w, r, acct.ID, "read delivery status", err)
		return
	}
	v := statusView{MessageID: m.ID, Subject: m.Subject}
	for _, s := range list {
		rv := recipientView{Rcpt: s.Rcpt, State: string(s.State), Detail: s.Detail, Local: s.Local}
		if !s.Time.IsZero() {
			rv.When = s.Time.Format("2 Jan 15:04")
		}
		switch s.State {
		case store.RecipientDelivered:
			rv.Label, rv.Badge = "Delivered", "badge-ok"
		case store.RecipientStored:
			rv.Label, rv.Badge = "In their mailbox", "badge-ok"
		case store.RecipientQueued:
			rv.Label, rv.Badge = "Waiting to be sent", "badge-muted"
		case store.RecipientDeferred:
			rv.Label, rv.Badge = "Delayed, will retry", "badge-warn"
			rv.Next = s.Next.Format("2 Jan 15:04")
		case store.RecipientBounced:
			rv.Label, rv.Badge = "Refused", "badge-danger"
		case store.RecipientExpired:
			rv.Label, rv.Badge = "Gave up", "badge-danger"
		case store.RecipientCancelled:
			rv.Label, rv.Badge = "Cancelled by an administrator", "badge-danger"
		default:
			rv.Label, rv.Badge = string(s.State), "badge-muted"
		}
		v.Recipients = append(v.Recipients, rv)
	}
	view := web.View{Title: "Delivery status", App: "webmail", Nav: c.navFor(r, acct, "Mail"), Data: v}
	if r.Header.Get("HX-Request") == "true" {
		c.status.Fragment(w, r, http.StatusOK, "delivery-status", view)
		return
	}
	c.status.Render(w, r, http.StatusOK, view)
}
