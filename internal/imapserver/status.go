package imapserver

import (
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdStatus runs STATUS (RFC 9051 section 6.3.11) from the mailbox's
// counters.
func (s *session) cmdStatus(tag string, a *imapwire.Status) error {
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		return err
	}
	if err := s.writeStatus(mb, a.Items); err != nil {
		return err
	}
	return nil
}

// writeStatus writes "* STATUS name (items)".
func (s *session) writeStatus(mb store.Mailbox, items []imapwire.StatusItem) error {
	// Gather first: a failure must not leave half a line.
	vals := make([]uint64, len(items))
	for i, it := range items {
		switch it {
		case imapwire.StatusMessages:
			vals[i] = uint64(mb.Messages)
		case imapwire.StatusAppendLimit:
			// The limit APPENDLIMIT= announces, the same for every
			// mailbox (RFC 7889 section 3.2).
			vals[i] = uint64(s.srv.cfg.MaxLiteral)
		case imapwire.StatusUIDNext:
			vals[i] = uint64(mb.UIDNext)
		case imapwire.StatusUIDValidity:
			vals[i] = uint64(mb.UIDValidity)
		case imapwire.StatusUnseen:
			vals[i] = uint64(mb.Unseen)
		case imapwire.StatusSize:
			vals[i] = uint64(mb.Size)
		case imapwire.StatusHighestModSeq:
			s.condStoreOn()
			vals[i] = mb.HighestModSeq
		case imapwire.StatusDeleted:
			// No counter for \Deleted in the store yet: counted.
			flags, err := s.srv.store.FlagsByUID(s.ctx, s.account.ID, mb.ID, nil)
			if err != nil {
				return err
			}
			for _, m := range flags {
				if m.Flags&store.FlagDeleted != 0 {
					vals[i]++
				}
			}
		case imapwire.StatusRecent:
			if mb.UIDNext-1 > mb.RecentUID {
				flags, err := s.srv.store.FlagsByUID(s.ctx, s.account.ID, mb.ID, []store.UIDRange{{First: mb.RecentUID + 1, Last: mb.UIDNext - 1}})
				if err != nil {
					return err
				}
				vals[i] = uint64(len(flags))
			}
		}
	}
	w := s.wr
	w.Raw("* STATUS ").Mailbox(mb.Name).Raw(" (")
	for i, it := range items {
		if i > 0 {
			w.SP()
		}
		w.Raw(string(it)).SP().Num64(vals[i])
	}
	w.Raw(")").CRLF()
	return nil
}
