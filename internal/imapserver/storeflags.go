package imapserver

import (
	"slices"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdStore runs STORE and UID STORE (RFC 9051 section 6.4.6) with
// UNCHANGEDSINCE (RFC 7162 section 3.1.3).
func (s *session) cmdStore(tag string, uid bool, a *imapwire.Store) error {
	sel := s.sel
	if sel.readOnly {
		return errReadOnly
	}
	ranges, err := s.resolve(a.Set, uid)
	if err != nil {
		return err
	}
	flags, kw, ok := parseFlags(a.Flags)
	if !ok {
		return errBad("unknown system flag")
	}
	op := store.FlagsReplace
	switch a.Op {
	case imapwire.StoreAdd:
		op = store.FlagsAdd
	case imapwire.StoreRemove:
		op = store.FlagsRemove
	}
	if a.HasUnchangedSince {
		s.condStoreOn()
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
			return err
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
			return err
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
		// 3.1.3), with the UID (section 3.1).
		for _, m := range changed {
			seq, _ := sel.view.seqOf(m.UID)
			s.wr.BeginFetch(seq)
			s.wr.Raw("UID ").Num(m.UID).SP()
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
			return nil
		}
	}
	return nil
}

// condStoreOn notes a CONDSTORE-enabling command (RFC 7162 section 3.1):
// from now on FETCH responses carry modseqs. The first one while a
// mailbox is selected also reports the mailbox's HIGHESTMODSEQ as the
// session has seen it (untagged OK, as Apache James answers): changes
// reported before came without a modseq, and the client learns where
// the modseqs it gets from now on start.
func (s *session) condStoreOn() {
	if s.cond {
		return
	}
	s.cond = true
	if s.sel != nil {
		s.wr.Untagged(imapwire.OK, imapwire.HighestModSeqCode(s.sel.modseq), "highest modseq")
	}
}

// writeFlagFetch writes "* seq FETCH (FLAGS (...) [UID n] [MODSEQ (n)])".
// Once CONDSTORE is on, every FETCH a flag change causes carries the UID
// and the modseq, after STORE as well as UID STORE (RFC 7162 section
// 3.1).
func (s *session) writeFlagFetch(m store.MessageFlags, withUID bool) {
	seq, ok := s.sel.view.seqOf(m.UID)
	if !ok {
		return
	}
	s.wr.BeginFetch(seq)
	s.writeFlagsItem(m.UID, m.Flags, m.Keywords)
	if withUID || s.cond {
		s.wr.Raw(" UID ").Num(m.UID)
	}
	if s.cond {
		s.wr.Raw(" MODSEQ (").Num64(m.ModSeq).Raw(")")
	}
	s.wr.EndFetch()
}
