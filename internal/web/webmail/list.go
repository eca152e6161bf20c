package webmail

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// pageSize is how many messages one list page shows.
const pageSize = 50

// readRoutes registers the read side: folders, lists, reading,
// attachments, search, Deleted and live updates.
func (a *app) readRoutes(mux *http.ServeMux) {
	a.handle(mux, "GET /{$}", a.inbox)
	a.handle(mux, "GET /mail/{mailbox}", a.mailbox)
	a.handle(mux, "GET /mail/{mailbox}/rows", a.mailboxRows)
	a.handle(mux, "GET /mail/{mailbox}/changes", a.mailboxChanges)
	a.handle(mux, "POST /prefs/conversations", a.setConversations)
	a.messageRoutes(mux)
	a.handle(mux, "POST /actions", a.actions)
	a.handle(mux, "GET /search", a.searchPage)
	a.handle(mux, "GET /deleted", a.deletedPage)
	a.handle(mux, "POST /deleted/restore", a.restore)
	a.handle(mux, "GET /events", a.events)
	// Every other path under the webmail: the web layer's own 404 page.
	mux.HandleFunc("/", web.NotFound)
}

// folderItem is one folder in the side list.
type folderItem struct {
	ID     int64
	Name   string // the full name ("Projects/Blue")
	Label  string // the last level ("Blue")
	Depth  int    // levels below the top, for indentation
	Unseen uint32
	// ModSeq is the folder's HIGHESTMODSEQ (RFC 7162), read before its
	// unread count and before the page's list: the live-update stream
	// sends the changes made since (events, seen=).
	ModSeq  uint64
	Href    string
	Current bool
	Icon    string // a class for special folders
	Archive bool   // the archive folder (\Archive, RFC 6154)
}

// rowItem is one line of a message list.
type rowItem struct {
	ID        int64
	UID       uint32 // in its folder (a folder's live updates remove rows by UID)
	Conv      string // its conversation (convKey), in a list by conversation
	Href      string
	From      string
	Subject   string
	Preview   string
	Date      string // short, for the list
	DateTitle string // full, as a tooltip
	ISODate   string
	Unread    bool
	Flagged   bool
	Answered  bool
	Count     int    // messages in the conversation, when above 1
	Cursor    string // the list position just after this row (formatCursor)
	Folder    string // the message's folder, in search results and Deleted
	Forward   string // a forward link (Deleted)
}

// listData is the dot's Data of the list pages (a folder, search results,
// Deleted).
type listData struct {
	Kind    string // "mailbox", "search", "deleted"
	Heading string
	Folders []folderItem
	Mailbox folderItem // the folder shown (Kind mailbox)
	Rows    []rowItem
	More    string // URL of the next rows, "" at the end
	Refresh string // URL of these rows again, for live updates (mail.js adds upto=)
	// Changes is the URL of a folder's changes since ModSeq, the
	// folder's HIGHESTMODSEQ when the page was read (mailboxChanges).
	Changes  string
	ModSeq   uint64
	Conv     bool   // conversation view on
	Query    string // the search box
	Problems []string
	Undo     []int64      // ids just deleted, for the undo form
	Targets  []folderItem // where selected messages can move
	Back     string       // where actions return to
	Empty    string       // what an empty list says
}

// folders lists the account's folders, special ones first, the rest by
// name, with their unread counts as the lists show them: without the
// messages marked \Deleted (store.Webmail.LiveUnseen), which are in
// Deleted, not in their folder.
func (a *app) folders(ctx context.Context, acct int64, current int64) ([]folderItem, error) {
	mbs, err := a.store.Mailboxes(ctx, acct)
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	unseen, err := a.store.LiveUnseen(ctx, acct)
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	for i := range mbs {
		if n, ok := unseen[mbs[i].ID]; ok {
			mbs[i].Unseen = n
		}
	}
	rank := func(m store.Mailbox) int {
		switch m.Name {
		case store.Inbox:
			return 0
		case store.Drafts:
			return 1
		case store.Sent:
			return 2
		case store.Trash:
			return 4
		}
		if m.SpecialUse == archiveUse {
			return 3
		}
		return 5
	}
	slices.SortStableFunc(mbs, func(x, y store.Mailbox) int {
		if d := rank(x) - rank(y); d != 0 {
			return d
		}
		return strings.Compare(x.Name, y.Name)
	})
	out := make([]folderItem, 0, len(mbs))
	for _, m := range mbs {
		label := m.Name
		depth := strings.Count(m.Name, "/")
		if depth > 0 {
			label = m.Name[strings.LastIndexByte(m.Name, '/')+1:]
		}
		if m.Name == store.Inbox {
			label = "Inbox"
		}
		icon := ""
		if rank(m) < 5 {
			icon = "folder-" + strings.ToLower(m.Name)
		}
		out = append(out, folderItem{ID: m.ID, Name: m.Name, Label: label, Depth: min(depth, 6), Unseen: m.Unseen, ModSeq: m.HighestModSeq,
			Href: "/mail/" + strconv.FormatInt(m.ID, 10), Current: m.ID == current, Icon: icon, Archive: m.SpecialUse == archiveUse})
	}
	return out, nil
}

