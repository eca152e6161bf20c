package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// logPage is how many records one page of the log shows.
const logPage = 100

// logForm is the filter form as typed (dates as yyyy-mm-dd).
type logForm struct {
	Address, MessageID, Subject, Since, Until string
	Status                                    store.LogStatus
}

type logData struct {
	base
	Q        logForm
	Statuses []store.LogStatus
	Searched bool
	Events   []store.LogEvent
	More     string
}

func (a *app) logSearch(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	q := r.URL.Query()
	f := logForm{Address: strings.TrimSpace(q.Get("address")), MessageID: strings.Trim(strings.TrimSpace(q.Get("message_id")), "<>"),
		Subject: strings.TrimSpace(q.Get("subject")), Since: q.Get("since"), Until: q.Get("until"), Status: store.LogStatus(q.Get("status"))}
	d := logData{Q: f, Statuses: admin.LogStatuses, Searched: len(q) > 0}
	if !d.Searched {
		a.render(w, r, p, http.StatusOK, "log", "Message log", "/console/log", d)
		return
	}
	lq := admin.LogSearch{Address: f.Address, MessageID: f.MessageID, Subject: f.Subject, Status: f.Status,
		Cursor: q.Get("cursor"), Limit: logPage}
	var err error
	if lq.Since, err = parseDay(f.Since); err != nil {
		d.Error = "The start date is not a date."
	}
	if lq.Until, err = parseDay(f.Until); err != nil {
		d.Error = "The end date is not a date."
	} else if !lq.Until.IsZero() {
		lq.Until = lq.Until.AddDate(0, 0, 1) // the whole end day
	}
	if d.Error != "" {
		a.render(w, r, p, http.StatusBadRequest, "log", "Message log", "/console/log", d)
		return
	}
	pg, err := a.ops.SearchLog(r.Context(), p, lq)
	if err != nil {
		a.failForm(w, r, p, "search log", err, func(msg string) {
			d.Error = msg
			a.render(w, r, p, http.StatusBadRequest, "log", "Message log", "/console/log", d)
		})
		return
	}
	d.Events = pg.Events
	if pg.Next != "" {
		more := r.URL.Query()
		more.Set("cursor", pg.Next)
		d.More = "/console/log?" + more.Encode()
	}
	a.render(w, r, p, http.StatusOK, "log", "Message log", "/console/log", d)
}

// parseDay reads a date input's value (RFC 3339 full-date), in UTC.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}

type timelineData struct {
	base
	MessageID string
	Subject   string
	Events    []store.LogEvent
	Copies    []store.MessageCopy
}

func (a *app) timeline(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	a.timelinePage(w, r, p, http.StatusOK, "")
}

func (a *app) timelinePage(w http.ResponseWriter, r *http.Request, p admin.Principal, status int, msg string) {
	mid := strings.Trim(strings.TrimSpace(r.FormValue("message_id")), "<>")
	if mid == "" {
		http.Redirect(w, r, "/console/log", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	evs, err := a.ops.Timeline(ctx, p, mid)
	if err != nil {
		a.fail(w, r, p, "timeline", err)
		return
	}
	copies, err := a.ops.MessageCopies(ctx, p, mid)
	if err != nil {
		a.fail(w, r, p, "message copies", err)
		return
	}
	if len(evs) == 0 && len(copies) == 0 {
		// Nothing of it in the principal's subtree: as for any foreign id.
		a.fail(w, r, p, "timeline", store.ErrNotFound)
		return
	}
	d := timelineData{base: base{Error: msg}, MessageID: mid, Events: evs, Copies: copies}
	for _, e := range evs {
		if e.Subject != "" {
			d.Subject = e.Subject
			break
		}
	}
	a.render(w, r, p, status, "timeline", "Message timeline", "/console/log", d)
}

func timelineURL(mid string) string {
	return "/console/log/timeline?message_id=" + url.QueryEscape(mid)
}

// copyForm reads the copy a restore or redeliver form names.
func copyForm(r *http.Request) (address string, id int64, ok bool) {
	id, ok = parseID(r.PostFormValue("id"))
	return strings.TrimSpace(r.PostFormValue("address")), id, ok
}

func (a *app) restore(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	addr, id, ok := copyForm(r)
	if !ok {
		a.fail(w, r, p, "restore", store.ErrNotFound)
		return
	}
	if _, err := a.ops.RestoreMessages(r.Context(), p, addr, []int64{id}); err != nil {
		a.fail(w, r, p, "restore message", err)
		return
	}
	a.done(w, r, "Message restored to "+addr+".", timelineURL(r.PostFormValue("message_id")))
}

func (a *app) redeliver(w http.ResponseWriter, r *http.Request, p admin.Principal) {
	addr, id, ok := copyForm(r)
	if !ok {
		a.fail(w, r, p, "redeliver", store.ErrNotFound)
		return
	}
	done, err := a.ops.Redeliver(r.Context(), p, addr, []int64{id})
	if err != nil {
		a.fail(w, r, p, "redeliver message", err)
		return
	}
	a.done(w, r, "Message queued for "+addr+"'s primary mailbox through "+done[0].Route+".", timelineURL(r.PostFormValue("message_id")))
}
