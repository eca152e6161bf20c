package webmail

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// maxSelected bounds the messages one action changes.
const maxSelected = 1000

// actions applies a list toolbar or message page action to the selected
// messages (form values id): read, unread, flag, unflag, delete (to
// Deleted, restorable, with an undo link), move (to a folder id),
// archive (a move to the Archive folder, made on first use). Every id is
// looked up with the account, so another's is ErrNotFound.
func (a *app) actions(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		web.Error(w, r, http.StatusBadRequest, "That form could not be read. Go back and try again.")
		return
	}
	ids := parseIDs(r.PostForm["id"])
	back := localPath(r.PostFormValue("back"), "/")
	if len(ids) == 0 {
		web.SetFlash(w, "Select messages first.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if len(ids) > maxSelected {
		ids = ids[:maxSelected]
	}
	// Group the live messages by folder: flags, moves and deletes work
	// per folder.
	type group struct {
		ids  []int64
		uids []uint32
	}
	groups := map[int64]*group{}
	var order []int64
	for _, id := range ids {
		m, err := a.store.Message(ctx, acct, id)
		if err != nil {
			a.fail(w, r, acct, "select message", err)
			return
		}
		if m.Expunged {
			continue
		}
		g := groups[m.MailboxID]
		if g == nil {
			g = &group{}
			groups[m.MailboxID] = g
			order = append(order, m.MailboxID)
		}
		g.ids = append(g.ids, m.ID)
		g.uids = append(g.uids, m.UID)
	}
	action := r.PostFormValue("action")
	var to int64
	if action == "move" {
		n, err := strconv.ParseInt(r.PostFormValue("to"), 10, 64)
		if err != nil {
			web.Error(w, r, http.StatusBadRequest, "Choose a folder to move to.")
			return
		}
		mb, err := a.store.MailboxByID(ctx, acct, n)
		if err != nil {
			a.fail(w, r, acct, "move messages", err)
			return
		}
		to = mb.ID
	}
	if action == "archive" {
		mb, err := a.archiveFolder(ctx, acct)
		if err != nil {
			a.fail(w, r, acct, "archive messages", err)
			return
		}
		to = mb.ID
	}
	n := 0
	for _, mb := range order {
		g := groups[mb]
		var err error
		switch action {
		case "read", "unread", "flag", "unflag":
			op, flag := store.FlagsAdd, store.FlagSeen
			switch action {
			case "unread":
				op = store.FlagsRemove
			case "flag":
				flag = store.FlagFlagged
			case "unflag":
				op, flag = store.FlagsRemove, store.FlagFlagged
			}
			_, _, err = a.store.StoreFlags(ctx, acct, mb, g.uids, op, flag, nil, 0)
		case "delete":
			err = a.deleteLater(ctx, acct, mb, g.ids)
		case "move", "archive":
			if mb != to {
				_, err = a.store.Move(ctx, acct, mb, g.uids, to)
			}
		default:
			web.Error(w, r, http.StatusBadRequest, "Unknown action.")
			return
		}
		if err != nil {
			a.fail(w, r, acct, action+" messages", err)
			return
		}
		n += len(g.ids)
	}
	switch action {
	case "delete":
		// The list offers an undo: during the window the messages
		// are only marked (deleteLater), and Undo unmarks them.
		back = addQuery(back, "undo="+joinIDs(ids))
	case "move":
		web.SetFlash(w, fmt.Sprintf("Moved %s.", plural(n, "message")))
	case "archive":
		web.SetFlash(w, fmt.Sprintf("Archived %s.", plural(n, "message")))
	}
	if r.PostFormValue("from") == "message" && (action == "delete" || action == "move" || action == "archive") {
		// The message left its folder: go back to the folder.
		back = localPath(r.PostFormValue("folder"), "/")
		if action == "delete" {
			back = addQuery(back, "undo="+joinIDs(ids))
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func addQuery(p, q string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' {
			return p + "&" + q
		}
	}
	return p + "?" + q
}

// deleteLater deletes messages of one folder with an undo window: they
// stay in the folder under their UIDs, marked \Deleted and out of the
// webmail's lists, until the window ends and the store expunges them
// into Deleted (store.PendingDeletes). Undo within the window clears the
// mark, so an IMAP client sees the same message, not a new UID. With no
// window they are expunged at once (restorable from Deleted, under a new
// UID).
func (a *app) deleteLater(ctx context.Context, acct, mailbox int64, ids []int64) error {
	if a.opt.UndoDelete <= 0 {
		return a.store.Expunge(ctx, acct, mailbox, ids)
	}
	_, err := a.store.DeleteLater(ctx, acct, ids, a.now().Add(a.opt.UndoDelete))
	return err
}
