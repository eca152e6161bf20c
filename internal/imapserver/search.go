package imapserver

import (
	"context"
	"fmt"
	"io"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// usesMeta reports whether keys need more than flags and UIDs: dates,
// sizes or content.
func usesMeta(keys []imapwire.SearchKey) bool {
	for i := range keys {
		switch keys[i].Op {
		case imapwire.SearchBefore, imapwire.SearchOn, imapwire.SearchSince, imapwire.SearchLarger, imapwire.SearchSmaller:
			return true
		}
		if usesMeta(keys[i].Keys) {
			return true
		}
	}
	return imapmsg.NeedsBody(keys)
}

// cmdSearch runs SEARCH and UID SEARCH (RFC 9051 section 6.4.4) with
// ESEARCH return options (RFC 4731), SAVE (RFC 5182) and MODSEQ (RFC 7162
// section 3.1.5); the messages are selected by matchSelected.
func (s *session) cmdSearch(tag string, uid bool, a *imapwire.Search) error {
	if a.HasCharset && s.utf8Accept {
		// RFC 6855 section 3: once UTF8=ACCEPT is enabled the client
		// must not name a charset, and the server should answer BAD.
		return errBad("SEARCH with CHARSET is not allowed after ENABLE UTF8=ACCEPT")
	}
	// "$" in this very command is the result saved before it, even when
	// it saves a new one (RFC 5182 section 2.1: the new result replaces
	// the old once the search is done). A search that saves and fails
	// with NO leaves "$" empty, an unknown charset included (RFC 5182
	// section 2.1).
	prev := s.saved
	if a.Return != nil && a.Return.Save {
		s.saved = nil
	}
	if a.HasCharset {
		if err := checkCharset(a.Charset); err != nil {
			return err
		}
	}
	useModSeq := imapmsg.UsesModSeq(a.Keys)
	if useModSeq {
		s.condStoreOn()
	}
	var found []uint32 // UIDs
	var seqs []uint32
	var modseqs []uint64 // of found, for MODSEQ with MIN or MAX
	var highest uint64
	err := s.matchSelected(a.Keys, prev, func(m *imapmsg.Message) error {
		found = append(found, m.UID)
		seqs = append(seqs, m.Seq)
		modseqs = append(modseqs, m.ModSeq)
		highest = max(highest, m.ModSeq)
		return nil
	})
	if err != nil {
		return err
	}
	nums := seqs
	if uid {
		nums = found
	}
	w := s.wr
	if a.Return == nil && !s.rev2 {
		w.Raw("* SEARCH")
		for _, n := range nums {
			w.SP().Num(n)
		}
		if useModSeq && len(nums) > 0 {
			w.Raw(" (MODSEQ ").Num64(highest).Raw(")")
		}
		w.CRLF()
		return nil
	}
	ret := imapwire.SearchReturn{All: true}
	if a.Return != nil {
		ret = *a.Return
	}
	s.answerESearch(tag, uid, ret, &result{nums: nums, uids: found, modseqs: modseqs}, useModSeq)
	if ret.Save && !ret.Min && !ret.Max && !ret.All && !ret.Count && ret.Partial == nil {
		s.ok(tag, "SEARCH completed, result saved")
		return nil
	}
	return nil
}

// matchSelected calls found, in UID order, for each message of the
// selected mailbox's view that keys match; SEARCH, SORT and THREAD all
// select their messages here. Content keys (TEXT, BODY and the header
// keys) are first narrowed with the store's full-text index; flags,
// sizes and dates come from the message rows; the content is read only
// for the messages left that a key needs it for. saved is the result "$"
// names (RFC 5182). An error from the store or from found ends the walk.
func (s *session) matchSelected(keys []imapwire.SearchKey, saved []uint32, found func(m *imapmsg.Message) error) error {
	return s.matchWithin(keys, saved, nil, found)
}

// matchWithin is matchSelected for only the messages of within (nil: the
// whole view): what a live result (RFC 5267) matches again when some
// messages changed.
func (s *session) matchWithin(keys []imapwire.SearchKey, saved []uint32, within []store.UIDRange, found func(m *imapmsg.Message) error) error {
	sel := s.sel
	var ranges []store.UIDRange
	if terms := imapmsg.IndexTerms(keys); len(terms) > 0 {
		cands, err := s.srv.store.SearchCandidates(s.ctx, s.account.ID, sel.mb.ID, terms)
		if err != nil {
			return err
		}
		ranges = sel.view.byUIDList(cands)
	} else if sel.view.count() > 0 {
		ranges = []store.UIDRange{{First: sel.view.ranges[0].First, Last: sel.view.maxUID()}}
	}
	if within != nil {
		ranges = intersectRanges(ranges, within)
	}
	if len(ranges) == 0 {
		return nil
	}
	ctx := &imapmsg.SearchContext{MaxSeq: sel.view.count(), MaxUID: sel.view.maxUID(), Saved: saved}
	all := isAll(keys) // ALL, as most SORT and THREAD commands say: no need to match
	// A message that a key reads holds its share of Config.SearchMemory
	// until it is matched.
	release := func() {}
	load := func(size int64, read func() ([]byte, *message.Info, error)) func() ([]byte, *message.Info, error) {
		return func() ([]byte, *message.Info, error) {
			r, err := s.srv.cfg.SearchMemory.Take(s.ctx, size)
			if err != nil {
				return nil, nil, err
			}
			release = r
			return read()
		}
	}
	check := func(m *imapmsg.Message) error {
		defer func() {
			release()
			release = func() {}
		}()
		if !all {
			ok, err := imapmsg.Match(ctx, keys, m)
			if err != nil || !ok {
				return err
			}
		}
		return found(m)
	}
	if imapmsg.NeedsBody(keys) && imapmsg.FieldsSuffice(keys) {
		// SUBJECT, FROM, TO, CC, BCC: the candidates' rows with their
		// From, To, Cc, Bcc and Subject fields, which the store keeps;
		// a message is read only when the store has not got them.
		rows, err := s.srv.store.SearchFieldRows(s.ctx, s.account.ID, sel.mb.ID, readRanges(ranges))
		if err != nil {
			return err
		}
		for i := range rows {
			m := &rows[i]
			im, ok := sel.searchMessage(&m.Message, ranges)
			if !ok {
				continue
			}
			im.Fields, im.HasFields = m.Fields, m.HasFields
			im.Load = load(m.Size, func() ([]byte, *message.Info, error) { return s.loadMessage(m.BodyID) })
			if err := check(im); err != nil {
				return err
			}
		}
		return nil
	}
	if imapmsg.NeedsBody(keys) {
		// The candidates' bodies in one read with their rows, not one
		// query per candidate; the bytes are read only if a key needs
		// them.
		msgs, err := s.messageBodies(ranges)
		if err != nil {
			return err
		}
		for i := range msgs {
			m := &msgs[i]
			im, ok := sel.searchMessage(&m.Message, ranges)
			if !ok {
				continue
			}
			im.Load = load(m.Body.Size, func() ([]byte, *message.Info, error) { return s.readBody(m) })
			if err := check(im); err != nil {
				return err
			}
		}
		return nil
	}
	if usesMeta(keys) {
		msgs, err := s.messages(ranges)
		if err != nil {
			return err
		}
		for i := range msgs {
			im, ok := sel.searchMessage(&msgs[i], ranges)
			if !ok {
				continue
			}
			if err := check(im); err != nil {
				return err
			}
		}
		return nil
	}
	rows, err := s.flagRows(ranges)
	if err != nil {
		return err
	}
	// One message value for all rows (found and Match keep no pointer
	// to it): an allocation per message was a tenth of a SORT of ALL.
	im := new(imapmsg.Message)
	for _, m := range rows {
		seq, ok := sel.view.seqOf(m.UID)
		if !ok || !rangesContain(ranges, m.UID) {
			continue
		}
		*im = imapmsg.Message{
			Seq: seq, UID: m.UID, Flags: m.Flags, Keywords: m.Keywords,
			Recent: rangesContain(sel.recent, m.UID), ModSeq: m.ModSeq,
		}
		if err := check(im); err != nil {
			return err
		}
	}
	return nil
}

// searchMessage is the search view of one message row with its metadata,
// false when the row is outside ranges or no longer in the view (a row
// read from the store can be newer than the session's view).
func (sel *selected) searchMessage(m *store.Message, ranges []store.UIDRange) (*imapmsg.Message, bool) {
	seq, ok := sel.view.seqOf(m.UID)
	if !ok || !rangesContain(ranges, m.UID) {
		return nil, false
	}
	return &imapmsg.Message{
		Seq: seq, UID: m.UID, Flags: m.Flags, Keywords: m.Keywords,
		Recent: rangesContain(sel.recent, m.UID), ModSeq: m.ModSeq, Received: m.Received, Size: m.Size,
		Subject: m.Subject, From: m.From,
	}, true
}

// loadMessage reads one message and its Info: for a search that needs
// the content of a message the store has no search fields for.
func (s *session) loadMessage(bodyID int64) ([]byte, *message.Info, error) {
	b, err := s.srv.store.Body(s.ctx, s.account.ID, bodyID)
	if err != nil {
		return nil, nil, fmt.Errorf("look up message body %d: %w", bodyID, err)
	}
	raw, err := readAll(s.ctx, func(ctx context.Context) (io.ReadCloser, error) {
		return s.srv.store.OpenBody(ctx, s.account.ID, bodyID)
	}, b.Size, -1)
	if err != nil {
		return nil, nil, fmt.Errorf("read message body %d: %w", bodyID, err)
	}
	if b.Info == nil {
		return raw, message.Parse(raw), nil
	}
	return raw, b.Info, nil
}
