package imapserver

import (
	"slices"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdSelect runs SELECT and EXAMINE (RFC 9051 sections 6.3.2 and 6.3.3),
// with the CONDSTORE and QRESYNC parameters (RFC 7162 sections 3.1.8 and
// 3.2.5).
func (s *session) cmdSelect(tag string, readOnly bool, a *imapwire.Select) error {
	if a.QResync != nil && !s.qresync {
		return errBad("QRESYNC parameter needs ENABLE QRESYNC first")
	}
	if s.sel != nil {
		// The previous mailbox is closed without expunging; QRESYNC and
		// IMAP4rev2 clients learn it from [CLOSED] (RFC 7162 section
		// 3.2.11, RFC 9051 section 7.1).
		s.unselect()
		s.wr.Untagged(imapwire.OK, imapwire.Code{Name: imapwire.CodeClosed}, "previous mailbox closed")
	}
	if a.CondStore {
		s.cond = true
	}
	fed := s.feedCount.Load()
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		return err
	}
	// Subscribe to changes before reading the UIDs, so that nothing
	// delivered in between is missed (it is read again by modseq).
	s.feedModSeq.Store(0)
	s.selectedID.Store(mb.ID)
	// The mailbox was read before the session listened to it
	// (selectedID needs its id): a change committed after that read and
	// announced before selectedID was set reached no one here. noteChange
	// counts every change of the account before it looks at selectedID,
	// so such a change has moved feedCount by now; when it has not
	// moved, none passed unheard, and the next command needs no re-read
	// of the mailbox for it (one store read per SELECT, most of the
	// cost of the barrier's SELECT in the IMAP realistic mix).
	missed := s.feedCount.Load() != fed
	key := keyOf(mb)
	s.srv.flags.acquire(key)
	fail := func(err error) error {
		s.srv.flags.release(key)
		s.selectedID.Store(0)
		return err
	}
	var view uidView
	var firstUnseen uint32
	snap := s.srv.flags.peek(key)
	if snap != nil && snap.modseq != mb.HighestModSeq {
		snap = nil
	}
	// IMAP4rev1 clients get [UNSEEN n] (RFC 3501 section 6.3.1), which
	// takes the flags. A current shared snapshot has them, and a small
	// mailbox's is made in one read that gives the UIDs too (and serves
	// the FETCH FLAGS that follows). A large one asks the store.
	if !s.rev2 && mb.Unseen > 0 && (snap != nil || mb.Messages <= maxAdvance) {
		snap, err := s.srv.flags.getAt(s.ctx, s.srv.store, mb)
		if err != nil {
			return fail(err)
		}
		for i := range snap.rows {
			view.push(snap.rows[i].UID)
			if firstUnseen == 0 && snap.rows[i].Flags&store.FlagSeen == 0 {
				firstUnseen = uint32(i) + 1
			}
		}
	} else {
		uids, err := s.srv.store.UIDs(s.ctx, s.account.ID, mb.ID)
		if err != nil {
			return fail(err)
		}
		view = newView(uids)
		if !s.rev2 && mb.Unseen > 0 {
			firstUnseen, err = s.firstUnseen(mb.ID, &view)
			if err != nil {
				return fail(err)
			}
		}
	}
	sel := &selected{mb: mb, key: key, readOnly: readOnly, view: view, modseq: mb.HighestModSeq, keywords: newKeywordSet(mb.Keywords)}
	if max := sel.view.maxUID(); !readOnly && max > mb.RecentUID {
		if first := s.claimRecent(sel, max); first <= max {
			for _, r := range sel.view.byUID(imapwire.NumSet{Ranges: []imapwire.NumRange{{First: first, Last: max}}}) {
				sel.recent.add(r.First, r.Last)
			}
		}
	}
	s.sel = sel
	s.state = stateSelected
	s.saved = nil
	if missed {
		// The next command re-reads from the mailbox's modseq, a
		// single read when nothing changed.
		s.markDirty()
	}

	w := s.wr
	w.FlagsResponse(append(slices.Clip(mailboxFlags), sel.keywords.list...))
	w.Exists(sel.view.count())
	if !s.rev2 {
		w.Recent(uint32(rangesCount(sel.recent)))
	}
	if firstUnseen > 0 {
		w.Untagged(imapwire.OK, imapwire.UnseenCode(firstUnseen), "first unseen message")
	}
	w.Untagged(imapwire.OK, imapwire.UIDValidityCode(mb.UIDValidity), "UIDs valid")
	w.Untagged(imapwire.OK, imapwire.UIDNextCode(mb.UIDNext), "predicted next UID")
	s.writePermanentFlags()
	w.Untagged(imapwire.OK, imapwire.HighestModSeqCode(mb.HighestModSeq), "highest modseq")
	if s.rev2 {
		// Its attributes must be accurate (RFC 9051 section 6.3.2): the
		// special use that every form of LIST shows. The children
		// attributes are optional (section 7.3.1) and left out.
		w.Raw(`* LIST (`).Raw(mb.SpecialUse).Raw(`) "/" `).Mailbox(mb.Name).CRLF()
	}
	if q := a.QResync; q != nil && q.UIDValidity == mb.UIDValidity {
		s.qresyncSelect(q)
	}
	code := imapwire.Code{Name: imapwire.CodeReadWrite}
	if readOnly {
		code.Name = imapwire.CodeReadOnly
	}
	s.okCode(tag, code, "mailbox selected")
	return nil
}

