package imapserver

import (
	"cmp"
	"slices"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// cmdSort runs SORT and UID SORT (RFC 5256 section 3), with ESORT's
// RETURN options (RFC 5267 section 3: MIN, MAX, ALL, COUNT, PARTIAL of
// RFC 9394), SAVE (RFC 5182 section 2.4) and MODSEQ (RFC 7162 section
// 3.1.5).
func (s *session) cmdSort(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Sort)
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	crit := make([]thread.Criterion, len(a.Criteria))
	for i, sc := range a.Criteria {
		k, _ := thread.ParseKey(sc.Key) // the parser accepts only known keys
		crit[i] = thread.Criterion{Key: k, Reverse: sc.Reverse}
	}
	// As in SEARCH, "$" in this command is the result saved before it.
	prev := s.saved
	save := a.Return != nil && a.Return.Save
	if save {
		s.saved = nil // a failed sort leaves "$" empty (RFC 5182 section 2.1)
	}
	useModSeq := imapmsg.UsesModSeq(a.Keys)
	if useModSeq {
		s.cond = true
	}
	msgs, hits, err := s.sortMessages(a.Keys, prev, c.UID)
	if err != nil {
		return err
	}
	thread.Sort(msgs, crit)
	w := s.wr
	if a.Return == nil {
		w.Raw("* SORT")
		for i := range msgs {
			w.SP().Num(msgs[i].UID)
		}
		if useModSeq && len(msgs) > 0 {
			var highest uint64
			for _, h := range hits {
				highest = max(highest, h.modseq)
			}
			w.Raw(" (MODSEQ ").Num64(highest).Raw(")")
		}
		w.CRLF()
		return nil
	}
	// ESORT: an ESEARCH response in sort order (RFC 5267 section 3.2).
	r := &result{sorted: true, nums: make([]uint32, len(msgs)), uids: make([]uint32, len(msgs)), modseqs: make([]uint64, len(msgs))}
	for i := range msgs {
		h := hitOf(hits, msgs[i].UID, c.UID)
		r.nums[i], r.uids[i], r.modseqs[i] = msgs[i].UID, h.uid, h.modseq
	}
	s.answerESearch(c.Tag, c.UID, *a.Return, r, useModSeq)
	return nil
}

// sortHit is one message sortMessages selected.
type sortHit struct {
	uid, seq uint32
	modseq   uint64
}

// hitOf finds the hit of a sorted message by the number it carries (UID
// or sequence number; hits ascend by both).
func hitOf(hits []sortHit, num uint32, uid bool) sortHit {
	i, _ := slices.BinarySearchFunc(hits, num, func(h sortHit, n uint32) int {
		if uid {
			return cmp.Compare(h.uid, n)
		}
		return cmp.Compare(h.seq, n)
	})
	return hits[i]
}

// cmdThread runs THREAD and UID THREAD (RFC 5256 sections 3 and 4).
func (s *session) cmdThread(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Thread)
	var algo func([]thread.Msg) []*thread.Node
	switch a.Algorithm {
	case "REFERENCES":
		algo = thread.References
	case "ORDEREDSUBJECT":
		algo = thread.OrderedSubject
	default:
		return errBad("unknown threading algorithm " + a.Algorithm)
	}
	if err := checkCharset(a.Charset); err != nil {
		return err
	}
	msgs, _, err := s.sortMessages(a.Keys, s.saved, c.UID)
	if err != nil {
		return err
	}
	roots := algo(msgs)
	s.wr.Raw("* THREAD")
	if len(roots) > 0 {
		s.wr.SP().RawBytes(thread.Format(nil, roots))
	}
	s.wr.CRLF()
	return nil
}

// checkCharset accepts the charsets SORT and THREAD must know (RFC 5256
// section 3: US-ASCII and UTF-8).
func checkCharset(cs string) error {
	switch cs {
	case "UTF-8", "US-ASCII":
		return nil
	}
	return &respError{cond: imapwire.NO, code: imapwire.BadCharsetCode([]string{"UTF-8", "US-ASCII"}), text: "unsupported charset"}
}

// sortMessages returns the messages of the view that match keys (chosen
// by matchSelected, as SEARCH chooses them), with what sorting and
// threading need: the keys the store keeps per body (store.SortRows),
// through the server's sort cache, which reads only rows it does not
// hold yet. Msg.UID holds the UID when uid, else the
// sequence number (both follow the same order).
func (s *session) sortMessages(keys []imapwire.SearchKey, saved []uint32, uid bool) ([]thread.Msg, []sortHit, error) {
	var hits []sortHit
	err := s.matchSelected(keys, saved, func(im *imapmsg.Message) error {
		hits = append(hits, sortHit{im.UID, im.Seq, im.ModSeq})
		return nil
	})
	if err != nil || len(hits) == 0 {
		return nil, nil, err
	}
	uids := make([]uint32, len(hits))
	for i := range hits {
		uids[i] = hits[i].uid
	}
	rows, err := s.srv.sorts.rows(keyOf(s.sel.mb), uids, s.sortRows)
	if err != nil {
		return nil, nil, err
	}
	out := make([]thread.Msg, 0, len(hits))
	j := 0
	for _, r := range rows {
		// Both lists ascend by UID; a hit expunged meanwhile by another
		// session has no row.
		for hits[j].uid < r.UID {
			j++
		}
		k := &r.Keys
		tm := thread.Msg{
			UID: r.UID, Arrival: r.Received, Size: r.Size, MessageID: r.MessageID,
			Date: k.Date, Base: k.BaseSubject, Reply: k.Reply, Based: true,
			From: k.From, To: k.To, Cc: k.Cc, DisplayFrom: k.DisplayFrom, DisplayTo: k.DisplayTo,
			InReplyTo: k.InReplyTo, References: k.References,
		}
		if !uid {
			tm.UID = hits[j].seq
		}
		out = append(out, tm)
	}
	// A hit expunged meanwhile has no message: hits keep only those
	// sorted, so that every number maps to its hit.
	if len(out) < len(hits) {
		kept := hits[:0]
		k := 0
		for _, h := range hits {
			if k < len(out) && h.uid == rows[k].UID {
				kept = append(kept, h)
				k++
			}
		}
		hits = kept
	}
	return out, hits, nil
}

// sortRows reads the sort rows of the selected mailbox in ranges (or in
// the span of many ranges). A body stored before the store kept its keys
// (until the store has filled them in) gets them derived from its Info
// here, so that the sort cache holds only complete rows.
func (s *session) sortRows(ranges []store.UIDRange) ([]store.SortRow, error) {
	rows, err := s.srv.store.SortRows(s.ctx, s.account.ID, s.sel.mb.ID, queryRanges(ranges))
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i]
		if r.HasKeys {
			continue
		}
		body, err := s.srv.store.Body(s.ctx, s.account.ID, r.BodyID)
		if err != nil {
			return nil, err
		}
		info := body.Info
		if info == nil {
			info = &message.Info{}
		}
		r.Keys, r.HasKeys = store.SortKeysOf(info), true
	}
	return rows, nil
}

// isAll reports whether keys match every message: ALL, as most SORT and
// THREAD commands say.
func isAll(keys []imapwire.SearchKey) bool {
	return len(keys) == 1 && keys[0].Op == imapwire.SearchAll
}
