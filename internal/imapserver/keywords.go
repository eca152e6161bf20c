package imapserver

import (
	"slices"
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// Keywords of the selected mailbox. The client learns the flags a mailbox
// uses from FLAGS (RFC 9051 section 7.3.5) and the ones it may set from
// PERMANENTFLAGS (section 7.1); a FETCH must not show a keyword the client
// was not told of. SELECT lists the mailbox's keywords (store.Mailbox
// Keywords); a keyword used later, by this session or another, is
// announced with a new FLAGS and PERMANENTFLAGS before the first FETCH that
// shows it, as Dovecot does.

// writeFlagLists writes FLAGS and PERMANENTFLAGS for the selected mailbox
// with the keywords announced so far.
func (s *session) writeFlagLists() {
	s.wr.FlagsResponse(append(slices.Clip(mailboxFlags), s.sel.keywords.list...))
	s.writePermanentFlags()
}

// writePermanentFlags writes PERMANENTFLAGS: the flags and the known
// keywords, and "\*" while a new keyword may still be made (RFC 9051
// section 7.1): not once the mailbox has store.MaxKeywords.
func (s *session) writePermanentFlags() {
	sel := s.sel
	if sel.readOnly {
		s.wr.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(nil), "no permanent flags in read-only mode")
		return
	}
	perm := append(slices.Clip(permanentFlags[:len(permanentFlags)-1]), sel.keywords.list...)
	if len(sel.keywords.list) < store.MaxKeywords {
		perm = append(perm, `\*`)
	}
	s.wr.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(perm), "flags permitted")
}

// keywordSet is the keywords a session announced, in order, and the same
// lower-cased for lookups: a FETCH of many messages asks it about each
// keyword of each.
type keywordSet struct {
	list []string
	has  map[string]bool
}

func newKeywordSet(kw []string) keywordSet {
	ks := keywordSet{has: make(map[string]bool, len(kw))}
	ks.add(kw)
	return ks
}

// add adds those of kw not in the set yet and reports whether any was.
func (ks *keywordSet) add(kw []string) bool {
	n := len(ks.list)
	for _, k := range kw {
		if l := strings.ToLower(k); !ks.has[l] {
			ks.has[l] = true
			ks.list = append(ks.list, k)
		}
	}
	return len(ks.list) > n
}

// announceKeywords announces those of kw the client does not know yet.
// Call it before writing a FETCH that may show them.
func (s *session) announceKeywords(kw []string) {
	if s.sel != nil && len(kw) > 0 && s.sel.keywords.add(kw) {
		s.writeFlagLists()
	}
}

// announceRowKeywords is announceKeywords for the keywords of flag rows.
func (s *session) announceRowKeywords(rows []store.MessageFlags) {
	for i := range rows {
		s.announceKeywords(rows[i].Keywords)
	}
}
