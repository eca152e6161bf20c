package webmail

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
	"github.com/xtramail/xtramail/internal/web/webmail/compose"
)

func (a *app) messageRoutes(mux *http.ServeMux) {
	a.handle(mux, "GET /msg/{id}", a.messagePage)
	a.handle(mux, "GET /msg/{id}/html", a.messageHTML)
	a.handle(mux, "GET /msg/{id}/part/{path}", a.messagePart)
	a.handle(mux, "GET /msg/{id}/raw", a.messageRaw)
	a.handle(mux, "GET /msg/{id}/attached/{path}", a.attachedPage)
}

// bodyView is one shown part of the message page.
type bodyView struct {
	HTML      bool
	Text      template.HTML // text parts, escaped and linked by renderPlain
	FrameSrc  string        // HTML parts: the sandboxed frame's URL
	Truncated bool
	Download  string
}

type attachmentView struct {
	Name, Type, Size string
	Download         string
	Preview          string // "" when the browser cannot show it
	Open             string // an attached message's page, else ""
}

// messageData is the message page's Data.
type messageData struct {
	ID                       int64
	Subject, From            string
	To, Cc                   recipients
	Date, ISODate            string
	Body                     []bodyView
	Attachments              []attachmentView
	RemoteImages             bool   // remote images were left out
	ImagesAllowed            bool   // and the user asked to see them
	ShowImages               string // the page's URL with images
	Problems                 []string
	Conversation             []rowItem
	Folder                   folderItem
	FolderName               string
	Folders, Targets         []folderItem
	Flagged, Unread          bool
	Archived                 bool // in the archive folder: no Archive button
	Back                     string
	Reply, ReplyAll, Forward string
	Raw                      string
	// Sent: the message is in Sent, where its delivery status per
	// recipient is shown (compose's /messages/{id}/status).
	Sent bool
	// Attached: the page shows a message attached to message ID (its
	// part Raw downloads), not a message of a folder: no actions on it
	// but Reply and Forward and going back to that message (Back),
	// whose subject Outer is.
	Attached bool
	Outer    string
	// Fill: the body has one HTML frame, laid out to fill the rest of
	// the viewport and scroll itself (the frame runs no script to size
	// itself, so the page is sized around it instead); text parts
	// around it scroll in boxes of their own.
	Fill bool
}

// openRanges returns a reader of a body's byte ranges: the blob store's
// own when it has one (a file section), else the body read into memory.
func (a *app) openRanges(ctx context.Context, acct, bodyID int64) (ranger, func(), error) {
	rc, err := a.store.OpenBody(ctx, acct, bodyID)
	if err != nil {
		return nil, nil, err
	}
	if ra, ok := rc.(io.ReaderAt); ok {
		return ra, func() { rc.Close() }, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("read body %d: %w", bodyID, err)
	}
	return bytes.NewReader(b), func() {}, nil
}

// loadMessage reads a message of the account and its pre-parsed body.
func (a *app) loadMessage(r *http.Request, acct int64) (store.Message, store.Body, error) {
	id, ok := pathID(r, "id")
	if !ok {
		return store.Message{}, store.Body{}, fmt.Errorf("message id %q: %w", r.PathValue("id"), store.ErrNotFound)
	}
	m, err := a.store.Message(r.Context(), acct, id)
	if err != nil {
		return m, store.Body{}, err
	}
	if m.Expunged && r.URL.Query().Get("deleted") != "1" {
		// Deleted messages are read from the Deleted view only.
		return m, store.Body{}, fmt.Errorf("message %d is deleted: %w", id, store.ErrNotFound)
	}
	b, err := a.store.Body(r.Context(), acct, m.BodyID)
	return m, b, err
}

// addressList is an envelope address list for display.
func addressList(as []message.Address) string { return strings.Join(addressNames(as), ", ") }

// addressNames are an envelope address list's addresses for display,
// each "Name <addr>" or "addr".
func addressNames(as []message.Address) []string {
	var out []string
	for _, ad := range as {
		if ad.GroupStart || ad.GroupEnd {
			continue
		}
		addr := ad.Mailbox
		if ad.Host != "" {
			addr += "@" + ad.Host
		}
		if name := message.DecodeHeader(ad.Name); name != "" {
			out = append(out, name+" <"+addr+">")
		} else {
			out = append(out, addr)
		}
	}
	return out
}

// recipients is a To or Cc line as the message page shows it: a message
// to a long list would push its text a screen or more down on a phone,
// so past shownRecipients the rest is folded (a <details>, no script).
type recipients struct {
	Shown string
	More  string // the rest, "" when none
	N     int    // how many the rest are
}

