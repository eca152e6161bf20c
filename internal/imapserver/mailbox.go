package imapserver

import (
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdSelect runs SELECT and EXAMINE (RFC 9051 sections 6.3.2 and 6.3.3),
// with the CONDSTORE and QRESYNC parameters (RFC 7162 sections 3.1.8 and
// 3.2.5).
func (s *session) cmdSelect(tag string, readOnly bool, a *imapwire.Select) {
	if a.QResync != nil && !s.qresync {
		s.bad(tag, "QRESYNC parameter needs ENABLE QRESYNC first")
		return
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
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		s.storeError(tag, err, false)
		return
	}
	// Subscribe to changes before reading the UIDs, so that nothing
	// delivered in between is missed (it is read again by modseq).
	s.feedModSeq.Store(0)
	s.selectedID.Store(mb.ID)
	key := keyOf(mb)
	s.srv.flags.acquire(key)
	fail := func(err error) {
		s.srv.flags.release(key)
		s.selectedID.Store(0)
		s.storeError(tag, err, false)
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
			fail(err)
			return
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
			fail(err)
			return
		}
		view = newView(uids)
		if !s.rev2 && mb.Unseen > 0 {
			firstUnseen, err = s.firstUnseen(mb.ID, &view)
			if err != nil {
				fail(err)
				return
			}
		}
	}
	sel := &selected{mb: mb, key: key, readOnly: readOnly, view: view, modseq: mb.HighestModSeq, keywords: slices.Clone(mb.Keywords)}
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

	w := s.wr
	w.FlagsResponse(append(slices.Clip(mailboxFlags), sel.keywords...))
	w.Exists(sel.view.count())
	if !s.rev2 {
		w.Recent(uint32(rangesCount(sel.recent)))
	}
	if firstUnseen > 0 {
		w.Untagged(imapwire.OK, imapwire.UnseenCode(firstUnseen), "first unseen message")
	}
	w.Untagged(imapwire.OK, imapwire.UIDValidityCode(mb.UIDValidity), "UIDs valid")
	w.Untagged(imapwire.OK, imapwire.UIDNextCode(mb.UIDNext), "predicted next UID")
	if readOnly {
		w.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(nil), "no permanent flags in read-only mode")
	} else {
		perm := append(slices.Clip(permanentFlags[:len(permanentFlags)-1]), sel.keywords...)
		w.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(append(perm, `\*`)), "flags permitted")
	}
	w.Untagged(imapwire.OK, imapwire.HighestModSeqCode(mb.HighestModSeq), "highest modseq")
	if s.rev2 {
		w.Raw(`* LIST () "/" `).Mailbox(mb.Name).CRLF()
	}
	if q := a.QResync; q != nil && q.UIDValidity == mb.UIDValidity {
		s.qresyncSelect(q)
	}
	code := imapwire.Code{Name: imapwire.CodeReadWrite}
	if readOnly {
		code.Name = imapwire.CodeReadOnly
	}
	s.okCode(tag, code, "mailbox selected")
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
func (s *session) cmdClose(tag string, expunge bool) {
	if expunge && !s.sel.readOnly && s.sel.view.count() > 0 {
		// The store expunges what carries \Deleted when it runs: a
		// flag taken off by any session just before is respected.
		all := []store.UIDRange{{First: 1, Last: s.sel.view.maxUID()}}
		if _, err := s.srv.store.ExpungeDeleted(s.ctx, s.account.ID, s.sel.mb.ID, all); err != nil {
			s.storeError(tag, err, false)
			return
		}
	}
	s.unselect()
	s.ok(tag, "mailbox closed")
}

func (s *session) cmdCreate(tag string, a *imapwire.Create) {
	use := ""
	switch len(a.SpecialUse) {
	case 0:
	case 1:
		use = a.SpecialUse[0]
	default:
		s.no(tag, "USEATTR", "one special use per mailbox")
		return
	}
	name := strings.TrimSuffix(a.Mailbox, "/")
	if name == store.Inbox {
		s.no(tag, imapwire.CodeAlreadyExists, "INBOX always exists")
		return
	}
	if _, err := s.srv.store.CreateMailbox(s.ctx, s.account.ID, name, use); err != nil {
		s.storeError(tag, err, false)
		return
	}
	s.ok(tag, "CREATE completed")
}

// cmdDelete runs DELETE. What the server keeps in memory about the
// mailbox goes with it (issue 11); other sessions that have it selected
// end with BYE at their next command (sync).
func (s *session) cmdDelete(tag, name string) {
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, name)
	if err == nil {
		err = s.srv.store.DeleteMailbox(s.ctx, s.account.ID, mb.Name)
	}
	if err != nil {
		s.storeError(tag, err, false)
		return
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
}

