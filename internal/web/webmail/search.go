package webmail

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// maxExamined bounds the candidates one search request checks: past it
// the page ends early with a "more" cursor, so that a query the index
// cannot narrow never holds a request for long.
const maxExamined = 2000

// searchResult is one page of results.
type searchResult struct {
	Messages []store.Message
	// Next continues the search; zero when there is nothing more.
	Next store.Cursor
}

// search runs q for the account: the store returns candidates newest
// first (exact on folder, flags and dates, narrowed by the index on the
// text keys) and each is checked with IMAP SEARCH's own matching.
func (a *app) search(ctx context.Context, acct int64, q searchQuery, after store.Cursor, limit int) (searchResult, error) {
	ms := store.MailSearch{With: q.With, Without: q.Without, Since: q.Since, Before: q.Before,
		Terms: imapmsg.IndexTerms(q.Keys)}
	if q.Folder != "" {
		mb, err := a.store.Mailbox(ctx, acct, q.Folder)
		if err != nil {
			return searchResult{}, err
		}
		ms.MailboxID = mb.ID
	}
	var res searchResult
	examined := 0
	cur := after
	for {
		batch := max(limit, 50)
		cands, err := a.store.SearchPage(ctx, acct, ms, cur, batch)
		if err != nil {
			return res, fmt.Errorf("search candidates: %w", err)
		}
		for i, m := range cands {
			ok, err := a.matches(ctx, acct, q, m)
			if err != nil {
				return res, err
			}
			examined++
			if ok {
				res.Messages = append(res.Messages, m)
			}
			if len(res.Messages) == limit || examined >= maxExamined {
				if i < len(cands)-1 || len(cands) == batch {
					res.Next = store.CursorOf(m)
				}
				return res, nil
			}
		}
		if len(cands) < batch {
			return res, nil
		}
		cur = store.CursorOf(cands[len(cands)-1])
	}
}

// matches checks a candidate for the text keys and has:attachment.
func (a *app) matches(ctx context.Context, acct int64, q searchQuery, m store.Message) (bool, error) {
	if len(q.Keys) == 0 && !q.HasAttachment {
		return true, nil
	}
	body, err := a.store.Body(ctx, acct, m.BodyID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // purged meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("read message %d for search: %w", m.ID, err)
	}
	if q.HasAttachment && !hasAttachment(body.Info) {
		return false, nil
	}
	if len(q.Keys) == 0 {
		return true, nil
	}
	return imapmsg.Match(nil, q.Keys, &imapmsg.Message{
		UID: m.UID, Flags: m.Flags, Keywords: m.Keywords, ModSeq: m.ModSeq, Received: m.Received, Size: m.Size,
		Subject: m.Subject, From: m.From,
		Load: func() ([]byte, *message.Info, error) {
			rc, err := a.store.OpenBody(ctx, acct, m.BodyID)
			if err != nil {
				return nil, nil, err
			}
			defer rc.Close()
			raw, err := io.ReadAll(rc)
			return raw, body.Info, err
		},
	})
}

// hasAttachment reports whether a message has a part offered for
// download (not an HTML part's own images).
func hasAttachment(info *message.Info) bool {
	for _, a := range analyse(info).Attachments {
		if !a.Related {
			return true
		}
	}
	return false
}
