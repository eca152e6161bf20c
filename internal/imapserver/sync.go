package imapserver

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/store"
)

// sync brings the session's view of the selected mailbox up to the store
// and writes the untagged responses that report it: EXISTS (and RECENT)
// for new messages, FETCH FLAGS for flag changes, and EXPUNGE (VANISHED
// for QRESYNC clients) when allowExpunge. Expunges are held back during
// FETCH, STORE and SEARCH by sequence number (RFC 9051 section 7.5.1), so
// that numbers the client uses stay valid, and reported at the next
// command that allows them.
//
// The change feed only says that something changed; what changed is read
// back by modseq (every change raises the mailbox's HIGHESTMODSEQ), so
// missed or repeated events cost nothing. The feed is asynchronous, so a
// session whose own write could not be folded into its view (ownChange)
// re-reads without waiting for the write's event: its next command never
// sees the mailbox as it was before that write.
//
// A read can see a commit before the feed announces it (the store
// announces once the commit is durable), so the session first waits for
// the feed to catch up with every commit made so far
// (store.Announcements): whatever an earlier response of the session
// showed, the feed has marked the session dirty for by then, and this
// sync reports it. Without the wait a change shown by a read but not yet
// announced was reported one command later or, when nothing else came,
// not before the client asked again (issue 11, the stale-snapshot class).
//
// A selected mailbox found deleted is marked gone, and the session ends
// with BYE before answering anything about it.
func (s *session) sync(allowExpunge bool) {
	sel := s.sel
	if sel == nil || sel.gone {
		return
	}
	if err := s.srv.store.WaitAnnounced(s.ctx); err != nil {
		// Only a closing store or session: re-read rather than trust
		// the feed.
		s.markDirty()
	}
	fromFeed := s.dirty.Swap(false) && s.feedModSeq.Swap(0) > sel.modseq
	if fromFeed || sel.modseq < sel.written {
		if err := s.refresh(); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				// Deleted, by this session, another one or another
				// process: its id is never given again, but nothing
				// more may be answered about it.
				sel.gone = true
				return
			}
			s.log.Warn("refresh selected mailbox", "err", err)
			s.markDirty()
		}
	}
	if allowExpunge && len(sel.expunged) > 0 {
		uids := sel.expunged
		sel.expunged = nil
		s.reportExpunged(uids)
	}
}

// markDirty makes the next sync re-read the selected mailbox.
func (s *session) markDirty() {
	s.feedModSeq.Store(math.MaxUint64)
	s.dirty.Store(true)
}

// reportExpunged removes UIDs from the view and says so: EXPUNGE per
// message, or one VANISHED for QRESYNC clients (RFC 7162 section 3.2.10).
func (s *session) reportExpunged(uids []uint32) {
	sel := s.sel
	slices.Sort(uids)
	uids = slices.Compact(uids)
	present := uids[:0:0]
	for _, u := range uids {
		if sel.view.contains(u) {
			present = append(present, u)
		}
	}
	if len(present) == 0 {
		return
	}
	// Live results lose them first, in the numbers the client still
	// knows (RFC 5267 section 4.3.4).
	s.liveExpunged(present)
	seqs := sel.view.removeSorted(present)
	// An expunged message is recent no more (RECENT counts messages in
	// the mailbox, RFC 3501 section 7.3.2).
	sel.recent.removeSorted(present)
	if s.qresync {
		s.wr.Vanished(false, numSetOf(present))
	} else {
		for _, seq := range seqs {
			s.wr.Expunge(seq)
		}
	}
	// A live result that names sequence numbers or "*" may have gained
	// or lost messages by the renumbering.
	s.liveChanged(nil)
}

