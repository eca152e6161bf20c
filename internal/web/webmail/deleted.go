package webmail

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/xtramail/xtramail/internal/web"
)

// deletedPage lists what the user deleted, here or over IMAP, in any
// folder, until the retention window ends: each can be restored to its
// folder, opened, or forwarded.
func (a *app) deletedPage(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	win, ok := parseWindow(r)
	if !ok {
		web.Error(w, r, http.StatusBadRequest, "That page link is broken. Go back to Deleted.")
		return
	}
	msgs, err := a.store.DeletedPage(ctx, acct, win.after, win.limit)
	if err != nil {
		a.fail(w, r, acct, "list deleted", err)
		return
	}
	folders, err := a.folders(ctx, acct, 0)
	if err != nil {
		a.fail(w, r, acct, "list folders", err)
		return
	}
	names := map[int64]string{}
	for _, f := range folders {
		names[f.ID] = folderName(f)
	}
	d := listData{Kind: "deleted", Heading: "Deleted", Folders: folders, Back: "/deleted",
		Refresh: "/deleted?rows=1&after=" + formatCursor(win.after),
		Empty:   "Nothing deleted. Messages you delete here or in a mail app stay here until the retention window ends."}
	n := win.keep(cursors(msgs))
	for _, m := range msgs[:n] {
		row := a.row(m, names[m.MailboxID])
		row.Href += "?deleted=1"
		row.Forward = "/compose?forward=" + strconv.FormatInt(m.ID, 10)
		d.Rows = append(d.Rows, row)
	}
	d.More = win.more("/deleted?rows=1&", msgs, n)
	if r.URL.Query().Get("rows") == "1" {
		a.pages.list.Fragment(w, r, http.StatusOK, "rows", web.View{Data: d})
		return
	}
	a.pages.list.Render(w, r, http.StatusOK, web.View{Title: title(folders, "Deleted"), App: "webmail", Nav: nav(folders, "Deleted"), Data: d})
}

// restore brings deleted messages (form values id) back to the folders
// they were deleted from: a delete still in its undo window is taken
// back in place (same UID), an expunged message is restored under a new
// UID; the store logs each as restored.
func (a *app) restore(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		web.Error(w, r, http.StatusBadRequest, "That form could not be read. Go back and try again.")
		return
	}
	ids := parseIDs(r.PostForm["id"])
	if len(ids) > maxSelected {
		ids = ids[:maxSelected]
	}
	undone, err := a.store.UndoDelete(ctx, acct, ids)
	if err != nil {
		a.fail(w, r, acct, "undo delete", err)
		return
	}
	n := len(undone)
	byFolder := map[int64][]int64{}
	var order []int64
	for _, id := range ids {
		if slices.Contains(undone, id) {
			continue
		}
		m, err := a.store.Message(ctx, acct, id)
		if err != nil {
			a.fail(w, r, acct, "select message", err)
			return
		}
		if !m.Expunged {
			continue
		}
		if _, ok := byFolder[m.MailboxID]; !ok {
			order = append(order, m.MailboxID)
		}
		byFolder[m.MailboxID] = append(byFolder[m.MailboxID], m.ID)
	}
	for _, mb := range order {
		done, err := a.store.Restore(ctx, acct, mb, byFolder[mb])
		if err != nil {
			a.fail(w, r, acct, "restore messages", err)
			return
		}
		n += len(done)
	}
	web.SetFlash(w, fmt.Sprintf("Restored %s.", plural(n, "message")))
	back := localPath(r.PostFormValue("back"), "/deleted")
	if len(order) == 1 && r.PostFormValue("back") == "" {
		back = "/mail/" + strconv.FormatInt(order[0], 10)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