// firstUnseen finds the sequence number of the first message without
// \Seen, 0 when all are seen.
func (s *session) firstUnseen(mailboxID int64, v *uidView) (uint32, error) {
	uid, err := s.srv.store.FirstUnseen(s.ctx, s.account.ID, mailboxID)
	if err != nil || uid == 0 {
		return 0, err
	}
	seq, _ := v.seqOf(uid)
	return seq, nil
}

// qresyncSelect reports what changed since the client's modseq (RFC 7162
// section 3.2.5.1): VANISHED (EARLIER) for expunged messages the client
// may know, then FETCH for changed flags.
func (s *session) qresyncSelect(q *imapwire.QResync) {
	sel := s.sel
	vanished, err := s.srv.store.VanishedSince(s.ctx, s.account.ID, sel.mb.ID, q.ModSeq)
	if err != nil {
		s.log.Warn("QRESYNC vanished", "err", err)
	}
	if !q.KnownUIDs.IsEmpty() {
		vanished = slices.DeleteFunc(vanished, func(u uint32) bool { return !q.KnownUIDs.Contains(u, sel.view.maxUID()) })
	}
	if len(vanished) > 0 {
		s.wr.Vanished(true, numSetOf(vanished))
	}
	changed, err := s.srv.store.ChangedSince(s.ctx, s.account.ID, sel.mb.ID, q.ModSeq)
	if err != nil {
		s.log.Warn("QRESYNC changes", "err", err)
	}
	s.announceRowKeywords(changed)
	for _, m := range changed {
		if !q.KnownUIDs.IsEmpty() && !q.KnownUIDs.Contains(m.UID, sel.view.maxUID()) {
			continue
		}
		seq, ok := sel.view.seqOf(m.UID)
		if !ok {
			continue
		}
		s.wr.BeginFetch(seq).Raw("UID ").Num(m.UID).SP()
		s.writeFlagsItem(m.UID, m.Flags, m.Keywords)
		s.wr.Raw(" MODSEQ (").Num64(m.ModSeq).Raw(")").EndFetch()
	}
}

// unselect leaves the selected mailbox without expunging.
func (s *session) unselect() {
	if s.sel != nil {
		s.srv.flags.release(s.sel.key)
	}
	s.sel = nil
	s.selectedID.Store(0)
	s.dirty.Store(false)
	s.feedModSeq.Store(0)
	s.state = stateAuth
	s.saved = nil
}

// cmdClose runs CLOSE (which expunges silently unless read-only, RFC 9051
// section 6.4.1) and UNSELECT (RFC 3691).
func (s *session) cmdClose(tag string, expunge bool) error {
	if expunge && !s.sel.readOnly && s.sel.view.count() > 0 {
		// The store expunges what carries \Deleted when it runs: a
		// flag taken off by any session just before is respected.
		all := []store.UIDRange{{First: 1, Last: s.sel.view.maxUID()}}
		if _, _, err := s.srv.store.ExpungeDeleted(s.ctx, s.account.ID, s.sel.mb.ID, all); err != nil {
			return err
		}
	}
	s.unselect()
	s.ok(tag, "mailbox closed")
	return nil
}
