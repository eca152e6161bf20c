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
	sel := s.sel
	flags := append(slices.Clip(mailboxFlags), sel.keywords...)
	s.wr.FlagsResponse(flags)
	if sel.readOnly {
		s.wr.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(nil), "no permanent flags in read-only mode")
		return
	}
	perm := append(slices.Clip(permanentFlags[:len(permanentFlags)-1]), sel.keywords...)
	perm = append(perm, `\*`)
	s.wr.Untagged(imapwire.OK, imapwire.PermanentFlagsCode(perm), "flags permitted")
}

// announceKeywords announces those of kw the client does not know yet.
// Call it before writing a FETCH that may show them.
func (s *session) announceKeywords(kw []string) {
	sel := s.sel
	if sel == nil || len(kw) == 0 {
		return
	}
	n := len(sel.keywords)
	for _, k := range kw {
		if !hasKeyword(sel.keywords, k) {
			sel.keywords = append(sel.keywords, k)
		}
	}
	if len(sel.keywords) > n {
		s.writeFlagLists()
	}
}

// announceRowKeywords is announceKeywords for the keywords of flag rows.
func (s *session) announceRowKeywords(rows []store.MessageFlags) {
	for i := range rows {
		s.announceKeywords(rows[i].Keywords)
	}
}

// hasKeyword tells whether list holds k; keywords compare
// case-insensitively (RFC 9051 section 2.3.2).
func hasKeyword(list []string, k string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, k) })
}