// shownRecipients is how many addresses a To or Cc line shows unfolded;
// one more than that is shown whole rather than folding one.
const shownRecipients = 3

func foldRecipients(as []message.Address) recipients {
	names := addressNames(as)
	if len(names) <= shownRecipients+1 {
		return recipients{Shown: strings.Join(names, ", ")}
	}
	rest := names[shownRecipients:]
	return recipients{Shown: strings.Join(names[:shownRecipients], ", "), More: strings.Join(rest, ", "), N: len(rest)}
}

// remoteStyleImages reports whether the message's stylesheet has images
// that load once images are allowed (messageHTML's web url()s): a
// newsletter drawn with CSS backgrounds alone needs the Show images
// button too.
func remoteStyleImages(doc string) bool {
	found := false
	sanitizeCSS(styleText(doc), func(u string) (string, bool) {
		low := strings.ToLower(u)
		found = found || strings.HasPrefix(low, "https://") || strings.HasPrefix(low, "http://")
		return "", false
	})
	return found
}

// remoteImage finds an image the sanitiser would leave out until allowed.
var remoteImage = regexp.MustCompile(`(?i)<img[^>]*\ssrc\s*=\s*["']?\s*(https?:)?//`)

func (a *app) messagePage(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	m, b, err := a.loadMessage(r, acct)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	// A message marked \Deleted is listed in Deleted, not in its
	// folder (deletedPage): it is shown as a deleted one, with Restore.
	gone := m.Expunged || m.Flags&store.FlagDeleted != 0
	if m.Flags&store.FlagSeen == 0 && !gone {
		// Opening a message reads it, as in every mail client.
		if _, _, err := a.store.StoreFlags(ctx, acct, m.MailboxID, []uint32{m.UID}, store.FlagsAdd, store.FlagSeen, nil, 0); err != nil {
			a.log.Warn("mark message read", "account", acct, "message", m.ID, "err", err)
		}
	}
	info := b.Info
	id := strconv.FormatInt(m.ID, 10)
	base := "/msg/" + id
	images := r.URL.Query().Get("images") == "1"
	deletedQ := deletedQuery(m)
	d := messageData{
		ID: m.ID, Subject: m.Subject, From: addressList(info.Envelope.From), To: foldRecipients(info.Envelope.To),
		Cc: foldRecipients(info.Envelope.Cc), Flagged: m.Flags&store.FlagFlagged != 0, Problems: info.Problems,
		ImagesAllowed: images, Reply: "/compose?reply=" + id, ReplyAll: "/compose?replyall=" + id,
		Forward: "/compose?forward=" + id, Raw: base + "/raw" + query(deletedQ),
		ShowImages: base + "?" + joinQuery(deletedQ, "images=1"),
	}
	if d.Subject == "" {
		d.Subject = "(no subject)"
	}
	if d.From == "" {
		d.From = m.From
	}
	if d.From == "" {
		d.From = noSender
	}
	date := info.Date
	if date.IsZero() {
		date = m.Received
	}
	d.setDate(date, a.now().Location())
	if !a.fillPage(w, r, acct, &d, m, &info.Part, analyse(info), images) {
		return
	}
	for _, f := range d.Folders {
		if f.ID == m.MailboxID {
			d.Folder, d.FolderName = f, folderName(f)
		} else {
			d.Targets = append(d.Targets, f)
		}
	}
	d.Back = d.Folder.Href
	d.Archived = d.Folder.Archive
	d.Sent = d.Folder.Name == store.Sent && !gone
	if gone {
		d.Back = "/deleted"
	} else if conversationsOn(r) {
		conv, err := a.conversation(ctx, acct, m)
		if err != nil {
			a.fail(w, r, acct, "open conversation", err)
			return
		}
		if len(conv) > 1 {
			names := map[int64]string{}
			for _, f := range d.Folders {
				names[f.ID] = f.Label
			}
			for _, c := range conv {
				row := a.row(c, names[c.MailboxID])
				row.Count = 0
				if c.ID == m.ID {
					row.Href = ""
				}
				d.Conversation = append(d.Conversation, row)
			}
		}
	}
	a.pages.message.Render(w, r, http.StatusOK, web.View{Title: title(d.Folders, d.Subject), App: "webmail", Nav: nav(d.Folders, "Mail"), Data: d})
}

