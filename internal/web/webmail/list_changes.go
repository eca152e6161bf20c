package webmail

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"

	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/web"
)

// maxChanges bounds what one live update of a folder's list applies row
// by row. Past it (a sync that touched thousands of messages) the page
// reads its rows again instead, at most refreshMax of them.
const maxChanges = 200

// changesData is the dot's Data of the "changes" fragment: what changed
// in a folder since the modseq the page last saw, as rows to put in
// place and rows to take out (mail.js applies them).
type changesData struct {
	ModSeq  uint64    // the folder's modseq these changes bring the page to
	Reload  bool      // too much changed, or what changed cannot be placed: read the rows again
	Rows    []rowItem // new or changed rows, each replacing the row of its id (or conversation)
	GoneIDs []int64   // messages no longer listed (flat view)
	GoneUID []uint32  // UIDs that left the folder (expunged, moved away; flat view)
	GoneKey []string  // conversations no longer listed
}

// mailboxChanges answers a live update of a folder's list: the changes
// since ?since= (the folder's HIGHESTMODSEQ when the page, or its last
// update, was read), from the store's modseq indexes (CONDSTORE's
// CHANGEDSINCE and QRESYNC's VANISHED, RFC 7162), so that it costs what
// changed, not what the folder holds: a new message in a folder of
// 100,000 is one row read and sent.
func (a *app) mailboxChanges(w http.ResponseWriter, r *http.Request, acct int64) {
	ctx := r.Context()
	id, ok := pathID(r, "mailbox")
	since, err := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	if !ok || err != nil {
		web.Error(w, r, http.StatusBadRequest, "That update link is broken. Reload the page.")
		return
	}
	// The modseq first: a change made while the rest is read comes
	// again next time, and applying a row twice changes nothing.
	mb, err := a.store.MailboxByID(ctx, acct, id)
	if err != nil {
		a.fail(w, r, acct, "open folder", err)
		return
	}
	d := changesData{ModSeq: mb.HighestModSeq}
	if mb.HighestModSeq > since {
		if d, err = a.changesSince(r, acct, mb, since); err != nil {
			a.fail(w, r, acct, "read folder changes", err)
			return
		}
	}
	a.pages.list.Fragment(w, r, http.StatusOK, "changes", web.View{Data: d})
}

func (a *app) changesSince(r *http.Request, acct int64, mb store.Mailbox, since uint64) (changesData, error) {
	ctx := r.Context()
	d := changesData{ModSeq: mb.HighestModSeq}
	changed, err := a.store.ChangedSince(ctx, acct, mb.ID, since)
	if err != nil {
		return d, err
	}
	vanished, err := a.store.VanishedSince(ctx, acct, mb.ID, since)
	if err != nil {
		return d, err
	}
	conv := conversationsOn(r)
	// A merge of conversations gives messages of one the other's key:
	// their rows come with the changes (a new modseq), and the
	// conversations they left are named here, so that their rows are
	// replaced or go.
	var left []store.Conversation
	if conv {
		var complete bool
		if left, complete, err = a.store.RekeyedSince(ctx, acct, mb.ID, since); err != nil {
			return d, err
		}
		if !complete {
			d.Reload = true
			return d, nil
		}
	}
	// A message that left the folder is known by its UID alone; in a
	// list by conversation its row may show another message of its
	// conversation, so the rows are read again.
	if len(changed)+len(vanished)+len(left) > maxChanges || conv && len(vanished) > 0 {
		d.Reload = true
		return d, nil
	}
	d.GoneUID = vanished
	if len(changed) == 0 && len(left) == 0 {
		return d, nil
	}
	var ranges []store.UIDRange
	for _, c := range changed {
		if n := len(ranges); n > 0 && ranges[n-1].Last+1 == c.UID {
			ranges[n-1].Last = c.UID
			continue
		}
		ranges = append(ranges, store.UIDRange{First: c.UID, Last: c.UID})
	}
	var msgs []store.Message
	if len(ranges) > 0 {
		if msgs, err = a.store.MessagesByUID(ctx, acct, mb.ID, ranges); err != nil {
			return d, err
		}
	}
	if !conv {
		for _, m := range msgs {
			if m.Flags&store.FlagDeleted != 0 {
				// A delete waiting out its undo window: not listed.
				d.GoneIDs = append(d.GoneIDs, m.ID)
				continue
			}
			d.Rows = append(d.Rows, a.row(m, ""))
		}
		return d, nil
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	cvs, err := a.store.ConversationRows(ctx, acct, mb.ID, ids)
	if err != nil {
		return d, err
	}
	for _, cv := range left {
		if !slices.ContainsFunc(cvs, func(c store.Conversation) bool { return c.Key == cv.Key }) {
			cvs = append(cvs, cv)
		}
	}
	for _, cv := range cvs {
		if cv.Messages == 0 {
			d.GoneKey = append(d.GoneKey, convKey(cv.Key))
			continue
		}
		row := a.row(cv.Newest, "")
		row.Count, row.Unread, row.Conv = cv.Messages, cv.Unseen > 0, convKey(cv.Key)
		d.Rows = append(d.Rows, row)
	}
	// Newest first, as the list: mail.js places each row by its cursor
	// anyway, and this keeps the answer stable.
	slices.SortFunc(d.Rows, func(x, y rowItem) int { return -compareCursor(x.Cursor, y.Cursor) })
	return d, nil
}

// convKey is the form of a conversation's key that pages carry
// (data-conv): short, and free of what the key is made of (message ids).
func convKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:9])
}

// compareCursor orders two formatted cursors as the list does, older
// first.
func compareCursor(x, y string) int {
	cx, _ := parseCursor(x)
	cy, _ := parseCursor(y)
	switch {
	case older(cx, cy):
		return -1
	case older(cy, cx):
		return 1
	}
	return 0
}
