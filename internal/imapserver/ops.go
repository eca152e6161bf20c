package imapserver

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// resolve turns a command's set into the UID ranges of the view that it
// names: sequence numbers, UIDs, or the saved search result "$" (RFC
// 5182). ok is false when a sequence number is out of range, which is a
// BAD (RFC 9051 section 6.4.5) and has been answered.
func (s *session) resolve(tag string, set imapwire.NumSet, uid bool) ([]store.UIDRange, bool) {
	v := &s.sel.view
	if set.Dollar {
		return v.byUIDList(s.saved), true
	}
	if uid {
		return v.byUID(set), true
	}
	for _, r := range set.Ranges {
		// A range with "*" is always valid ("1:*" on an empty mailbox is
		// empty, "5:*" with 3 messages is 3:5, RFC 9051 section 9).
		if r.First != imapwire.Star && r.Last != imapwire.Star && (r.First > v.count() || r.Last > v.count()) {
			s.bad(tag, "message sequence number out of range")
			return nil, false
		}
	}
	return v.bySeq(set), true
}

// cmdStore runs STORE and UID STORE (RFC 9051 section 6.4.6) with
// UNCHANGEDSINCE (RFC 7162 section 3.1.3).
func (s *session) cmdStore(tag string, uid bool, a *imapwire.Store) {
	sel := s.sel
	if sel.readOnly {
		s.no(tag, imapwire.CodeCannot, "mailbox is read-only (EXAMINE)")
		return
	}
	ranges, ok := s.resolve(tag, a.Set, uid)
	if !ok {
		return
	}
	flags, kw, ok := parseFlags(a.Flags)
	if !ok {
		s.bad(tag, "unknown system flag")
		return
	}
	op := store.FlagsReplace
	switch a.Op {
	case imapwire.StoreAdd:
		op = store.FlagsAdd
	case imapwire.StoreRemove:
		op = store.FlagsRemove
	}
	if a.HasUnchangedSince {
		s.cond = true
	}
	uids := rangesUIDs(ranges)
	var changed []store.MessageFlags
	var modified []uint32
	if a.HasUnchangedSince && a.UnchangedSince == 0 {
		modified = uids // no message has modseq 0 (RFC 7162 section 3.1.3)
	} else if len(uids) > 0 {
		before := sel.modseq
		var err error
		changed, modified, err = s.srv.store.StoreFlags(s.ctx, s.account.ID, sel.mb.ID, uids, op, flags, kw, a.UnchangedSince)
		if err != nil {
			s.storeError(tag, err, false)
			return
		}
		if len(changed) > 0 {
			s.ownChange(before, changed[0].ModSeq, changed)
		}
		s.announceRowKeywords(changed)
	}
	slices.Sort(modified)
	switch {
	case !a.Silent && len(uids) > 0:
		rows, err := s.flagRows(ranges)
		if err != nil {
			s.storeError(tag, err, false)
			return
		}
		s.announceRowKeywords(rows)
		for _, m := range rows {
			if !rangesContain(ranges, m.UID) {
				continue
			}
			if _, found := slices.BinarySearch(modified, m.UID); found {
				continue
			}
			s.writeFlagFetch(m, uid)
		}
	case a.Silent && s.cond:
		// The new modseq still goes to the client (RFC 7162 section
		// 3.1.3).
		for _, m := range changed {
			seq, _ := sel.view.seqOf(m.UID)
			s.wr.BeginFetch(seq)
			if uid || s.qresync {
				s.wr.Raw("UID ").Num(m.UID).SP()
			}
			s.wr.Raw("MODSEQ (").Num64(m.ModSeq).Raw(")").EndFetch()
		}
	}
	if len(modified) > 0 {
		set := modified
		if !uid {
			set = nil
			for _, u := range modified {
				if seq, ok := sel.view.seqOf(u); ok {
					set = append(set, seq)
				}
			}
		}
		if len(set) > 0 {
			s.okCode(tag, imapwire.ModifiedCode(numSetOf(set)), "some messages were changed meanwhile")
			return
		}
	}
	s.ok(tag, "STORE completed")
}

