package webmail

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// maxStreamsPerSession bounds the live-update streams of one session (a
// tab each): every stream holds a connection and a feed subscription.
const maxStreamsPerSession = 6

// heartbeat keeps idle streams open through proxies and lets a stream
// notice a dead connection; at each, the stream's session is checked
// again (web.Server.Hold), so a stream ends at most this long after its
// session expired or was ended by another process.
const heartbeat = 25 * time.Second

// events streams the account's changes as Server-Sent Events (HTML
// Living Standard, "Server-sent events"): "change" with the folder id,
// INBOX's unread count and the folder's, whenever mail arrives, flags
// change, or messages are deleted, moved or restored, here, over IMAP or
// by capture. The page re-reads what it shows; the feed says only that
// it changed.
//
// ?seen= lists the folders the page showed with the modseq it read each
// at ("id.modseq,id.modseq", the folder list's data-modseq): a change
// made after the page was read but before this stream subscribed is in
// no notification the stream gets, so each folder whose modseq moved
// since (or that the page did not know) is sent as changed at once, the
// way SELECT reports what changed before it listened (RFC 7162 3.1.2.1
// CONDSTORE's HIGHESTMODSEQ). A reconnecting EventSource sends the same
// URL, so what changed while it was away comes too.
//
// The stream lives only as long as its session (web.Server.Hold): it
// ends at sign-out, a password change elsewhere, the address disabled or
// the session expired, and sends nothing once the session is gone. It is
// not use of the session (web.Background): a tab that only follows new
// mail is signed out after the idle time.
func (a *app) events(w http.ResponseWriter, r *http.Request, acct int64) {
	ses := web.SessionFrom(r.Context())
	if ses == nil {
		web.Error(w, r, http.StatusUnauthorized, "Sign in first.")
		return
	}
	ctx, stop := a.web.Hold(r, a.heartbeat)
	defer stop()
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
	account := make(chan struct{}, 1)
	var pending = newPendingSet()
	cancel := a.store.Subscribe(acct, func(c store.Change) {
		ch := changed
		if c.Kind == store.ChangeAccount {
			// The account was disabled, removed or given a new
			// password: no folder changed, but the session may have
			// ended with it.
			ch = account
		} else {
			pending.add(c.MailboxID)
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	defer cancel()
	// After subscribing: a change committed later is announced to the
	// subscription; one committed before shows in the modseqs read here.
	if seen, ok := parseSeen(r.URL.Query().Get("seen")); ok {
		if err := a.changedSince(ctx, acct, seen, pending); err != nil {
			if ctx.Err() != nil {
				return // the session ended meanwhile: nothing to answer
			}
			a.fail(w, r, acct, "read folders for the live-update stream", err)
			return
		}
		select {
		case changed <- struct{}{}:
		default: // the feed has already signalled
		}
	}

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
	tick := time.NewTicker(a.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done(): // the request, the server or the session ended
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case <-account:
			if err := a.web.Sessions().Live(ctx, ses); err != nil {
				return
			}
			continue
		case <-changed:
			// Hold checks at each heartbeat; this closes the gap to
			// the next one (the session ended by another process, or
			// expired since).
			if err := a.web.Sessions().Live(ctx, ses); err != nil {
				return
			}
			inbox, unseen := a.liveUnread(ctx, acct)
			for _, mb := range pending.take() {
				if _, err := fmt.Fprintf(w, "event: change\ndata: {\"mailbox\":%d,\"unread\":%d,\"folderUnread\":%d}\n\n", mb, unseen[inbox], unseen[mb]); err != nil {
					return
				}
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// maxSeen bounds the folders a stream's ?seen= may name.
const maxSeen = 1000

// parseSeen reads ?seen= ("id.modseq,id.modseq"): false when it is
// absent or broken (the stream then sends only what changes from now
// on, as before pages carried it).
func parseSeen(v string) (map[int64]uint64, bool) {
	if v == "" {
		return nil, false
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxSeen {
		return nil, false
	}
	seen := make(map[int64]uint64, len(parts))
	for _, p := range parts {
		id, ms, ok := strings.Cut(p, ".")
		n, err1 := strconv.ParseInt(id, 10, 64)
		m, err2 := strconv.ParseUint(ms, 10, 64)
		if !ok || err1 != nil || err2 != nil || n <= 0 {
			return nil, false
		}
		seen[n] = m
	}
	return seen, true
}

// changedSince adds to pending each folder of the account whose modseq
// is past the one the page saw, or that the page did not list (a folder
// made since), and each folder the page listed that is gone.
func (a *app) changedSince(ctx context.Context, acct int64, seen map[int64]uint64, pending *pendingSet) error {
	mbs, err := a.store.Mailboxes(ctx, acct)
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		if ms, ok := seen[mb.ID]; !ok || mb.HighestModSeq > ms {
			pending.add(mb.ID)
		}
		delete(seen, mb.ID)
	}
	for id := range seen {
		pending.add(id)
	}
	return nil
}