// cmdRename runs RENAME. The renamed mailboxes (children too, and INBOX,
// whose messages move out) keep their ids; what the server keeps about
// them is dropped all the same, and rebuilt from the store when next
// selected.
func (s *session) cmdRename(tag, from, to string) {
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.account.ID)
	if err != nil {
		s.storeError(tag, err, false)
		return
	}
	if err := s.srv.store.RenameMailbox(s.ctx, s.account.ID, from, strings.TrimSuffix(to, "/")); err != nil {
		s.storeError(tag, err, false)
		return
	}
	for _, mb := range mbs {
		if mb.Name == from || strings.HasPrefix(mb.Name, from+"/") || strings.EqualFold(from, store.Inbox) && mb.Name == store.Inbox {
			s.srv.forgetMailbox(keyOf(mb))
		}
	}
	s.ok(tag, "RENAME completed")
}

// cmdSubscribe runs SUBSCRIBE and UNSUBSCRIBE (RFC 9051 sections 6.3.7
// and 6.3.8) on the account's list of subscribed names. SUBSCRIBE wants
// an existing mailbox (RFC 3501 section 6.3.6 allows checking);
// UNSUBSCRIBE takes any subscribed name, also one whose mailbox is gone.
func (s *session) cmdSubscribe(tag, name string, on bool) {
	name = strings.TrimSuffix(name, "/")
	var err error
	if on {
		_, err = s.srv.store.Mailbox(s.ctx, s.account.ID, name)
	}
	if err == nil {
		err = s.srv.store.SetSubscription(s.ctx, s.account.ID, name, on)
	}
	if err != nil {
		s.storeError(tag, err, false)
		return
	}
	s.ok(tag, "completed")
}

// cmdStatus runs STATUS (RFC 9051 section 6.3.11) from the mailbox's
// counters.
func (s *session) cmdStatus(tag string, a *imapwire.Status) {
	mb, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox)
	if err != nil {
		s.storeError(tag, err, false)
		return
	}
	if err := s.writeStatus(mb, a.Items); err != nil {
		s.storeError(tag, err, false)
		return
	}
	s.ok(tag, "STATUS completed")
}

