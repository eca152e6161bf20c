package imapmsg

import (
	"strings"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// WriteBodyStructure writes the BODY (extended false) or BODYSTRUCTURE
// (extended true) value of the part tree p, normally &info.Part (RFC 9051
// sections 7.5.2 and 9 "body", RFC 3501 section 7.4.2).
//
//   - A multipart is its children, with no space between them, then its
//     subtype; BODYSTRUCTURE adds the extension data body-ext-mpart:
//     parameters (the boundary among them), disposition, language and
//     location.
//   - A single part is type, subtype, parameters, Content-ID,
//     Content-Description, transfer encoding and size in octets; text/*
//     adds its line count; message/rfc822 and message/global add the
//     embedded message's envelope, its body structure and the line count;
//     BODYSTRUCTURE adds body-ext-1part: Content-MD5, disposition,
//     language and location.
//
// Type, subtype, encoding, disposition and parameter names are upper case,
// as in the RFC examples (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") ...),
// Cyrus and Gmail; they are case-insensitive tokens. Parameter values are
// written as the header has them: a boundary is case-sensitive.
func WriteBodyStructure(w *imapwire.Writer, p *message.Part, extended bool) {
	writeBody(w, p, extended)
}

func writeBody(w *imapwire.Writer, p *message.Part, ext bool) {
	w.ListStart()
	if p.Type == "multipart" {
		writeMultipart(w, p, ext)
	} else {
		writeSinglePart(w, p, ext)
	}
	w.ListEnd()
}

func writeMultipart(w *imapwire.Writer, p *message.Part, ext bool) {
	if len(p.Parts) == 0 {
		// The grammar needs at least one body (1*body). Parse never
		// leaves a multipart empty; a hand-made Part might. Write an
		// empty text/plain, as Dovecot does.
		w.ListStart()
		writeSinglePart(w, &message.Part{Type: "text", Subtype: "plain", Encoding: "7BIT"}, ext)
		w.ListEnd()
	}
	for i := range p.Parts {
		writeBody(w, &p.Parts[i], ext)
	}
	str(w.SP(), upper(p.Subtype, "MIXED"))
	if !ext {
		return
	}
	w.SP()
	writeParams(w, p.Params, false)
	w.SP()
	writeExtension(w, p)
}

func writeSinglePart(w *imapwire.Writer, p *message.Part, ext bool) {
	typ := upper(p.Type, "TEXT")
	sub := upper(p.Subtype, "PLAIN")
	str(w, typ).SP()
	str(w, sub).SP()
	// RFC 2045 section 5.2 makes text/plain without a charset
	// US-ASCII, and RFC 6657 section 4 keeps that default for text/plain
	// only: HTML and other text types carry their charset in the content
	// (a meta tag), and announcing US-ASCII for them would make a client
	// that trusts BODYSTRUCTURE garble 8-bit text.
	writeParams(w, p.Params, typ == "TEXT" && sub == "PLAIN")
	w.SP()
	nstring(w, p.ID).SP()
	nstring(w, p.Description).SP()
	str(w, upper(p.Encoding, "7BIT")).SP()
	w.Num64(uint64(max(p.Size(), 0)))
	switch {
	case isMessage(p):
		// body-type-msg: envelope, body and lines follow whatever
		// the encoding; clients parse them by type alone (go-imap's
		// client does), so an embedded message that Parse could not
		// locate is described as one without header.
		emb := p.Message
		if emb == nil {
			emb = &message.Embedded{Part: *embeddedRoot(p)}
		}
		w.SP()
		WriteEnvelope(w, &emb.Envelope)
		w.SP()
		writeBody(w, &emb.Part, ext)
		w.SP().Num64(uint64(max(p.Lines, 0)))
	case typ == "TEXT":
		w.SP().Num64(uint64(max(p.Lines, 0)))
	}
	if !ext {
		return
	}
	w.SP()
	nstring(w, p.MD5).SP()
	writeExtension(w, p)
}

// writeExtension writes the extension fields that both part kinds end
// with: body-fld-dsp SP body-fld-lang SP body-fld-loc.
func writeExtension(w *imapwire.Writer, p *message.Part) {
	if p.Disposition == "" {
		w.NIL()
	} else {
		str(w.ListStart(), upper(p.Disposition, "")).SP()
		writeParams(w, p.DispositionParams, false)
		w.ListEnd()
	}
	w.SP()
	if len(p.Language) == 0 {
		w.NIL()
	} else {
		// body-fld-lang allows a single nstring or a list; the list
		// form serves both one and several languages.
		w.ListStart()
		for i, l := range p.Language {
			if i > 0 {
				w.SP()
			}
			str(w, l)
		}
		w.ListEnd()
	}
	w.SP()
	nstring(w, p.Location)
}

// writeParams writes body-fld-param: ("NAME" "value" ...) or NIL.
// defaultCharset adds ("CHARSET" "US-ASCII") when no charset is given.
func writeParams(w *imapwire.Writer, params [][2]string, defaultCharset bool) {
	if defaultCharset {
		for _, kv := range params {
			if strings.EqualFold(kv[0], "charset") {
				defaultCharset = false
				break
			}
		}
	}
	if len(params) == 0 && !defaultCharset {
		w.NIL()
		return
	}
	w.ListStart()
	for i, kv := range params {
		if i > 0 {
			w.SP()
		}
		str(w, upper(kv[0], "")).SP()
		str(w, kv[1])
	}
	if defaultCharset {
		if len(params) > 0 {
			w.SP()
		}
		w.Raw(`"CHARSET" "US-ASCII"`)
	}
	w.ListEnd()
}

// isMessage tells whether p is a message/rfc822 or message/global part
// (RFC 9051 media-message), whose body is a message.
func isMessage(p *message.Part) bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global")
}

