package webmail

import (
	"fmt"
	"net/http"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// maxStreamsPerSession bounds the live-update streams of one session (a
// tab each): every stream holds a connection and a feed subscription.
const maxStreamsPerSession = 6

// heartbeat keeps idle streams open through proxies and lets a stream
// notice a dead connection.
const heartbeat = 25 * time.Second

// events streams the account's changes as Server-Sent Events (HTML
// Living Standard, "Server-sent events"): "change" with the folder id
// and INBOX's unread count, whenever mail arrives, flags change, or
// messages are deleted, moved or restored, here, over IMAP or by capture.
// The page re-reads what it shows; the feed says only that it changed.
func (a *app) events(w http.ResponseWriter, r *http.Request, acct int64) {
	ses := web.SessionFrom(r.Context())
	if ses == nil {
		web.Error(w, r, http.StatusUnauthorized, "Sign in first.")
		return
	}
	key := ses.CSRF // one per session, and dies with it
	a.streamsMu.Lock()
	if a.streams[key] >= maxStreamsPerSession {
		a.streamsMu.Unlock()
		web.Error(w, r, http.StatusTooManyRequests, "Too many open tabs are following new mail. Close some and reload.")
		return
	}
	a.streams[key]++
	a.streamsMu.Unlock()
	defer func() {
		a.streamsMu.Lock()
		if a.streams[key]--; a.streams[key] <= 0 {
			delete(a.streams, key)
		}
		a.streamsMu.Unlock()
	}()

	// The feed's callback must not block (Store.Subscribe): it only marks
	// which folders changed, and the loop below reads them.
	changed := make(chan struct{}, 1)
	var pending = newPendingSet()
	cancel := a.store.Subscribe(acct, func(c store.Change) {
		pending.add(c.MailboxID)
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()

	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream lives as long as the tab
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long the browser waits before reconnecting.
	fmt.Fprint(w, "retry: 5000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.web.Closing():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case <-changed:
			unread := a.inboxUnread(r.Context(), acct)
			for _, mb := range pending.take() {
				if _, err := fmt.Fprintf(w, "event: change\ndata: {\"mailbox\":%d,\"unread\":%d}\n\n", mb, unread); err != nil {
					return
				}
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
