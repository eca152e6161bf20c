package imapmsg

import (
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// WriteEnvelope writes the ENVELOPE value of a message (RFC 9051 section
// 7.5.2, RFC 3501 section 7.4.2): date, subject, from, sender, reply-to, to,
// cc, bcc, in-reply-to and message-id, each NIL when empty. Strings are the
// raw header values, encoded words left encoded, as the RFCs ask. A nil env
// writes an envelope of NILs.
//
// Addresses keep what the header says: a group is written as a start
// marker (NIL NIL "group" NIL), its members, and an end marker (NIL NIL NIL
// NIL); a route address ("<@a,@b:user@host>") keeps its route in the adl
// field, which go-imap's server cannot express (issue 8).
func WriteEnvelope(w *imapwire.Writer, env *message.Envelope) {
	if env == nil {
		env = &message.Envelope{}
	}
	w.ListStart()
	nstring(w, env.Date).SP()
	nstring(w, env.Subject).SP()
	writeAddressList(w, env.From)
	w.SP()
	writeAddressList(w, env.Sender)
	w.SP()
	writeAddressList(w, env.ReplyTo)
	w.SP()
	writeAddressList(w, env.To)
	w.SP()
	writeAddressList(w, env.Cc)
	w.SP()
	writeAddressList(w, env.Bcc)
	w.SP()
	nstring(w, env.InReplyTo).SP()
	nstring(w, env.MessageID)
	w.ListEnd()
}

// writeAddressList writes "(" 1*address ")" or NIL (RFC 9051 env-from
// etc.). The grammar puts no space between addresses.
func writeAddressList(w *imapwire.Writer, list []message.Address) {
	if len(list) == 0 {
		w.NIL()
		return
	}
	w.ListStart()
	for i := range list {
		writeAddress(w, &list[i])
	}
	w.ListEnd()
}

// writeAddress writes "(" addr-name SP addr-adl SP addr-mailbox SP
// addr-host ")".
//
// RFC 9051 section 7.5.2: a NIL host marks group syntax, with the group
// name in the mailbox field, and NIL mailbox as well marks the end of the
// group. So an ordinary address must never have a NIL host or mailbox: one
// written without a domain ("undisclosed" or "<>") gets "" for them.
func writeAddress(w *imapwire.Writer, a *message.Address) {
	w.ListStart()
	switch {
	case a.GroupEnd:
		w.Raw("NIL NIL NIL NIL")
	case a.GroupStart:
		str(w.Raw("NIL NIL "), a.Mailbox).Raw(" NIL")
	default:
		nstring(w, a.Name).SP()
		nstring(w, a.Adl).SP()
		str(w, a.Mailbox).SP()
		str(w, a.Host)
	}
	w.ListEnd()
}

// nstring writes s as a string, or NIL when it is empty: the message
// package keeps "" for an absent value.
func nstring(w *imapwire.Writer, s string) *imapwire.Writer {
	if s == "" {
		return w.NIL()
	}
	return str(w, s)
}

// str writes s as a string (quoted, or a literal when it must be). Header
// values may hold NUL, which neither a quoted string nor a literal may
// carry (RFC 9051 section 4.3, CHAR8 and QUOTED-CHAR): it becomes U+FFFD,
// which keeps the value valid UTF-8.
func str(w *imapwire.Writer, s string) *imapwire.Writer {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return w.String(s)
}