// writeStatus writes "* STATUS name (items)".
func (s *session) writeStatus(mb store.Mailbox, items []imapwire.StatusItem) error {
	// Gather first: a failure must not leave half a line.
	vals := make([]uint64, len(items))
	for i, it := range items {
		switch it {
		case imapwire.StatusMessages:
			vals[i] = uint64(mb.Messages)
		case imapwire.StatusUIDNext:
			vals[i] = uint64(mb.UIDNext)
		case imapwire.StatusUIDValidity:
			vals[i] = uint64(mb.UIDValidity)
		case imapwire.StatusUnseen:
			vals[i] = uint64(mb.Unseen)
		case imapwire.StatusSize:
			vals[i] = uint64(mb.Size)
		case imapwire.StatusHighestModSeq:
			s.cond = true
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

// cmdList runs LIST (RFC 9051 section 6.3.9 with LIST-EXTENDED RFC 5258,
// SPECIAL-USE RFC 6154 and LIST-STATUS RFC 5819) and LSUB (RFC 3501
// section 6.3.9). Subscriptions are names of their own (store
// Subscriptions): a subscribed name whose mailbox is gone is still listed
// by LSUB and LIST (SUBSCRIBED), the latter with \NonExistent (RFC 5258
// section 3.1).
func (s *session) cmdList(tag string, lsub bool, a *imapwire.List) {
	if !lsub && len(a.Patterns) == 1 && a.Patterns[0] == "" && !a.Extended {
		// The hierarchy delimiter and root (RFC 9051 section 6.3.9).
		s.wr.Raw(`* LIST (\Noselect) "/" ""` + "\r\n")
		s.ok(tag, "LIST completed")
		return
	}
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.account.ID)
	if err != nil {
		s.storeError(tag, err, false)
		return
	}
	sel, ret := a.Select, a.Return
	onlySubscribed := lsub || sel.Subscribed
	showSubscribed := ret.Subscribed || sel.Subscribed
	showSpecial := !a.Extended || ret.SpecialUse || sel.SpecialUse
	subs := map[string]bool{}
	if onlySubscribed || showSubscribed {
		list, err := s.srv.store.Subscriptions(s.ctx, s.account.ID)
		if err != nil {
			s.storeError(tag, err, false)
			return
		}
		for _, n := range list {
			subs[n] = true
		}
	}
	names := make(map[string]*store.Mailbox, len(mbs))
	for i := range mbs {
		names[mbs[i].Name] = &mbs[i]
	}
	hasChildren := func(name string) bool {
		for n := range names {
			if strings.HasPrefix(n, name+"/") {
				return true
			}
		}
		return false
	}
	subscribedChild := func(name string) bool {
		for n := range subs {
			if strings.HasPrefix(n, name+"/") {
				return true
			}
		}
		return false
	}
	var pats []string
	for _, p := range a.Patterns {
		pats = append(pats, joinReference(a.Reference, p))
	}
	matches := func(name string) bool {
		for _, p := range pats {
			if matchPattern(p, name) {
				return true
			}
		}
		return false
	}
	// The names to consider: the mailboxes; with only subscribed ones,
	// the subscriptions and their parents too.
	cands := make(map[string]bool, len(mbs)+len(subs))
	for n := range names {
		cands[n] = true
	}
	// noselect holds the unsubscribed parents that LSUB lists because a
	// subscribed child does not match a "%" (RFC 3501 section 6.3.9).
	noselect := map[string]bool{}
	if onlySubscribed {
		for n := range subs {
			cands[n] = true
			for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
				parent := n[:i]
				cands[parent] = true
				if lsub && !subs[parent] && matches(parent) && !matches(n) {
					noselect[parent] = true
				}
			}
		}
	}
	order := make([]string, 0, len(cands))
	for n := range cands {
		order = append(order, n)
	}
	slices.SortFunc(order, func(x, y string) int {
		if x == store.Inbox {
			return -1
		}
		if y == store.Inbox {
			return 1
		}
		return strings.Compare(x, y)
	})
	resp := "* LIST ("
	if lsub {
		resp = "* LSUB ("
	}
	for _, name := range order {
		if !matches(name) {
			continue
		}
		mb := names[name]
		childInfo := false
		var attrs []string
		switch {
		case lsub:
			// LSUB: the subscribed names; a parent listed for its
			// subscribed children, or a name whose mailbox is gone,
			// cannot be selected.
			if !subs[name] && !noselect[name] {
				continue
			}
			if !subs[name] || mb == nil {
				attrs = append(attrs, `\Noselect`)
			}
			s.wr.Raw(resp).Raw(strings.Join(attrs, " ")).Raw(`) "/" `).Mailbox(name).CRLF()
			continue
		case onlySubscribed && !subs[name]:
			if !(sel.RecursiveMatch && subscribedChild(name)) {
				continue
			}
			// Listed only for its subscribed children: not itself
			// subscribed (RFC 5258 section 3.5).
			childInfo = true
		case showSubscribed && subs[name]:
			attrs = append(attrs, `\Subscribed`)
		}
		if mb == nil {
			if !onlySubscribed {
				continue
			}
			// A subscription whose mailbox does not exist (RFC 5258
			// section 3.1).
			if sel.SpecialUse {
				continue
			}
			attrs = append(attrs, `\NonExistent`)
		} else {
			if sel.SpecialUse && mb.SpecialUse == "" {
				continue
			}
			if hasChildren(name) {
				attrs = append(attrs, `\HasChildren`)
			} else {
				attrs = append(attrs, `\HasNoChildren`)
			}
			if showSpecial && mb.SpecialUse != "" {
				attrs = append(attrs, mb.SpecialUse)
			}
		}
		if sel.RecursiveMatch && !childInfo && onlySubscribed && subscribedChild(name) {
			childInfo = true
		}
		s.wr.Raw(resp).Raw(strings.Join(attrs, " ")).Raw(`) "/" `).Mailbox(name)
		if childInfo && sel.RecursiveMatch {
			s.wr.Raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		s.wr.CRLF()
		if ret.Status != nil && mb != nil {
			if err := s.writeStatus(*mb, ret.Status); err != nil {
				s.log.Warn("LIST-STATUS", "mailbox", name, "err", err)
			}
		}
	}
	if lsub {
		s.ok(tag, "LSUB completed")
	} else {
		s.ok(tag, "LIST completed")
	}
}

// joinReference applies a LIST reference to a pattern (RFC 9051 section
// 6.3.9): the reference is a prefix, with one "/" between.
func joinReference(ref, pat string) string {
	if ref == "" || strings.HasPrefix(pat, "/") {
		return pat
	}
	if strings.HasSuffix(ref, "/") {
		return ref + pat
	}
	return ref + "/" + pat
}

// matchPattern matches a mailbox name against a LIST pattern: "*" matches
// anything, "%" anything but the "/" delimiter. INBOX matches
// case-insensitively.
func matchPattern(pat, name string) bool {
	if name == store.Inbox && len(pat) == 5 && strings.EqualFold(pat, store.Inbox) {
		return true
	}
	return match(pat, name)
}

func match(pat, name string) bool {
	// Dynamic programming over (pattern prefix, name prefix): linear in
	// each, whatever the client puts in the pattern.
	prev := make([]bool, len(name)+1)
	cur := make([]bool, len(name)+1)
	prev[0] = true
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		cur[0] = prev[0] && (c == '*' || c == '%')
		for j := 1; j <= len(name); j++ {
			switch c {
			case '*':
				cur[j] = prev[j] || cur[j-1]
			case '%':
				cur[j] = prev[j] || cur[j-1] && name[j-1] != '/'
			default:
				cur[j] = prev[j-1] && name[j-1] == c
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(name)]
}