// writeFlagFetch writes "* seq FETCH (FLAGS (...) [UID n] [MODSEQ (n)])".
func (s *session) writeFlagFetch(m store.MessageFlags, withUID bool) {
	seq, ok := s.sel.view.seqOf(m.UID)
	if !ok {
		return
	}
	s.wr.BeginFetch(seq)
	s.writeFlagsItem(m.UID, m.Flags, m.Keywords)
	if withUID || s.qresync {
		s.wr.Raw(" UID ").Num(m.UID)
	}
	if s.cond {
		s.wr.Raw(" MODSEQ (").Num64(m.ModSeq).Raw(")")
	}
	s.wr.EndFetch()
}

// maxExpungeRanges bounds the UID ranges of one store expunge.
const maxExpungeRanges = 256

// cmdExpunge runs EXPUNGE and UID EXPUNGE (RFC 9051 sections 6.4.3 and
// 6.4.9). Expunged messages stay restorable in the store.
func (s *session) cmdExpunge(tag string, uidSet *imapwire.NumSet) {
	sel := s.sel
	if sel.readOnly {
		s.no(tag, imapwire.CodeCannot, "mailbox is read-only (EXAMINE)")
		return
	}
	// Every message the session knows of, or those of the UID set; the
	// store expunges those that carry \Deleted when it runs, so no flags
	// read earlier (by this session or a shared snapshot) decide it
	// (issue 11 part 2).
	ranges := []store.UIDRange{{First: 1, Last: sel.view.maxUID()}}
	if uidSet != nil {
		ranges = sel.view.byUID(*uidSet)
	}
	if len(ranges) == 0 || sel.view.count() == 0 {
		s.ok(tag, "EXPUNGE completed")
		return
	}
	// The ranges go as they are, never widened (queryRanges): this is a
	// write. In parts, so that a very scattered set stays within the
	// store's bounds on one query.
	var del []uint32
	for len(ranges) > 0 {
		part := ranges[:min(len(ranges), maxExpungeRanges)]
		ranges = ranges[len(part):]
		got, err := s.srv.store.ExpungeDeleted(s.ctx, s.account.ID, sel.mb.ID, part)
		if err != nil {
			s.reportExpunged(del)
			s.storeError(tag, err, false)
			return
		}
		del = append(del, got...)
	}
	s.reportExpunged(del)
	s.ok(tag, "EXPUNGE completed")
}