// folderName is a folder's full name as lists show it ("Inbox" for
// INBOX).
func folderName(f folderItem) string {
	if f.Name == store.Inbox {
		return f.Label
	}
	return f.Name
}

// nav is the top bar of every webmail page, with the INBOX's unread count.
func nav(folders []folderItem, current string) []web.NavLink {
	badge := ""
	for _, f := range folders {
		if f.Name == store.Inbox && f.Unseen > 0 {
			badge = strconv.FormatUint(uint64(f.Unseen), 10)
		}
	}
	links := []web.NavLink{
		{Label: "Mail", Href: "/", Badge: badge},
		{Label: "Search", Href: "/search"},
		{Label: "Deleted", Href: "/deleted"},
		{Label: "Compose", Href: "/compose"},
		{Label: "Settings", Href: "/settings"},
	}
	for i := range links {
		links[i].Current = links[i].Label == current
	}
	return links
}

// title is a page title with the INBOX's unread count before it, as mail
// clients show it in the tab.
func title(folders []folderItem, s string) string {
	for _, f := range folders {
		if f.Name == store.Inbox && f.Unseen > 0 {
			return fmt.Sprintf("(%d) %s", f.Unseen, s)
		}
	}
	return s
}

// formatCursor and parseCursor carry a list position in a URL.
func formatCursor(c store.Cursor) string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.Received.UnixMilli(), 10) + "." + strconv.FormatInt(c.ID, 10)
}

func parseCursor(s string) (store.Cursor, bool) {
	if s == "" {
		return store.Cursor{}, true
	}
	ms, id, ok := strings.Cut(s, ".")
	if !ok {
		return store.Cursor{}, false
	}
	t, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return store.Cursor{}, false
	}
	return store.Cursor{Received: time.UnixMilli(t), ID: n}, true
}

// pathID reads a positive id from the URL path.
func pathID(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

// shortDate is a message's date as a list shows it: the time today, the
// day this year, the full date before.
func shortDate(t, now time.Time) string {
	t = t.In(now.Location())
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("2 Jan")
	}
	return t.Format("2 Jan 2006")
}

// noSender stands for the sender of a message without a From address,
// in the list and on the message page alike.
const noSender = "(no sender)"

// row makes a list line of a message.
func (a *app) row(m store.Message, folder string) rowItem {
	from := m.From
	if from == "" {
		from = noSender
	} else if i := strings.Index(from, " <"); i > 0 {
		from = strings.Trim(from[:i], `"`)
	}
	subj := m.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	now := a.now()
	href := "/msg/" + strconv.FormatInt(m.ID, 10)
	if m.Flags&store.FlagDraft != 0 && !m.Expunged {
		// A draft opens where it can be finished and sent.
		href = "/compose?draft=" + strconv.FormatInt(m.ID, 10)
	}
	return rowItem{
		ID: m.ID, UID: m.UID, Href: href, From: from, Subject: subj, Preview: m.Preview,
		Date: shortDate(m.Received, now), DateTitle: m.Received.In(now.Location()).Format("Mon, 2 Jan 2006 15:04"),
		ISODate: m.Received.UTC().Format(time.RFC3339),
		Unread:  m.Flags&store.FlagSeen == 0, Flagged: m.Flags&store.FlagFlagged != 0, Answered: m.Flags&store.FlagAnswered != 0,
		Folder: folder, Cursor: formatCursor(store.CursorOf(m)),
	}
}

// cursors are the list positions after each message.
func cursors(ms []store.Message) []store.Cursor {
	out := make([]store.Cursor, len(ms))
	for i, m := range ms {
		out[i] = store.CursorOf(m)
	}
	return out
}

// conversationsOn reads the user's choice (a cookie; on unless switched
// off).
func conversationsOn(r *http.Request) bool {
	c, err := r.Cookie("xm-conv")
	return err != nil || c.Value != "off"
}

