package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// queuePage is how many queue entries a page lists, oldest first.
const queuePage = 200

type queueData struct {
	base
	Entries []store.QueueEntry
	// More is the next page's URL; "" on the last.
	More string
}

func (a *app) queue(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	var after int64
	if s := r.URL.Query().Get("after"); s != "" {
		var ok bool
		if after, ok = parseID(s); !ok {
			web400(w, r, "That is not a page of the queue.")
			return
		}
	}
	pg, err := a.ops.QueueEntries(r.Context(), p, admin.QueueListing{AfterID: after, Limit: queuePage})
	if err != nil {
		a.fail(w, r, p, "list queue", err)
		return
	}
	d := queueData{Entries: pg.Entries}
	if pg.Next != 0 {
		d.More = "/console/queue?after=" + strconv.FormatInt(pg.Next, 10)
	}
	a.render(w, r, p, http.StatusOK, "queue", "Outbound queue", "/console/queue", d)
}

// queueAction retries or deletes the selected entries. An id outside the
// principal's subtree is not found (404), as on every page.
func (a *app) queueAction(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, p, "queue form", err)
		return
	}
	var ids []int64
	for _, v := range r.PostForm["id"] {
		id, ok := parseID(v)
		if !ok {
			a.fail(w, r, p, "queue ids", store.ErrNotFound)
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		a.done(w, r, "Select entries first.", "/console/queue")
		return
	}
	var n int
	var err error
	switch r.PostFormValue("action") {
	case "retry":
		n, err = a.ops.RetryQueue(r.Context(), p, ids)
	case "delete":
		n, err = a.ops.DeleteQueue(r.Context(), p, ids)
	default:
		web400(w, r, "Choose retry or delete.")
		return
	}
	var sending *store.SendingError
	if errors.As(err, &sending) {
		// Deleted what could be; those being delivered are left.
		msg := "1 entry was being delivered at that moment and was left: the message log will show how it ended."
		if k := len(sending.IDs); k > 1 {
			msg = itoa(int64(k)) + " entries were being delivered at that moment and were left: the message log will show how each ended."
		}
		if n > 0 {
			msg = "Deleted " + plural(n, "entry", "entries") + ". " + msg
		}
		a.done(w, r, msg, "/console/queue")
		return
	}
	if err == nil && n < len(ids) {
		err = store.ErrNotFound // some ids were not the principal's (or are gone)
	}
	if err != nil {
		a.fail(w, r, p, "queue "+r.PostFormValue("action"), err)
		return
	}
	verb := "Retrying "
	if r.PostFormValue("action") == "delete" {
		verb = "Deleted "
	}
	a.done(w, r, verb+plural(n, "entry", "entries")+".", "/console/queue")
}

type auditForm struct{ Actor, Action, Object string }

type auditData struct {
	base
	Q       auditForm
	Records []store.AuditRecord
	More    string
}

const auditPage = 100

func (a *app) audit(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	q := r.URL.Query()
	f := auditForm{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Object: strings.TrimSpace(q.Get("object"))}
	aq := store.AuditQuery{Actor: f.Actor, Action: f.Action, Object: f.Object, Limit: auditPage + 1}
	if v := q.Get("before"); v != "" {
		id, ok := parseID(v)
		if !ok {
			web400(w, r, "The page is not valid.")
			return
		}
		aq.BeforeID = id
	}
	recs, err := a.ops.SearchAudit(r.Context(), p, aq)
	if err != nil {
		a.fail(w, r, p, "search audit", err)
		return
	}
	d := auditData{Q: f, Records: recs}
	if len(recs) > auditPage {
		d.Records = recs[:auditPage]
		more := url.Values{"actor": {f.Actor}, "action": {f.Action}, "object": {f.Object},
			"before": {strconv.FormatInt(d.Records[auditPage-1].ID, 10)}}
		d.More = "/console/audit?" + more.Encode()
	}
	a.render(w, r, p, http.StatusOK, "audit", "Audit log", "/console/audit", d)
}