// loadPart reads a message of the account and its part that the path
// value "path" names, when want takes it; false when there is none (404)
// or it could not be read, answered.
func (a *app) loadPart(w http.ResponseWriter, r *http.Request, acct int64, want func(*message.Part) bool) (store.Message, store.Body, string, *message.Part, bool) {
	m, b, err := a.loadMessage(r, acct)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return m, b, "", nil, false
	}
	path := partFromSegment(r.PathValue("path"))
	p, ok := findPart(&b.Info.Part, path)
	if !ok || !want(p) {
		web.NotFound(w, r)
		return m, b, path, nil, false
	}
	return m, b, path, p, true
}

// attachedPage shows a message attached to another (message/rfc822, as
// Outlook's "Forward as attachment" sends it) as a page of its own: its
// header, text and files, read from the outer message by range, with a
// way back to the outer message and the attached one's download.
func (a *app) attachedPage(w http.ResponseWriter, r *http.Request, acct int64) {
	m, b, path, p, ok := a.loadPart(w, r, acct, func(p *message.Part) bool { return p.Message != nil })
	if !ok {
		return
	}
	env := &p.Message.Envelope
	base := "/msg/" + strconv.FormatInt(m.ID, 10)
	deletedQ := deletedQuery(m)
	images := r.URL.Query().Get("images") == "1"
	// Reply and Forward work on the attached message (startDraft).
	of := strconv.FormatInt(m.ID, 10) + "&part=" + url.QueryEscape(path)
	d := messageData{ID: m.ID, Attached: true, Outer: m.Subject, Subject: strings.TrimSpace(message.DecodeHeader(env.Subject)),
		Reply: "/compose?reply=" + of, ReplyAll: "/compose?replyall=" + of, Forward: "/compose?forward=" + of,
		From: addressList(env.From), To: foldRecipients(env.To), Cc: foldRecipients(env.Cc), ImagesAllowed: images,
		Back: base + query(deletedQ), Raw: base + "/part/" + pathSegment(path) + query(deletedQ),
		ShowImages: base + "/attached/" + pathSegment(path) + "?" + joinQuery(deletedQ, "images=1")}
	if d.Subject == "" {
		d.Subject = "(no subject)"
	}
	if d.From == "" {
		d.From = noSender
	}
	if d.Outer == "" {
		d.Outer = "(no subject)"
	}
	if date, ok := message.ParseDate(env.Date); ok {
		d.setDate(date, a.now().Location())
	}
	if !a.fillPage(w, r, acct, &d, m, &b.Info.Part, analysePart(&p.Message.Part, append(splitPath(path), 0)), images) {
		return
	}
	a.pages.message.Render(w, r, http.StatusOK, web.View{Title: title(d.Folders, d.Subject), App: "webmail", Nav: nav(d.Folders, "Mail"), Data: d})
}

// deletedQuery is the query a deleted message's URLs carry (loadMessage).
func deletedQuery(m store.Message) string {
	if m.Expunged {
		return "deleted=1"
	}
	return ""
}

// setDate shows t, in loc, as the message's date.
func (d *messageData) setDate(t time.Time, loc *time.Location) {
	d.Date = t.In(loc).Format("Mon, 2 Jan 2006 15:04")
	d.ISODate = t.UTC().Format("2006-01-02T15:04:05Z")
}

// fillPage fills the page d of message m, or of a message attached to
// it, with the parts s chooses under root (fill) and the folders; false
// when it failed and was answered.
func (a *app) fillPage(w http.ResponseWriter, r *http.Request, acct int64, d *messageData, m store.Message, root *message.Part, s structure, images bool) bool {
	rr, closeBody, err := a.openRanges(r.Context(), acct, m.BodyID)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return false
	}
	defer closeBody()
	if err := d.fill(rr, root, s, "/msg/"+strconv.FormatInt(m.ID, 10), deletedQuery(m), images); err != nil {
		a.fail(w, r, acct, "read message", err)
		return false
	}
	if d.Folders, err = a.folders(r.Context(), acct, m.MailboxID); err != nil {
		a.fail(w, r, acct, "list folders", err)
		return false
	}
	return true
}

