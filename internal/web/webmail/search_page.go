package webmail

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// searchPage answers the search box with results from every folder,
// newest first; ?rows=1 gives the next rows alone (htmx "more").
func (a *app) searchPage(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	qs := r.URL.Query()
	text := qs.Get("q")
	win, ok := parseWindow(r)
	if !ok {
		web.Error(w, r, http.StatusBadRequest, "That page link is broken. Search again.")
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
	d := listData{Kind: "search", Heading: "Search", Folders: folders, Query: text, Back: "/search?" + url.Values{"q": {text}}.Encode()}
	if text != "" {
		d.Refresh = "/search?" + url.Values{"q": {text}, "rows": {"1"}, "after": {formatCursor(win.after)}}.Encode()
	}
	q := parseSearch(text, a.now().Location())
	d.Problems = q.Problems
	if text == "" {
		d.Empty = "Search all folders: words, \"a phrase\", from:, to:, subject:, has:attachment, is:unread, before:2026-12-01, after:, in:Sent."
	} else {
		d.Empty = "No messages found."
		res, err := a.search(ctx, acct, q, win.after, win.limit)
		if errors.Is(err, store.ErrNotFound) && q.Folder != "" {
			d.Problems = append(d.Problems, "There is no folder named "+q.Folder+".")
			err = nil
		}
		if err != nil {
			a.fail(w, r, acct, "search", err)
			return
		}
		n := win.keep(cursors(res.Messages))
		for _, m := range res.Messages[:n] {
			d.Rows = append(d.Rows, a.row(m, names[m.MailboxID]))
		}
		if n < len(res.Messages) {
			res.Next = win.after
			if n > 0 {
				res.Next = store.CursorOf(res.Messages[n-1])
			}
		}
		if !res.Next.IsZero() {
			d.More = "/search?" + url.Values{"q": {text}, "rows": {"1"}, "after": {formatCursor(res.Next)}}.Encode()
		}
	}
	if qs.Get("rows") == "1" && fromScript(r) {
		a.pages.list.Fragment(w, r, http.StatusOK, "rows", web.View{Data: d})
		return
	}
	t := "Search"
	if text != "" {
		t = text + " · Search"
	}
	a.pages.list.Render(w, r, http.StatusOK, web.View{Title: title(folders, t), App: "webmail", Nav: nav(folders, "Search"), Data: d})
}
