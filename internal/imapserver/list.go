package imapserver

import (
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// cmdList runs LIST (RFC 9051 section 6.3.9 with LIST-EXTENDED RFC 5258,
// SPECIAL-USE RFC 6154 and LIST-STATUS RFC 5819) and LSUB (RFC 3501
// section 6.3.9). Subscriptions are names of their own (store
// Subscriptions): a subscribed name whose mailbox is gone is still listed
// by LSUB and LIST (SUBSCRIBED), the latter with \NonExistent (RFC 5258
// section 3.1).
func (s *session) cmdList(tag string, lsub bool, a *imapwire.List) error {
	if !lsub && len(a.Patterns) == 1 && a.Patterns[0] == "" && !a.Extended {
		// The hierarchy delimiter and root (RFC 9051 section 6.3.9).
		s.wr.Raw(`* LIST (\Noselect) "/" ""` + "\r\n")
		return nil
	}
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.account.ID)
	if err != nil {
		return err
	}
	sel, ret := a.Select, a.Return
	onlySubscribed := lsub || sel.Subscribed
	showSubscribed := ret.Subscribed || sel.Subscribed
	subs := map[string]bool{}
	if onlySubscribed || showSubscribed {
		list, err := s.srv.store.Subscriptions(s.ctx, s.account.ID)
		if err != nil {
			return err
		}
		for _, n := range list {
			subs[n] = true
		}
	}
	names := make(map[string]*store.Mailbox, len(mbs))
	for i := range mbs {
		names[mbs[i].Name] = &mbs[i]
	}
	// The names with a mailbox below them, and with a subscription below
	// them, each found once: asking every name of every other one made a
	// LIST of 40,000 mailboxes run for nearly three minutes.
	withChildren, withSubscribedChild := ancestors(names), ancestors(subs)
	hasChildren := func(name string) bool { return withChildren[name] }
	subscribedChild := func(name string) bool { return withSubscribedChild[name] }
	var pats []string
	for _, p := range a.Patterns {
		// "inbox/%" names INBOX's children, as "inbox/x" names one of them
		// (store.CanonicalMailbox); a bare "inbox" is matched below.
		pat := joinReference(a.Reference, p)
		if len(pat) > len(store.Inbox) && pat[len(store.Inbox)] == '/' {
			pat = store.CanonicalMailbox(pat)
		}
		pats = append(pats, pat)
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
	// LIST: a level of hierarchy above existing mailboxes but no mailbox
	// itself (never created, or DELETEd while it had children) is listed
	// when the pattern matches it, so that a client walking the tree
	// level by level with "%" reaches the children (RFC 9051 section
	// 6.3.9, RFC 3501 section 6.3.8; DELETE of a parent leaves its name
	// \Noselect, RFC 9051 section 6.3.4), and one building it from "*"
	// finds every parent, as Dovecot lists them.
	if !onlySubscribed {
		for n := range names {
			for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
				parent := n[:i]
				if names[parent] == nil && matches(parent) {
					noselect[parent] = true
					cands[parent] = true
				}
			}
		}
	}
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
			// cannot be selected. Special uses as in LIST, for the
			// clients that find their folders from LSUB.
			if !subs[name] && !noselect[name] {
				continue
			}
			if !subs[name] || mb == nil {
				attrs = append(attrs, `\Noselect`)
			} else if mb.SpecialUse != "" {
				attrs = append(attrs, mb.SpecialUse)
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
				if noselect[name] && !sel.SpecialUse {
					// A missing level: \Noselect in IMAP4rev1's LIST;
					// \NonExistent, which implies it, in LIST-EXTENDED
					// (RFC 5258 section 3, as Dovecot answers) and for
					// IMAP4rev2, whose LIST is the extended one (RFC 9051
					// sections 6.3.9 and 7.3.1).
					missing := `\Noselect`
					if a.Extended || s.rev2 {
						missing = `\NonExistent`
					}
					attrs = append(attrs, missing, `\HasChildren`)
					s.wr.Raw(resp).Raw(strings.Join(attrs, " ")).Raw(`) "/" `).Mailbox(name).CRLF()
				}
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
			// Whatever the form of LIST: RFC 6154 section 2 lets a
			// server show them only when asked, but a client that
			// lists with RETURN (STATUS) one time and plainly the next
			// must not see a mailbox's use come and go.
			if mb.SpecialUse != "" {
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
	return nil
}

// ancestors returns the names that are a level of hierarchy above a key
// of names: "a" and "a/b" for "a/b/c".
func ancestors[V any](names map[string]V) map[string]bool {
	out := make(map[string]bool, len(names))
	for n := range names {
		for i := strings.LastIndexByte(n, '/'); i > 0; i = strings.LastIndexByte(n[:i], '/') {
			if out[n[:i]] {
				break // and so are those above it
			}
			out[n[:i]] = true
		}
	}
	return out
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