// refresh reads what changed in the selected mailbox since sel.modseq.
func (s *session) refresh() error {
	sel := s.sel
	mb, err := s.srv.store.MailboxByID(s.ctx, s.account.ID, sel.mb.ID)
	if err != nil {
		return err
	}
	if keyOf(mb) != sel.key {
		return fmt.Errorf("selected mailbox %d changed UIDVALIDITY: %w", mb.ID, store.ErrNotFound)
	}
	if mb.HighestModSeq <= sel.modseq {
		sel.mb = mb // renamed, perhaps
		return nil
	}
	vanished, err := s.srv.store.VanishedSince(s.ctx, s.account.ID, mb.ID, sel.modseq)
	if err != nil {
		return err
	}
	changed, err := s.srv.store.ChangedSince(s.ctx, s.account.ID, mb.ID, sel.modseq)
	if err != nil {
		return err
	}
	for _, u := range vanished {
		if sel.view.contains(u) && !slices.Contains(sel.expunged, u) {
			sel.expunged = append(sel.expunged, u)
		}
	}
	s.srv.flags.advance(sel.key, sel.modseq, mb.HighestModSeq, changed, vanished)
	s.announceKeywords(mb.Keywords)
	sel.mb = mb
	sel.modseq = mb.HighestModSeq
	s.applyChanged(changed)
	return nil
}

// ownAppend brings the view up to a message the session itself just
// appended to the selected mailbox. When the append was the only write
// since the view's modseq (the message has the next modseq), nothing can
// have been expunged or changed in between, so only the changes are read,
// not the mailbox record or the vanished UIDs. It reports false when it
// cannot tell, and the caller syncs in full.
func (s *session) ownAppend(uid uint32) bool {
	sel := s.sel
	if uid <= sel.view.maxUID() {
		return false
	}
	changed, err := s.srv.store.ChangedSince(s.ctx, s.account.ID, sel.mb.ID, sel.modseq)
	if err != nil {
		return false
	}
	i := slices.IndexFunc(changed, func(m store.MessageFlags) bool { return m.UID == uid })
	if i < 0 || changed[i].ModSeq != sel.modseq+1 {
		return false
	}
	// Later writes by others (higher modseqs) are left to the next
	// sync: their events mark the session dirty.
	mine := changed[i : i+1]
	s.srv.flags.advance(sel.key, sel.modseq, sel.modseq+1, mine, nil)
	sel.modseq++
	s.applyChanged(mine)
	return true
}

// applyChanged adds new messages to the view and reports them (EXISTS,
// RECENT) and the flag changes of known ones (FETCH).
func (s *session) applyChanged(changed []store.MessageFlags) {
	sel := s.sel
	s.announceRowKeywords(changed)
	max := sel.view.maxUID()
	var news []uint32
	var flagged []store.MessageFlags
	for _, m := range changed {
		switch {
		case m.UID > max:
			news = append(news, m.UID)
		case sel.view.contains(m.UID) && !slices.Contains(sel.expunged, m.UID):
			flagged = append(flagged, m)
		}
	}
	if len(news) > 0 {
		for _, u := range news {
			sel.view.push(u)
		}
		if max := news[len(news)-1]; !sel.readOnly && max > sel.mb.RecentUID {
			first := s.claimRecent(sel, max)
			for _, u := range news {
				if u >= first {
					sel.recent.add(u, u)
				}
			}
		}
		s.wr.Exists(sel.view.count())
		if !s.rev2 {
			s.wr.Recent(uint32(rangesCount(sel.recent)))
		}
	}
	for _, m := range flagged {
		seq, _ := sel.view.seqOf(m.UID)
		s.wr.BeginFetch(seq)
		s.writeFlagsItem(m.UID, m.Flags, m.Keywords)
		if s.cond {
			s.wr.Raw(" MODSEQ (").Num64(m.ModSeq).Raw(")")
		}
		if s.cond {
			// With CONDSTORE on, a FETCH another session's change
			// causes carries the UID as well as the modseq (RFC 7162
			// section 3.1; QRESYNC, which enables CONDSTORE, relies on
			// it, section 3.2.4).
			s.wr.Raw(" UID ").Num(m.UID)
		}
		s.wr.EndFetch()
	}
	s.liveChanged(append(news, uidsOfRows(flagged)...))
}

// uidsOfRows returns the UIDs of rows.
func uidsOfRows(rows []store.MessageFlags) []uint32 {
	uids := make([]uint32, len(rows))
	for i := range rows {
		uids[i] = rows[i].UID
	}
	return uids
}

