package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/xtramail/xtramail/internal/admin"
	"github.com/xtramail/xtramail/internal/store"
)

// Messages and the outbound queue: one message's timeline, restoring a
// user's deleted messages, and the queue's retry and delete.
func (a *API) registerMessages() {
	a.handle("GET /log/{message_id}", a.timeline)
	a.handle("GET /addresses/{address}/messages", a.listMessages, "limit", "cursor", "mailbox", "deleted")
	a.handle("POST /addresses/{address}/messages/restore", actOnMessages("restored", a.adm.RestoreMessages, restoredOf))
	a.handle("POST /addresses/{address}/messages/redeliver", actOnMessages("redelivered", a.adm.Redeliver, redeliveredOf))
	a.handle("GET /queue", a.listQueue, "limit", "cursor")
	a.handle("POST /queue/{id}/retry", onQueueEntry(a.adm.RetryQueue))
	a.handle("DELETE /queue/{id}", onQueueEntry(a.adm.DeleteQueue))
}

type timelineJSON struct {
	MessageID string           `json:"message_id"`
	Events    []store.LogEvent `json:"events"`
}

// timeline is bounded by the admin package (1000 events), so it is not
// paged.
func (a *API) timeline(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	evs, err := a.adm.Timeline(r.Context(), p, r.PathValue("message_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, timelineJSON{MessageID: evs[0].MessageID, Events: evs})
}

type messageJSON struct {
	ID        int64     `json:"id"`
	MailboxID int64     `json:"mailbox_id"`
	UID       uint32    `json:"uid"`
	Received  time.Time `json:"received"`
	Size      int64     `json:"size"`
	Subject   string    `json:"subject"`
	From      string    `json:"from"`
	MessageID string    `json:"message_id"`
	Deleted   bool      `json:"deleted"`
}

func messageOf(m store.Message) messageJSON {
	return messageJSON{ID: m.ID, MailboxID: m.MailboxID, UID: m.UID, Received: m.Received.UTC(), Size: m.Size,
		Subject: m.Subject, From: m.From, MessageID: m.MessageID, Deleted: m.Expunged}
}

func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, bad(name, "must be true or false")
	}
	return b, nil
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	deleted, err := queryBool(r, "deleted")
	if err != nil {
		return err
	}
	n, err := limit(r)
	if err != nil {
		return err
	}
	after, err := idCursor(r)
	if err != nil {
		return err
	}
	if after < 0 {
		return bad("cursor", "not a cursor of this list")
	}
	pg, err := a.adm.Messages(r.Context(), p, r.PathValue("address"), admin.MessageList{Mailbox: r.URL.Query().Get("mailbox"),
		Deleted: deleted, AfterID: after, Limit: n})
	if err != nil {
		return err
	}
	out := page[messageJSON]{Items: make([]messageJSON, 0, len(pg.Messages))}
	for _, m := range pg.Messages {
		out.Items = append(out.Items, messageOf(m))
	}
	if pg.Next != 0 {
		out.Next = encodeCursor(strconv.FormatInt(pg.Next, 10))
	}
	return writeJSON(w, http.StatusOK, out)
}

type idsBody struct {
	IDs []int64 `json:"ids"`
}

// decodeIDs reads a body naming 1 to maxLimit messages by id.
func decodeIDs(r *http.Request) ([]int64, error) {
	var b idsBody
	if err := decode(r, &b); err != nil {
		return nil, err
	}
	if len(b.IDs) == 0 {
		return nil, bad("ids", "name at least one message")
	}
	if len(b.IDs) > maxLimit {
		return nil, bad("ids", "at most %d at a time", maxLimit)
	}
	return b.IDs, nil
}

type restoredJSON struct {
	ID        int64  `json:"id"`
	MailboxID int64  `json:"mailbox_id"`
	UID       uint32 `json:"uid"`
}

func restoredOf(d store.Delivered) restoredJSON {
	return restoredJSON{ID: d.MessageID, MailboxID: d.MailboxID, UID: d.UID}
}

type redeliveredJSON struct {
	ID        int64  `json:"id"`
	MessageID string `json:"message_id"`
	Route     string `json:"route"`
}

func redeliveredOf(d admin.Redelivered) redeliveredJSON {
	return redeliveredJSON{ID: d.ID, MessageID: d.MessageID, Route: d.Route}
}

// actOnMessages answers a POST that names messages of the path's address
// by id (decodeIDs): act does it to them, and the answer is
// {"<done>": [...]}, each message act did as show shows it.
func actOnMessages[T, J any](done string, act func(context.Context, admin.Principal, string, []int64) ([]T, error), show func(T) J) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		ids, err := decodeIDs(r)
		if err != nil {
			return err
		}
		did, err := act(r.Context(), p, r.PathValue("address"), ids)
		if err != nil {
			return err
		}
		out := make([]J, 0, len(did))
		for _, d := range did {
			out = append(out, show(d))
		}
		return writeJSON(w, http.StatusOK, map[string][]J{done: out})
	}
}

type queueJSON struct {
	ID          int64      `json:"id"`
	DomainID    int64      `json:"domain_id"`
	MailFrom    string     `json:"mail_from"`
	Rcpt        string     `json:"rcpt"`
	MessageID   string     `json:"message_id"`
	Subject     string     `json:"subject"`
	Size        int64      `json:"size"`
	Queued      time.Time  `json:"queued"`
	NextAttempt *time.Time `json:"next_attempt"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error"`
}

func queueOf(e store.QueueEntry) queueJSON {
	return queueJSON{ID: e.ID, DomainID: e.DomainID, MailFrom: e.MailFrom, Rcpt: e.Rcpt, MessageID: e.MessageID,
		Subject: e.Subject, Size: e.Size, Queued: e.Queued.UTC(), NextAttempt: timePtr(e.NextAttempt),
		Attempts: e.Attempts, LastError: e.LastError}
}

func (a *API) listQueue(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
	n, err := limit(r)
	if err != nil {
		return err
	}
	after, err := idCursor(r)
	if err != nil {
		return err
	}
	if after < 0 {
		return bad("cursor", "not a cursor of this list")
	}
	pg, err := a.adm.QueueEntries(r.Context(), p, admin.QueueListing{AfterID: after, Limit: n})
	if err != nil {
		return err
	}
	out := page[queueJSON]{Items: []queueJSON{}}
	for _, e := range pg.Entries {
		out.Items = append(out.Items, queueOf(e))
	}
	if pg.Next != 0 {
		out.Next = encodeCursor(strconv.FormatInt(pg.Next, 10))
	}
	return writeJSON(w, http.StatusOK, out)
}

// onQueueEntry answers a change of the queue entry {id} by op, an admin
// operation on many entries: 204 once op has done it, 404 when op found
// no such entry in the principal's subtree.
func onQueueEntry(op func(context.Context, admin.Principal, []int64) (int, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, p admin.Principal) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		n, err := op(r.Context(), p, []int64{id})
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
