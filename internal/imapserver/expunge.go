package imapserver

import (
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// maxExpungeRanges bounds the UID ranges of one store expunge.
const maxExpungeRanges = 256

// cmdExpunge runs EXPUNGE and UID EXPUNGE (RFC 9051 sections 6.4.3 and
// 6.4.9). Expunged messages stay restorable in the store.
func (s *session) cmdExpunge(tag string, uidSet *imapwire.NumSet) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
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
		return nil
	}
	// The ranges go as they are, never widened (queryRanges): this is a
	// write. In parts, so that a very scattered set stays within the
	// store's bounds on one query.
	var del []uint32
	for len(ranges) > 0 {
		part := ranges[:min(len(ranges), maxExpungeRanges)]
		ranges = ranges[len(part):]
		before := sel.modseq
		got, modseq, err := s.srv.store.ExpungeDeleted(s.ctx, s.account.ID, sel.mb.ID, part)
		if err != nil {
			s.reportExpunged(del)
			return err
		}
		if len(got) > 0 {
			s.ownExpunge(before, modseq, got)
		}
		del = append(del, got...)
	}
	s.reportExpunged(del)
	// A message another session expunged just before, which this
	// expunge therefore found gone, is reported here too: the client
	// must not be left with a \Deleted message after EXPUNGE's OK. A
	// write returns once every earlier commit was announced, so the feed
	// has marked the session for it already. When this expunge was the
	// only change since the view (ownExpunge), its own events ask for no
	// re-read: this sync costs no store read.
	s.sync(true)
	return nil
}

// ownExpunge records that the session's own expunge of uids moved the
// mailbox from modseq before to after, as ownChange does for flags: when
// after == before+1 nothing else happened in between, so the view (which
// reportExpunged brings up to it) and the shared flag snapshot move to
// after without a re-read. Any other gap leaves sel.modseq, and the next
// sync re-reads by modseq (sel.written).
func (s *session) ownExpunge(before, after uint64, uids []uint32) {
	sel := s.sel
	sel.written = max(sel.written, after)
	if sel.modseq == before && after == before+1 {
		sel.modseq = after
		s.srv.flags.advance(sel.key, before, after, nil, uids)
	}
}