func (a *app) setConversations(w http.ResponseWriter, r *http.Request, acct int64) {
	v := "on"
	if r.FormValue("conv") == "off" {
		v = "off"
	}
	http.SetCookie(w, &http.Cookie{Name: "xm-conv", Value: v, Path: "/", MaxAge: 400 * 24 * 3600, Secure: true,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, localPath(r.FormValue("back"), "/"), http.StatusSeeOther)
}

// localPath keeps a redirect target on this site: a path, never a URL
// to elsewhere ("//evil.test", "/\evil.test").
func localPath(p, def string) string { return web.LocalPath(p, "/", def) }

func (a *app) inbox(w http.ResponseWriter, r *http.Request, acct int64) {
	mb, err := a.store.Mailbox(r.Context(), acct, store.Inbox)
	if err != nil {
		a.fail(w, r, acct, "open INBOX", err)
		return
	}
	a.showMailbox(w, r, acct, mb, false)
}

func (a *app) mailbox(w http.ResponseWriter, r *http.Request, acct int64) {
	a.mailboxPage(w, r, acct, false)
}

func (a *app) mailboxRows(w http.ResponseWriter, r *http.Request, acct int64) {
	a.mailboxPage(w, r, acct, true)
}

func (a *app) mailboxPage(w http.ResponseWriter, r *http.Request, acct int64, rows bool) {
	id, ok := pathID(r, "mailbox")
	if !ok {
		web.NotFound(w, r)
		return
	}
	mb, err := a.store.MailboxByID(r.Context(), acct, id)
	if err != nil {
		a.fail(w, r, acct, "open folder", err)
		return
	}
	a.showMailbox(w, r, acct, mb, rows)
}

// showMailbox renders a folder's page, or with rows only its next rows
// (the htmx "more" request and live refreshes).
func (a *app) showMailbox(w http.ResponseWriter, r *http.Request, acct int64, mb store.Mailbox, rows bool) {
	ctx := r.Context()
	win, ok := parseWindow(r)
	if !ok {
		web.Error(w, r, http.StatusBadRequest, "That page link is broken. Go back to the folder.")
		return
	}
	conv := conversationsOn(r)
	base := "/mail/" + strconv.FormatInt(mb.ID, 10)
	d := listData{Kind: "mailbox", Conv: conv, Back: base,
		Refresh: base + "/rows?after=" + formatCursor(win.after),
		Changes: base + "/changes", ModSeq: mb.HighestModSeq}
	var msgs []store.Message // each row's (newest) message
	var counts []store.Conversation
	if conv {
		// By conversation across pages: the store keeps each thread's
		// newest message, count and unseen count per mailbox, so a page
		// is one index walk and a thread is listed once, at its newest.
		cvs, err := a.store.ConversationPage(ctx, acct, mb.ID, win.after, win.limit)
		if err != nil {
			a.fail(w, r, acct, "list folder", err)
			return
		}
		for _, cv := range cvs {
			msgs = append(msgs, cv.Newest)
		}
		counts = cvs
	} else {
		var err error
		if msgs, err = a.store.MessagePage(ctx, acct, mb.ID, win.after, win.limit); err != nil {
			a.fail(w, r, acct, "list folder", err)
			return
		}
	}
	n := win.keep(cursors(msgs))
	for i, m := range msgs[:n] {
		row := a.row(m, "")
		if counts != nil {
			row.Count, row.Unread, row.Conv = counts[i].Messages, counts[i].Unseen > 0, convKey(counts[i].Key)
		}
		d.Rows = append(d.Rows, row)
	}
	d.More = win.more(base+"/rows?", msgs, n)
	if rows && fromScript(r) {
		a.pages.list.Fragment(w, r, http.StatusOK, "rows", web.View{Data: d})
		return
	}
	var err error
	if d.Folders, err = a.folders(ctx, acct, mb.ID); err != nil {
		a.fail(w, r, acct, "list folders", err)
		return
	}
	for i, f := range d.Folders {
		if f.ID == mb.ID {
			// The list was read after mb, before the folders: the
			// page has seen this folder as of mb's modseq, and a
			// change made in between comes by the stream.
			d.Folders[i].ModSeq = min(f.ModSeq, mb.HighestModSeq)
			d.Mailbox = d.Folders[i]
		} else {
			d.Targets = append(d.Targets, f)
		}
	}
	d.Heading = d.Mailbox.Label
	d.Empty = "No messages in this folder."
	if u := r.URL.Query().Get("undo"); u != "" {
		if ids := parseIDs(strings.Split(u, ",")); len(ids) > 0 {
			d.Undo = ids
		}
	}
	cur := "Mail"
	a.pages.list.Render(w, r, http.StatusOK, web.View{Title: title(d.Folders, d.Heading), App: "webmail", Nav: nav(d.Folders, cur), Data: d})
}

// parseIDs reads message ids from form values, dropping what is not one.
func parseIDs(vals []string) []int64 {
	var ids []int64
	for _, v := range vals {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 && !slices.Contains(ids, n) {
			ids = append(ids, n)
		}
		if len(ids) >= 1000 {
			break
		}
	}
	return ids
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}
