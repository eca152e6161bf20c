package imapserver

import (
	"strconv"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
	"github.com/xtramail/xtramail/internal/thread"
)

// cmdSort runs SORT and UID SORT (RFC 5256 section 3), with ESORT's
// RETURN options (RFC 5267 section 3).
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
	msgs, err := s.sortMessages(a.Keys, c.UID)
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
		w.CRLF()
		return nil
	}
	// ESORT: an ESEARCH response whose MIN and MAX are the first and
	// last in sort order and whose ALL keeps the sort order (RFC 5267
	// section 3.2).
	r := a.Return
	w.Raw("* ESEARCH (TAG ").String(c.Tag).Raw(")")
	if c.UID {
		w.Raw(" UID")
	}
	if len(msgs) > 0 {
		if r.Min {
			w.Raw(" MIN ").Num(msgs[0].UID)
		}
		if r.Max {
			w.Raw(" MAX ").Num(msgs[len(msgs)-1].UID)
		}
		if r.All {
			w.Raw(" ALL ").Raw(orderedSet(msgs))
		}
	}
	if r.Count {
		w.Raw(" COUNT ").Raw(strconv.Itoa(len(msgs)))
	}
	w.CRLF()
	return nil
}

// orderedSet writes numbers in their given order as a sequence-set,
// joining only ascending runs into ranges so the order survives.
func orderedSet(msgs []thread.Msg) string {
	var b []byte
	for i := 0; i < len(msgs); {
		j := i
		for j+1 < len(msgs) && msgs[j+1].UID == msgs[j].UID+1 {
			j++
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(msgs[i].UID), 10)
		if j > i {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(msgs[j].UID), 10)
		}
		i = j + 1
	}
	return string(b)
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
	msgs, err := s.sortMessages(a.Keys, c.UID)
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
func (s *session) sortMessages(keys []imapwire.SearchKey, uid bool) ([]thread.Msg, error) {
	type hit struct{ uid, seq uint32 }
	var hits []hit
	err := s.matchSelected(keys, s.saved, func(im *imapmsg.Message) error {
		hits = append(hits, hit{im.UID, im.Seq})
		return nil
	})
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	uids := make([]uint32, len(hits))
	for i := range hits {
		uids[i] = hits[i].uid
	}
	rows, err := s.srv.sorts.rows(keyOf(s.sel.mb), uids, s.sortRows)
	if err != nil {
		return nil, err
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
	return out, nil
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
