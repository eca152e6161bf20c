package webmail

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
// text keys, accents ignored) and each is checked with IMAP SEARCH's own
// matching, or else without accents (search_accents.go).
func (a *app) search(ctx context.Context, acct int64, q searchQuery, after store.Cursor, limit int) (searchResult, error) {
	ms := store.MailSearch{With: q.With, Without: q.Without, Since: q.Since, Before: q.Before,
		Terms: imapmsg.IndexTerms(q.Keys), FoldAccents: true}
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
		bodies := &candidateBodies{a: a, acct: acct, cands: cands}
		for i, m := range cands {
			ok, err := a.matches(ctx, q, m, bodies)
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

// matches checks a candidate for the text keys and has:attachment. Its
// body is read only when a key needs it (a subject or sender is checked
// on the row), with those of the whole batch (candidateBodies).
func (a *app) matches(ctx context.Context, q searchQuery, m store.Message, bodies *candidateBodies) (bool, error) {
	if len(q.Keys) == 0 && !q.HasAttachment {
		return true, nil
	}
	if q.HasAttachment {
		b, ok, err := bodies.of(ctx, m)
		if err != nil || !ok {
			return false, err
		}
		if !hasAttachment(b.Body.Info) {
			return false, nil
		}
	}
	if len(q.Keys) == 0 {
		return true, nil
	}
	c := candidate{m: m, bodies: bodies, memory: a.opt.SearchMemory}
	defer c.release()
	msg := c.imap(ctx)
	ok, err := imapmsg.Match(nil, q.Keys, msg)
	if err == nil && !ok {
		// Each key as IMAP matches it, or else without accents
		// (search_accents.go).
		for i := range q.Keys {
			k := q.Keys[i : i+1]
			if len(q.Keys) > 1 {
				ok, err = imapmsg.Match(nil, k, msg)
			}
			if err == nil && !ok {
				ok, err = c.matchFolded(ctx, k[0])
			}
			if !ok || err != nil {
				break
			}
		}
	}
	if c.gone {
		return false, nil // purged meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("read message %d for search: %w", m.ID, err)
	}
	return ok, nil
}

// candidateBodies reads the bodies of one batch of search candidates
// when the first is needed, in one query per folder
// (store.MessageBodies), instead of two queries per candidate (the body's
// record, then its content's key).
type candidateBodies struct {
	a     *app
	acct  int64
	cands []store.Message
	read  bool
	byID  map[int64]store.MessageBody
	err   error
}

// of returns m's body; false when m is no longer live (purged or moved
// since the candidates were listed).
func (c *candidateBodies) of(ctx context.Context, m store.Message) (store.MessageBody, bool, error) {
	if !c.read {
		c.read = true
		c.byID = make(map[int64]store.MessageBody, len(c.cands))
		uids := map[int64][]uint32{}
		var order []int64
		for _, m := range c.cands {
			if _, ok := uids[m.MailboxID]; !ok {
				order = append(order, m.MailboxID)
			}
			uids[m.MailboxID] = append(uids[m.MailboxID], m.UID)
		}
		for _, mb := range order {
			list, err := c.a.store.MessageBodies(ctx, c.acct, mb, uidRanges(uids[mb]))
			if errors.Is(err, store.ErrNotFound) {
				continue // the folder was deleted meanwhile
			}
			if err != nil {
				c.err = fmt.Errorf("read messages for search: %w", err)
				break
			}
			for _, b := range list {
				c.byID[b.ID] = b
			}
		}
	}
	b, ok := c.byID[m.ID]
	return b, ok, c.err
}

// uidRanges are the ranges of a list of UIDs, in ascending order.
func uidRanges(uids []uint32) []store.UIDRange {
	uids = slices.Clone(uids)
	slices.Sort(uids)
	var out []store.UIDRange
	for _, u := range uids {
		if n := len(out); n > 0 && (out[n-1].Last == u || out[n-1].Last+1 == u) {
			out[n-1].Last = u
			continue
		}
		out = append(out, store.UIDRange{First: u, Last: u})
	}
	return out
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