// embeddedRoot returns the root part of the message that the
// message/rfc822 or message/global part p holds. When Parse could not
// locate it (p.Message is nil), it is a message without header whose body
// is p's whole body as text/plain: what Dovecot reports for such a part, and
// what BODYSTRUCTURE says of it here.
func embeddedRoot(p *message.Part) *message.Part {
	if p.Message != nil {
		return &p.Message.Part
	}
	return &message.Part{
		HeaderStart: p.BodyStart,
		BodyStart:   p.BodyStart,
		End:         p.End,
		Lines:       p.Lines,
		Type:        "text",
		Subtype:     "plain",
		Encoding:    "7BIT",
	}
}

// upper returns s in upper case, or def when s is empty (a hand-made Part).
// The names most mail uses come from a table, without allocating: a FETCH
// of BODYSTRUCTURE over a whole mailbox writes them thousands of times.
func upper(s, def string) string {
	if s == "" {
		return def
	}
	if u := commonUpper(s); u != "" {
		return u
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

func commonUpper(s string) string {
	switch s {
	case "text":
		return "TEXT"
	case "plain":
		return "PLAIN"
	case "html":
		return "HTML"
	case "multipart":
		return "MULTIPART"
	case "mixed":
		return "MIXED"
	case "alternative":
		return "ALTERNATIVE"
	case "related":
		return "RELATED"
	case "signed":
		return "SIGNED"
	case "report":
		return "REPORT"
	case "message":
		return "MESSAGE"
	case "rfc822":
		return "RFC822"
	case "application":
		return "APPLICATION"
	case "octet-stream":
		return "OCTET-STREAM"
	case "pdf":
		return "PDF"
	case "image":
		return "IMAGE"
	case "png":
		return "PNG"
	case "jpeg":
		return "JPEG"
	case "gif":
		return "GIF"
	case "charset":
		return "CHARSET"
	case "boundary":
		return "BOUNDARY"
	case "name":
		return "NAME"
	case "filename":
		return "FILENAME"
	case "format":
		return "FORMAT"
	case "type":
		return "TYPE"
	case "size":
		return "SIZE"
	case "attachment":
		return "ATTACHMENT"
	case "inline":
		return "INLINE"
	}
	return ""
}
