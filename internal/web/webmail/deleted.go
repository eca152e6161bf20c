package webmail

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// deletedPage lists what the user deleted, here or over IMAP, in any
// folder, until the retention window ends: each can be restored to its
// folder, opened, or forwarded. A message a mail app only marked
// \Deleted (and has not expunged yet) is here too, not in its folder:
// wherever a user deleted it, this is where they look for it.
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
	if r.URL.Query().Get("rows") == "1" && fromScript(r) {
		a.pages.list.Fragment(w, r, http.StatusOK, "rows", web.View{Data: d})
		return
	}
	a.pages.list.Render(w, r, http.StatusOK, web.View{Title: title(folders, "Deleted"), App: "webmail", Nav: nav(folders, "Deleted"), Data: d})
}

// restore brings deleted messages (form values id) back to the folders
// they were deleted from. One still in its folder marked \Deleted (a
// webmail delete in its undo window, which is what Undo posts, or an
// IMAP client's mark before EXPUNGE) loses the mark and keeps its UID
// (store.PendingDeletes.RestoreMarked); an expunged one is restored
// under a new UID, and the store logs it as restored.
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
	byFolder := map[int64][]int64{}
	var order, marked []int64
	for _, id := range ids {
		m, err := a.store.Message(ctx, acct, id)
		if err != nil {
			a.fail(w, r, acct, "select message", err)
			return
		}
		switch {
		case m.Expunged:
			byFolder[m.MailboxID] = append(byFolder[m.MailboxID], m.ID)
		case m.Flags&store.FlagDeleted != 0:
			marked = append(marked, m.ID)
		default:
			continue
		}
		if !slices.Contains(order, m.MailboxID) {
			order = append(order, m.MailboxID)
		}
	}
	unmarked, err := a.store.RestoreMarked(ctx, acct, marked)
	if err != nil {
		a.fail(w, r, acct, "restore messages", err)
		return
	}
	n := len(unmarked)
	for _, mb := range order {
		if len(byFolder[mb]) == 0 {
			continue
		}
		done, err := a.store.Restore(ctx, acct, mb, byFolder[mb])
		if err != nil {
			a.fail(w, r, acct, "restore messages", err)
			return
		}
		n += len(done)
	}
	web.SetFlash(w, fmt.Sprintf("Restored %s.", plural(n, "message")))
	to := localPath(r.PostFormValue("back"), "/deleted")
	if len(order) == 1 && r.PostFormValue("back") == "" {
		to = "/mail/" + strconv.FormatInt(order[0], 10)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