// ownChange records that the session itself moved the mailbox from
// modseq before to after: when nothing else happened in between, the
// view is still in step and needs no re-read for it. A store raises a
// mailbox's modseq by one per write, so after == before+1 is what proves
// that; changed are the rows the write returned, and they move the
// shared flag snapshot along too. With any other gap, others wrote in
// between: the view and the shared snapshot are older than this write,
// and sel.written makes every read until the next sync (which re-reads)
// bypass them (issue 11 part 2: the next command read the snapshot from
// before the write, and EXPUNGE removed a message whose \Deleted the
// session had just taken off).
func (s *session) ownChange(before, after uint64, changed []store.MessageFlags) {
	sel := s.sel
	if sel == nil {
		return
	}
	sel.written = max(sel.written, after)
	if sel.modseq == before && after == before+1 {
		sel.modseq = after
		s.srv.flags.advance(sel.key, before, after, changed, nil)
	}
	// The live results see the session's own change now, whether or not
	// the view had to be re-read for it; matching again what is already
	// in step changes nothing.
	s.liveChanged(uidsOfRows(changed))
}

// writeFlagsItem writes "FLAGS (...)" for a message, with \Recent when it
// is recent in this session.
func (s *session) writeFlagsItem(uid uint32, f store.Flags, keywords []string) {
	w := s.wr
	w.Raw("FLAGS (")
	n := 0
	sep := func() {
		if n > 0 {
			w.SP()
		}
		n++
	}
	for _, sf := range systemFlags {
		if f&sf.bit != 0 {
			sep()
			w.Raw(sf.name)
		}
	}
	if s.sel != nil && rangesContain(s.sel.recent, uid) {
		sep()
		w.Raw(`\Recent`)
	}
	for _, k := range keywords {
		sep()
		w.Raw(k)
	}
	w.Raw(")")
}

// systemFlags maps store flag bits to IMAP system flags.
var systemFlags = [...]struct {
	bit  store.Flags
	name string
}{
	{store.FlagAnswered, `\Answered`},
	{store.FlagFlagged, `\Flagged`},
	{store.FlagDeleted, `\Deleted`},
	{store.FlagSeen, `\Seen`},
	{store.FlagDraft, `\Draft`},
}

// parseFlags splits a client's flag list into system flags and keywords.
// \Recent cannot be altered by the client (RFC 3501 section 2.3.2; RFC
// 9051 has no \Recent): like any other system flag STORE and APPEND do
// not know, it is refused (BAD, as Dovecot answers "Invalid system flag
// \RECENT") rather than silently dropped.
func parseFlags(list []string) (store.Flags, []string, bool) {
	var f store.Flags
	var kw []string
	seen := map[string]bool{}
	for _, name := range list {
		if len(name) > 0 && name[0] == '\\' {
			found := false
			for _, sf := range systemFlags {
				if name == sf.name {
					f |= sf.bit
					found = true
				}
			}
			if !found {
				return 0, nil, false
			}
			continue
		}
		// A keyword named twice, in any case, is one (RFC 9051 section
		// 2.3.2): APPEND stored "(foo FOO)" as two. A set, not a
		// search of kw: a line holds tens of thousands of keywords.
		if l := strings.ToLower(name); !seen[l] {
			seen[l] = true
			kw = append(kw, name)
		}
	}
	return f, kw, true
}

// permanentFlags is what STORE can set: the system flags and any keyword.
var permanentFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\*`}

// mailboxFlags is the FLAGS response of SELECT.
var mailboxFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

// claimRecent claims the messages of sel's mailbox up to upTo as
// \Recent for this session (store ClaimRecent: exactly one session gets
// each, also across restarts) and returns the first UID it got. On
// failure nothing is recent here, which RFC 3501 section 2.3.2 allows.
func (s *session) claimRecent(sel *selected, upTo uint32) uint32 {
	first, err := s.srv.store.ClaimRecent(s.ctx, s.account.ID, sel.mb.ID, upTo)
	if err != nil {
		s.log.Warn("claim recent messages", "mailbox", sel.mb.ID, "err", err)
		return upTo + 1
	}
	sel.mb.RecentUID = max(sel.mb.RecentUID, upTo)
	return first
}
