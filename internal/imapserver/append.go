package imapserver

import (
	"strings"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/smtpserver"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdAppendAny runs APPEND: the storage quota is checked first (RFC 9208
// section 4.1.3: OVERQUOTA), then one message goes to cmdAppend and
// several to cmdMultiAppend (RFC 3502).
func (s *session) cmdAppendAny(c *imapwire.Command) error {
	a := c.Args.(*imapwire.Append)
	var size int64
	for _, m := range a.Messages {
		size += appendSize(m)
	}
	if err := s.checkQuota(size); err != nil {
		return err
	}
	if len(a.Messages) == 1 {
		return s.cmdAppend(c.Tag, a)
	}
	return s.cmdMultiAppend(c, a)
}

// cmdMultiAppend appends several messages, all or none (RFC 3502 section
// 3): every message is checked before any is stored, and all are stored
// in one store write (store.Deliveries), so that neither an error nor a crash
// leaves some of them in the mailbox.
func (s *session) cmdMultiAppend(c *imapwire.Command, a *imapwire.Append) error {
	mb, err := s.appendTarget(a.Mailbox)
	if err != nil {
		return targetError{err}
	}
	ds := make([]*store.Delivery, 0, len(a.Messages))
	for _, m := range a.Messages {
		d, err := s.appendDelivery(m, mb.Name)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	delivered, err := s.srv.store.DeliverAll(s.ctx, ds...)
	if err != nil {
		return targetError{err}
	}
	s.srv.recordStorage(nil)
	uids := make([]uint32, 0, len(delivered))
	for _, dl := range delivered {
		if len(dl) != 1 || dl[0].MailboxID != mb.ID {
			// The mailbox was renamed away meanwhile and another took
			// its name: undo rather than leave them where the client
			// did not ask. Only what this command stored is undone: a
			// duplicate names a message that was there before.
			for _, d := range delivered {
				for _, x := range d {
					if !x.Duplicate {
						s.srv.store.ExpungeUIDs(s.ctx, s.account.ID, x.MailboxID, []uint32{x.UID})
					}
				}
			}
			return targetError{store.ErrNotFound}
		}
		uids = append(uids, dl[0].UID)
	}
	if s.sel != nil && s.sel.mb.ID == mb.ID {
		s.markDirty()
		s.sync(true)
	}
	var set imapwire.NumSet
	for _, u := range uids {
		set.AddNum(u)
	}
	s.okCode(c.Tag, imapwire.AppendUIDCode(mb.UIDValidity, set), "APPEND completed")
	return nil
}

// appendTarget finds the mailbox APPEND names. The selected mailbox
// (drafts, sent copies) needs no lookup; the delivery checks where the
// message went.
func (s *session) appendTarget(name string) (store.Mailbox, error) {
	if s.sel != nil && (name == s.sel.mb.Name || s.sel.mb.Name == store.Inbox && strings.EqualFold(name, store.Inbox)) {
		return s.sel.mb, nil
	}
	return s.srv.store.Mailbox(s.ctx, s.account.ID, name)
}

// appendDelivery checks one APPEND message and makes its delivery into
// the mailbox named mailbox; the error is the BAD to answer.
func (s *session) appendDelivery(m imapwire.AppendMessage, mailbox string) (*store.Delivery, error) {
	if m.UTF8 && !s.utf8Accept {
		return nil, errBad("APPEND with UTF8 needs ENABLE UTF8=ACCEPT first")
	}
	flags, kw, ok := parseFlags(m.Flags)
	if !ok {
		return nil, errBad("unknown system flag")
	}
	// INTERNALDATE is when the message reached the server (RFC 9051
	// 2.3.3), so never later than now: no client has a reason to give a
	// date in the future, and the retention purge finds messages by
	// INTERNALDATE, taking none as arrived before it. A date given (old
	// mail dragged in from the primary mailbox) is kept, and the window
	// counts from now, when the message arrived (DatedByClient).
	date, byClient := m.Date, true
	if now := time.Now(); date.IsZero() || date.After(now) {
		date, byClient = now, false
	}
	var d *store.Delivery
	if m.Spooled != nil {
		// A large literal, read into a spool (appendspool.go): parsed
		// and stored from there, never held in memory.
		var err error
		if d, err = s.spooledDelivery(m, date); err != nil {
			return nil, err
		}
	} else {
		raw := m.Data
		if m.Binary {
			// A literal8 upload: part bodies kept as given, NUL-holding
			// ones base64-encoded (RFC 3516 section 4.4).
			raw = imapmsg.BinaryAppend(raw)
		} else {
			// The same line-ending rule as SMTP (bare CR and bare LF
			// become CRLF): one normaliser for every way a message
			// arrives.
			raw = smtpserver.NormalizeCRLF(raw)
		}
		d = store.NewDelivery(raw, date)
	}
	d.DatedByClient = byClient
	d.Copies = []store.Copy{{AccountID: s.account.ID, Mailbox: mailbox, Flags: flags, Keywords: kw}}
	return d, nil
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
	s.srv.recordStorage(nil)
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