// cmdCopy runs COPY, MOVE and their UID forms (RFC 9051 sections 6.4.7,
// 6.4.8; COPYUID from UIDPLUS, RFC 4315).
func (s *session) cmdCopy(tag string, uid, move bool, a *imapwire.Copy) {
	sel := s.sel
	if move && sel.readOnly {
		s.no(tag, imapwire.CodeCannot, "mailbox is read-only (EXAMINE)")
		return
	}
	ranges, ok := s.resolve(tag, a.Set, uid)
	if !ok {
		return
	}
	dest, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		s.storeError(tag, err, true)
		return
	}
	uids := rangesUIDs(ranges)
	if len(uids) == 0 {
		s.ok(tag, "nothing to do")
		return
	}
	if !move {
		// A copy adds to the account's storage (RFC 9208 section 4.1.3);
		// a move within the account does not.
		msgs, err := s.srv.store.MessagesByUID(s.ctx, s.account.ID, sel.mb.ID, queryRanges(ranges))
		if err != nil {
			s.storeError(tag, err, false)
			return
		}
		var size int64
		for _, m := range msgs {
			if rangesContain(ranges, m.UID) {
				size += m.Size
			}
		}
		if err := s.checkQuota(size); err != nil {
			s.answerError(tag, err)
			return
		}
	}
	var events []store.LogEvent
	if move {
		msgs, err := s.srv.store.MessagesByUID(s.ctx, s.account.ID, sel.mb.ID, queryRanges(ranges))
		if err == nil {
			now := time.Now()
			for _, m := range msgs {
				if rangesContain(ranges, m.UID) {
					base := store.LogEvent{Time: now, MessageID: m.MessageID, Subject: m.Subject, MailFrom: m.From,
						Size: m.Size, RemoteIP: s.ip}
					events = append(events, msglog.With(base, msglog.Moved, s.account.Address, s.account.DomainID,
						fmt.Sprintf("moved from %s to %s over IMAP", sel.mb.Name, dest.Name)))
				}
			}
		}
	}
	var copied []store.CopiedUID
	if move {
		copied, err = s.srv.store.Move(s.ctx, s.account.ID, sel.mb.ID, uids, dest.ID)
	} else {
		copied, err = s.srv.store.Copy(s.ctx, s.account.ID, sel.mb.ID, uids, dest.ID)
	}
	if err != nil {
		s.storeError(tag, err, true)
		return
	}
	var src, dst imapwire.NumSet
	var from []uint32
	for _, c := range copied {
		src.AddNum(c.From)
		dst.AddNum(c.To)
		from = append(from, c.From)
	}
	code := imapwire.Code{}
	if len(copied) > 0 {
		code = imapwire.CopyUIDCode(dest.UIDValidity, src, dst)
	}
	if !move {
		if dest.ID == sel.mb.ID {
			s.markDirty()
			s.sync(false)
		}
		s.okCode(tag, code, "COPY completed")
		return
	}
	if len(events) > 0 {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		if err := s.srv.msglog.Add(ctx, events...); err != nil {
			s.log.Warn("message log of move", "err", err)
		}
		cancel()
	}
	// RFC 6851 section 4.3: COPYUID in an untagged OK before the
	// expunges, which are part of MOVE's response.
	if code.Name != "" {
		s.wr.Untagged(imapwire.OK, code, "moved")
	}
	s.reportExpunged(from)
	if dest.ID == sel.mb.ID {
		// Into the selected mailbox itself: the messages are back under
		// new UIDs, announced after the expunges (RFC 6851 section 3.3).
		s.markDirty()
		s.sync(false)
	}
	s.ok(tag, "MOVE completed")
}

// cmdAppend runs APPEND (RFC 9051 section 6.3.12) through the store's
// one delivery path, durable before the OK, with APPENDUID (RFC 4315).
// A message the mailbox already holds (the store's duplicate rule: same
// Message-ID and body, not Drafts) is not stored twice: the OK's
// APPENDUID names the copy already there (issue 13 part 5), as a client
// uploading its Sent copy after submission stored one expects to find
// its message under that UID.
func (s *session) cmdAppend(tag string, a *imapwire.Append) error {
	mb, err := s.appendTarget(a.Mailbox)
	if err != nil {
		return targetError{err}
	}
	d, err := s.appendDelivery(a.Messages[0], mb.Name)
	if err != nil {
		return err
	}
	delivered, err := s.srv.store.Deliver(s.ctx, d)
	if err != nil {
		return targetError{err}
	}
	if len(delivered) > 0 && delivered[0].MailboxID != mb.ID {
		// The selected mailbox was renamed away and another took its
		// name: APPENDUID names the one that got the message.
		if mb, err = s.srv.store.MailboxByID(s.ctx, s.account.ID, delivered[0].MailboxID); err != nil {
			return targetError{err}
		}
	}
	if s.sel != nil && s.sel.mb.ID == mb.ID {
		// The new message is announced at once (RFC 9051 section
		// 6.3.12).
		if len(delivered) != 1 || delivered[0].Duplicate || !s.ownAppend(delivered[0].UID) {
			s.markDirty()
		}
		s.sync(true)
	}
	var set imapwire.NumSet
	for _, dl := range delivered {
		set.AddNum(dl.UID)
	}
	if len(delivered) == 0 {
		s.ok(tag, "APPEND completed")
		return nil
	}
	s.okCode(tag, imapwire.AppendUIDCode(mb.UIDValidity, set), "APPEND completed")
	return nil
}
