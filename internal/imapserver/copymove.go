package imapserver

import (
	"context"
	"fmt"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/msglog"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdCopy runs COPY, MOVE and their UID forms (RFC 9051 sections 6.4.7,
// 6.4.8; COPYUID from UIDPLUS, RFC 4315).
func (s *session) cmdCopy(tag string, uid, move bool, a *imapwire.Copy) error {
	sel := s.sel
	if move && sel.readOnly {
		return errReadOnly
	}
	ranges, err := s.resolve(a.Set, uid)
	if err != nil {
		return err
	}
	dest, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		return targetError{err}
	}
	uids := rangesUIDs(ranges)
	if len(uids) == 0 {
		s.ok(tag, "nothing to do")
		return nil
	}
	if !move {
		// A copy adds to the account's storage (RFC 9208 section 4.1.3);
		// a move within the account does not.
		msgs, err := s.srv.store.MessagesByUID(s.ctx, s.account.ID, sel.mb.ID, queryRanges(ranges))
		if err != nil {
			return err
		}
		var size int64
		for _, m := range msgs {
			if rangesContain(ranges, m.UID) {
				size += m.Size
			}
		}
		if err := s.checkQuota(size); err != nil {
			s.answerError(tag, err)
			return nil
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
		return targetError{err}
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
		return nil
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
	}
	// UID MOVE may report other expunges (RFC 9051 section 7.5.1): one
	// of the set that another session expunged just before, and that
	// this move so found gone, is reported with the moved ones.
	s.sync(uid)
	return nil
}
