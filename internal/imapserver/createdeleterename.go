package imapserver

import (
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdCreate runs CREATE (RFC 9051 section 6.3.4) with CREATE-SPECIAL-USE
// (RFC 6154 section 3).
func (s *session) cmdCreate(tag string, a *imapwire.Create) error {
	use := ""
	switch len(a.SpecialUse) {
	case 0:
	case 1:
		// An attribute this server does not know is refused with
		// USEATTR, as one it cannot assign is (RFC 6154 section 3),
		// and nothing is created.
		var ok bool
		if use, ok = store.CanonicalSpecialUse(a.SpecialUse[0]); !ok || use == "" {
			return errNo("USEATTR", a.SpecialUse[0]+" is not a special use this server supports")
		}
	default:
		return errNo("USEATTR", "one special use per mailbox")
	}
	name := strings.TrimSuffix(a.Mailbox, "/")
	if name == store.Inbox {
		return errNo(imapwire.CodeAlreadyExists, "INBOX always exists")
	}
	if _, err := s.srv.store.CreateMailbox(s.ctx, s.account.ID, name, use); err != nil {
		return err
	}
	return nil
}

// cmdDelete runs DELETE. What the server keeps in memory about the
// mailbox goes with it (issue 11); other sessions that have it selected
// end with BYE at their next command (sync).
func (s *session) cmdDelete(tag, name string) error {
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, name)
	if err == nil {
		err = s.srv.store.DeleteMailbox(s.ctx, s.account.ID, mb.Name)
	}
	if err != nil {
		return err
	}
	s.srv.forgetMailbox(keyOf(mb))
	if s.sel != nil && s.sel.key == keyOf(mb) {
		// The session deleted its own selected mailbox: closed, as
		// Dovecot does, so that nothing more is answered about it
		// ([CLOSED], RFC 9051 section 7.1).
		s.unselect()
		s.wr.Untagged(imapwire.OK, imapwire.Code{Name: imapwire.CodeClosed}, "selected mailbox deleted")
	}
	s.ok(tag, "DELETE completed; its messages are in Trash")
	return nil
}

// cmdRename runs RENAME. The renamed mailboxes (children too, and INBOX,
// whose messages move out) keep their ids; what the server keeps about
// them is dropped all the same, and rebuilt from the store when next
// selected.
func (s *session) cmdRename(tag, from, to string) error {
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.account.ID)
	if err != nil {
		return err
	}
	if err := s.srv.store.RenameMailbox(s.ctx, s.account.ID, from, strings.TrimSuffix(to, "/")); err != nil {
		return err
	}
	for _, mb := range mbs {
		if mb.Name == from || strings.HasPrefix(mb.Name, from+"/") || strings.EqualFold(from, store.Inbox) && mb.Name == store.Inbox {
			s.srv.forgetMailbox(keyOf(mb))
		}
	}
	return nil
}
