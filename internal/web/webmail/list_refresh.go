package webmail

import (
	"net/http"

	"github.com/xtramail/xtramail/internal/store"
)

// refreshMax bounds the rows one live refresh re-reads: a user who
// scrolled further than this gets the first refreshMax rows again and a
// "More" row.
const refreshMax = 500

// listWindow is what rows a list request asks for: after is where the
// rows start (the page's own cursor), upto, when set, the last row the
// browser shows. A live refresh (mail.js) asks for every row from after
// down to upto, so that whatever the user paged to, scrolled to or
// searched is listed again with its changes, not only a first page.
type listWindow struct {
	after store.Cursor
	upto  store.Cursor // zero: one page
	limit int
}

// parseWindow reads ?after= and ?upto=; ok is false when either is
// broken.
func parseWindow(r *http.Request) (listWindow, bool) {
	q := r.URL.Query()
	after, ok1 := parseCursor(q.Get("after"))
	upto, ok2 := parseCursor(q.Get("upto"))
	w := listWindow{after: after, upto: upto, limit: pageSize}
	if !upto.IsZero() {
		w.limit = refreshMax
	}
	return w, ok1 && ok2
}

// keep returns how many of a newest-first list's items to show: all of
// a page, or for a refresh those down to upto (items older than upto are
// beyond what the browser showed).
func (w listWindow) keep(cursors []store.Cursor) int {
	if w.upto.IsZero() {
		return len(cursors)
	}
	for i, c := range cursors {
		if older(c, w.upto) {
			return i
		}
	}
	return len(cursors)
}

// older reports whether a comes after b in a newest-first list.
func older(a, b store.Cursor) bool {
	if !a.Received.Equal(b.Received) {
		return a.Received.Before(b.Received)
	}
	return a.ID < b.ID
}

// more is the URL of the rows after the n shown of msgs (prefix is the
// rows URL up to its query), "" when none follow.
func (w listWindow) more(prefix string, msgs []store.Message, n int) string {
	if n == len(msgs) && len(msgs) < w.limit {
		return ""
	}
	next := w.after
	if n > 0 {
		next = store.CursorOf(msgs[n-1])
	}
	return prefix + "after=" + formatCursor(next)
}

// fromScript reports a request made by the page's scripts (htmx, or
// mail.js's refresh, which send HX-Request), answered with rows alone.
// The same URL followed as a plain link (the "More messages" link before
// the scripts ran, or without them) gets the whole page from there.
func fromScript(r *http.Request) bool { return r.Header.Get("HX-Request") != "" }