// fill adds the shown parts and the files of s, the structure of a
// message whose root is root, to the page: the text rendered, HTML in
// frames of its own, remote images noted, files with their sizes and
// links (base is the outer message's URL, deletedQ its deleted=1).
func (d *messageData) fill(rr ranger, root *message.Part, s structure, base, deletedQ string, images bool) error {
	for _, bp := range s.Body {
		p, _ := findPart(root, bp.Path)
		v := bodyView{HTML: bp.HTML, Download: base + "/part/" + pathSegment(bp.Path) + query(deletedQ)}
		if bp.HTML {
			v.FrameSrc = base + "/html?" + joinQuery("part="+url.QueryEscape(bp.Path), deletedQ)
			if images {
				v.FrameSrc += "&images=1"
			}
			if !d.RemoteImages {
				text, _, err := partText(rr, p, maxShownText)
				if err != nil {
					return err
				}
				d.RemoteImages = remoteImage.MatchString(text) || remoteStyleImages(text)
			}
		} else {
			text, cut, err := partText(rr, p, maxShownText)
			if err != nil {
				return err
			}
			v.Text, v.Truncated = renderPlain(text, strings.EqualFold(p.Param("format"), "flowed"), strings.EqualFold(p.Param("delsp"), "yes")), cut
		}
		d.Body = append(d.Body, v)
	}
	for _, at := range s.Attachments {
		if at.Related {
			continue
		}
		p, _ := findPart(root, at.Path)
		v := attachmentView{Name: at.Name, Type: at.Type, Size: humanSize(compose.DecodedSize(p, rr)),
			Download: base + "/part/" + pathSegment(at.Path) + query(deletedQ)}
		if at.Preview {
			v.Preview = base + "/part/" + pathSegment(at.Path) + "?" + joinQuery("inline=1", deletedQ)
		}
		if p.Message != nil {
			v.Open = base + "/attached/" + pathSegment(at.Path) + query(deletedQ)
		}
		d.Attachments = append(d.Attachments, v)
	}
	// One HTML body part, alone or with text parts around it (an
	// alternative's chosen HTML in a mixed message, a list's text
	// footer): the frame takes the room the rest leaves.
	html := 0
	for _, b := range d.Body {
		if b.HTML {
			html++
		}
	}
	d.Fill = html == 1
	return nil
}

func query(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

func joinQuery(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}

// pathSegment names a part in a URL path: the root part ("") is "0"
// there (dots stay: "1.2").
func pathSegment(p string) string {
	if p == "" {
		return "root"
	}
	return p
}

func partFromSegment(s string) string {
	if s == "root" {
		return ""
	}
	return s
}

func humanSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
}

// frameCSP is the HTML body frame's policy: nothing loads or runs but
// inline styles and images inlined from the message's own parts (data:),
// and https images once the user allowed them. The frame is sandboxed
// here too, for a browser that opens its URL on its own; links may open
// in a new, unsandboxed tab.
func frameCSP(images bool) string {
	img := "data:"
	if images {
		img += " https:"
	}
	return "default-src 'none'; img-src " + img + "; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; " +
		"form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox"
}

// cidSrc finds the images the sanitiser mapped from cid: URLs.
var cidSrc = regexp.MustCompile(`src="cid/([^"]*)"`)

// maxInlineImage bounds an image inlined into the frame from a cid: part.
const maxInlineImage = 8 << 20

// messageHTML serves one HTML part, sanitised, as the document of the
// message page's sandboxed frame. Images of the message's own parts
// (cid:, RFC 2392) are inlined as data: URLs: the frame's origin is
// opaque (no allow-same-origin), so requests from it carry no session
// cookie (SameSite=Strict) and could not fetch them.
func (a *app) messageHTML(w http.ResponseWriter, r *http.Request, acct int64) {
	m, b, err := a.loadMessage(r, acct)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	p, ok := findPart(&b.Info.Part, r.URL.Query().Get("part"))
	if !ok || p.Type != "text" || p.Subtype != "html" {
		web.NotFound(w, r)
		return
	}
	rr, closeBody, err := a.openRanges(r.Context(), acct, m.BodyID)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	defer closeBody()
	text, _, err := partText(rr, p, maxShownText)
	if err != nil {
		a.fail(w, r, acct, "read message", err)
		return
	}
	images := r.URL.Query().Get("images") == "1"
	clean := a.html.sanitize(text, images)
	cids := map[string]*message.Part{}
	var collect func(p *message.Part)
	collect = func(p *message.Part) {
		if id := strings.Trim(p.ID, "<> \t"); id != "" && p.Type == "image" && previewable(p.Type+"/"+p.Subtype) {
			cids[id] = p
		}
		for i := range p.Parts {
			collect(&p.Parts[i])
		}
		if p.Message != nil {
			// An attached message's HTML shows its own images.
			collect(&p.Message.Part)
		}
	}
	collect(&b.Info.Part)
	inlined := 0
	// inline returns the data: URL of the image part with Content-ID cid
	// (RFC 2392), within maxInlineImage for the whole message.
	inline := func(cid string) (string, bool) {
		ip := cids[cid]
		if ip == nil || inlined+int(ip.Size()) > maxInlineImage {
			return "", false
		}
		data, err := partBytes(rr, ip)
		if err != nil {
			return "", false
		}
		inlined += int(ip.Size())
		return "data:" + ip.Type + "/" + ip.Subtype + ";base64," + base64.StdEncoding.EncodeToString(data), true
	}
	clean = cidSrc.ReplaceAllStringFunc(clean, func(s string) string {
		if u, ok := inline(html.UnescapeString(cidSrc.FindStringSubmatch(s)[1])); ok {
			return `src="` + u + `"`
		}
		return `src=""`
	})
	// The message's own stylesheet, cleaned; its url()s are images too:
	// cid: parts inlined, web ones only once images are allowed.
	style := sanitizeCSS(styleText(text), func(u string) (string, bool) {
		switch low := strings.ToLower(u); {
		case strings.HasPrefix(low, "cid:"):
			cid, err := url.PathUnescape(u[4:])
			if err != nil {
				return "", false
			}
			return inline(cid)
		case strings.HasPrefix(low, "https://") && images:
			return u, true
		case strings.HasPrefix(low, "http://") && images:
			return "https://" + u[len("http://"):], true // see rewriteImage
		}
		return "", false
	})
	h := w.Header()
	h.Set("Content-Security-Policy", frameCSP(images))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	io.WriteString(w, htmlDocument(style, clean))
}

