// Package imapwire owns the IMAP wire format for xtramail's IMAP server: it
// reads client commands (including synchronising, non-synchronising and
// binary literals) into typed values, and writes server responses through a
// buffered writer that only flushes when the session asks it to.
//
// The package knows nothing of storage, sessions or sockets. The grammar
// followed is RFC 3501 and RFC 9051 (IMAP4rev1 and IMAP4rev2) with the
// extensions xtramail advertises: LITERAL+ (RFC 7888), BINARY (RFC 3516),
// CONDSTORE/QRESYNC (RFC 7162), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
// ID (RFC 2971), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
// SPECIAL-USE (RFC 6154), UTF8=ACCEPT (RFC 6855), COMPRESS (RFC 4978),
// MOVE (RFC 6851), UIDPLUS (RFC 4315), ENABLE (RFC 5161), IDLE (RFC 2177),
// UNSELECT (RFC 3691), NAMESPACE (RFC 2342) and SASL-IR (RFC 4959).
//
// A session uses it like this:
//
//	rd := imapwire.NewReader(br, imapwire.Options{Continue: func(text string) error {
//		wr.Continuation(text)
//		return wr.Flush()
//	}})
//	for {
//		cmd, err := rd.ReadCommand()
//		var perr *imapwire.ParseError
//		if errors.As(err, &perr) {
//			// answer "tag BAD text" (or "* BAD" when perr.Tag is ""),
//			// and close the connection when perr.Fatal.
//		}
//		...
//	}
package imapwire