// contentDisposition writes a Content-Disposition with the file name both
// as an ASCII fallback and, when it is not plain ASCII, as RFC 8187
// filename* (RFC 6266 section 4.3). A name with "%" gets filename* too:
// browsers percent-decode a plain filename (RFC 6266 appendix D).
func contentDisposition(disp, name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, name)
	v := disp + `; filename="` + ascii + `"`
	if (ascii != name || strings.Contains(name, "%")) && utf8.ValidString(name) {
		v += "; filename*=UTF-8''" + extValue(name)
	}
	return v
}

// extValue percent-encodes s as an RFC 8187 value-chars: every byte but
// the attr-chars (section 3.2.1).
func extValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// messagePart downloads one part, decoded from its transfer encoding, as
// an attachment; with inline=1 an image or PDF is shown by the browser.
// The part is decoded as it is sent, a piece at a time (message.NewDecoder):
// a large file costs a few buffers per download, not its size.
func (a *app) messagePart(w http.ResponseWriter, r *http.Request, acct int64) {
	m, _, path, p, ok := a.loadPart(w, r, acct, func(p *message.Part) bool { return p.Type != "multipart" })
	if !ok {
		return
	}
	rr, closeBody, err := a.openRanges(r.Context(), acct, m.BodyID)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	defer closeBody()
	body := io.NewSectionReader(rr, p.BodyStart, max(p.End-p.BodyStart, 0))
	data, err := message.NewDecoder(body, p.Encoding)
	if err != nil {
		data = body // an unknown encoding: as written
	}
	at := describe(p, splitPath(path), false)
	typ := p.Type + "/" + p.Subtype
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	if r.URL.Query().Get("inline") == "1" && previewable(typ) {
		h.Set("Content-Type", typ)
		h.Set("Content-Disposition", contentDisposition("inline", at.Name))
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'none'")
	} else {
		if p.Type == "text" {
			typ += "; charset=" + charsetOr(p.Param("charset"))
		}
		h.Set("Content-Type", typ)
		h.Set("Content-Disposition", contentDisposition("attachment", at.Name))
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	}
	if data == io.Reader(body) {
		// Sent as stored: its length is known.
		h.Set("Content-Length", strconv.FormatInt(body.Size(), 10))
	}
	if _, err := io.Copy(w, data); err != nil && r.Context().Err() == nil {
		// Too late for an error page: the download ends short.
		a.log.Warn("send attachment", "account", acct, "message", m.ID, "part", path, "err", err)
	}
}

func charsetOr(cs string) string {
	cs = strings.Trim(cs, `"' `)
	if cs == "" || strings.ContainsAny(cs, ";,\r\n ") {
		return "us-ascii"
	}
	return cs
}

func splitPath(p string) []int {
	if p == "" {
		return nil
	}
	var out []int
	for _, s := range strings.Split(p, ".") {
		n, _ := strconv.Atoi(s)
		out = append(out, n)
	}
	return out
}

// messageRaw shows the message as received ("show original"): plain
// text, never sniffed, sandboxed.
func (a *app) messageRaw(w http.ResponseWriter, r *http.Request, acct int64) {
	m, _, err := a.loadMessage(r, acct)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	rc, err := a.store.OpenBody(r.Context(), acct, m.BodyID)
	if err != nil {
		a.fail(w, r, acct, "open message", err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	io.Copy(w, rc)
}
