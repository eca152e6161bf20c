package message

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// parser holds the state of one Parse call.
type parser struct {
	raw      []byte
	nparts   int
	problems []string
	dropped  int
	dec      *mime.WordDecoder
	// Line ending oddities are noted once per message.
	sawBareLF, sawCRCRLF bool
	// embAddrs counts the addresses kept in embedded messages' envelopes,
	// which share one maxAddrs: an address takes some 80 bytes of memory
	// for every 4 bytes of header ("a@b,"), and a message may embed
	// thousands of messages.
	embAddrs int
	// listItems counts the parameters and languages kept (maxListItems).
	listItems int
	// partFields is what is left of maxPartFields.
	partFields int
	sawCut     bool
	listsCut   bool
}

// listLimit is how many items (parameters, languages) the next list of a
// part may have: maxParams, or less once the message's maxListItems are
// spent. Call listKept with the number it kept.
func (p *parser) listLimit() int {
	return min(maxParams, max(maxListItems-p.listItems, minListItems))
}

func (p *parser) listKept(limit, n int) {
	p.listItems += n
	if n >= limit && limit < maxParams && !p.listsCut {
		p.listsCut = true
		p.problem(nil, "more than %d parameters in the message: parts after them keep %d of each list", maxListItems, minListItems)
	}
}

// problem notes something malformed, prefixed with the part path.
func (p *parser) problem(path []int, format string, args ...any) {
	if len(p.problems) >= maxProblems {
		p.dropped++
		if p.dropped == 1 {
			p.problems = append(p.problems, "further problems not listed")
		}
		return
	}
	msg := fmt.Sprintf(format, args...)
	if len(path) > 0 {
		msg = "part " + pathString(path) + ": " + msg
	}
	p.problems = append(p.problems, strings.ToValidUTF8(msg, "\uFFFD"))
}

func pathString(path []int) string {
	var b strings.Builder
	for i, n := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// part parses the entity at raw[start:end]. defType/defSub is the type
// when Content-Type is absent or invalid. The fields read are left in h,
// for the envelope of a message.
func (p *parser) part(start, end, depth int, defType, defSub string, path []int, h *header) Part {
	p.nparts++
	raw := p.raw
	var budget *int
	if depth > 0 {
		budget = &p.partFields
	}
	sc := scanFields(raw, start, end, func(f field) { h.set(raw, f, budget) })
	part := Part{
		HeaderStart: int64(start),
		BodyStart:   int64(sc.bodyStart),
		End:         int64(end),
		Type:        defType,
		Subtype:     defSub,
		Encoding:    "7BIT",
	}
	switch {
	case sc.noHeader && path == nil && depth == 0:
		p.problem(path, "no header")
	case sc.noBlank:
		p.problem(path, "header not ended by a blank line")
	}
	if sc.orphan {
		p.problem(path, "continuation line without a header field")
	}
	if h.cut && !p.sawCut {
		p.sawCut = true
		p.problem(path, "long header field values cut (noted once)")
	}
	if sc.mboxFrom {
		p.problem(path, `mbox "From " line before the header`)
	}
	if sc.bareLF && !p.sawBareLF {
		p.sawBareLF = true
		p.problem(nil, "bare LF line endings")
	}
	if sc.crcrlf && !p.sawCRCRLF {
		p.sawCRCRLF = true
		p.problem(nil, `"\r\r\n" line endings`)
	}

	if v := h.f[fContentType]; v != nil {
		s := unfold(v)
		limit := p.listLimit()
		t, st, params, ok := parseMediaType(s, limit)
		p.listKept(limit, len(params))
		if ok {
			part.Type, part.Subtype = t, st
		} else {
			// RFC 2045 5.2: an invalid Content-Type means text/plain.
			part.Type, part.Subtype = "text", "plain"
			p.problem(path, "invalid Content-Type %q", truncate(s, 80))
		}
		part.Params = params
	}
	if v := h.f[fContentTransferEncoding]; v != nil {
		s := stripLeadingComments(unfold(v))
		if i := strings.IndexAny(s, " \t;("); i >= 0 {
			s = s[:i]
		}
		if s != "" {
			part.Encoding = strings.ToUpper(s)
		}
	}
	if v := h.f[fContentID]; v != nil {
		part.ID = unfold(v)
	}
	if v := h.f[fContentDescription]; v != nil {
		part.Description = unfold(v)
	}
	if v := h.f[fContentDisposition]; v != nil {
		limit := p.listLimit()
		part.Disposition, part.DispositionParams = parseDisposition(unfold(v), limit)
		p.listKept(limit, len(part.DispositionParams))
	}
	if v := h.f[fContentLanguage]; v != nil {
		limit := p.listLimit()
		for l := range strings.SplitSeq(stripComments(unfold(v)), ",") {
			if l = strings.TrimSpace(l); l != "" && len(part.Language) < limit {
				part.Language = append(part.Language, l)
			}
		}
		p.listKept(limit, len(part.Language))
	}
	if v := h.f[fContentLocation]; v != nil {
		// RFC 2557 4.4.1: folding white space is not part of the URI.
		part.Location = strings.Join(strings.Fields(unfold(v)), "")
	}
	if v := h.f[fContentMD5]; v != nil {
		part.MD5 = unfold(v)
	}
	if hasNameParam(part.DispositionParams, part.Params) {
		part.Filename = p.filename(part.DispositionParams, part.Params)
	}

	switch {
	case part.Type == "multipart":
		p.multipart(&part, depth, path)
	case part.Type == "message" && (part.Subtype == "rfc822" || part.Subtype == "global"):
		switch {
		case part.Encoding != "7BIT" && part.Encoding != "8BIT" && part.Encoding != "BINARY":
			// RFC 2046 5.2.1 forbids other encodings; the offsets of
			// an encoded message could not point into raw.
			p.problem(path, "message/%s with %s transfer encoding", part.Subtype, part.Encoding)
		case depth >= maxDepth:
			p.problem(path, "nesting deeper than %d levels", maxDepth)
		case p.nparts >= maxParts:
			p.problem(path, "more than %d parts", maxParts)
		default:
			var eh header
			sub := p.part(sc.bodyStart, end, depth+1, "text", "plain", path, &eh)
			part.Message = &Embedded{Envelope: p.envelope(&eh, true), Part: sub}
		}
	}
	part.Lines = countLines(raw[sc.bodyStart:end])
	return part
}

func hasNameParam(dp, ct [][2]string) bool {
	for _, p := range dp {
		if p[0] == "filename" || p[0] == "filename*" {
			return true
		}
	}
	for _, p := range ct {
		if p[0] == "name" || p[0] == "name*" {
			return true
		}
	}
	return false
}

// countLines counts lines as IMAP body-fld-lines wants: LFs, plus one for a
// final line without LF.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// multipart finds the children of a multipart part by scanning its body for
// boundary delimiter lines (RFC 2046 5.1.1).
func (p *parser) multipart(part *Part, depth int, path []int) {
	childType, childSub := "text", "plain"
	if part.Subtype == "digest" {
		childType, childSub = "message", "rfc822" // RFC 2046 5.1.5
	}
	boundary := strings.TrimRight(part.Param("boundary"), " \t")
	switch {
	case boundary == "":
		p.problem(path, "multipart/%s without boundary", part.Subtype)
		p.synthetic(part)
		return
	case depth >= maxDepth:
		p.problem(path, "nesting deeper than %d levels", maxDepth)
		p.synthetic(part)
		return
	case p.nparts >= maxParts:
		p.problem(path, "more than %d parts", maxParts)
		p.synthetic(part)
		return
	}
	raw := p.raw
	bs, end := int(part.BodyStart), int(part.End)
	delim := make([]byte, 0, 2+len(boundary))
	delim = append(append(delim, "--"...), boundary...)
	childStart := -1
	closed := false
	pos := bs
	for {
		at, next, isClose, ok := findDelimiter(raw, pos, bs, end, delim)
		if !ok {
			break
		}
		if childStart >= 0 {
			// The line break before the delimiter belongs to it.
			ce := at
			if ce > childStart && raw[ce-1] == '\n' {
				ce--
				if ce > childStart && raw[ce-1] == '\r' {
					ce--
				}
			}
			p.child(part, childStart, ce, depth, childType, childSub, path)
		}
		if isClose {
			closed = true
			break
		}
		if p.nparts >= maxParts {
			p.problem(path, "more than %d parts", maxParts)
			childStart = -1
			break
		}
		childStart, pos = next, next
	}
	if childStart >= 0 && !closed {
		p.problem(path, "multipart/%s without final boundary", part.Subtype)
		p.child(part, childStart, end, depth, childType, childSub, path)
	}
	if len(part.Parts) == 0 {
		p.problem(path, "multipart/%s boundary not found", part.Subtype)
		p.synthetic(part)
	}
}

func (p *parser) child(part *Part, start, end, depth int, typ, sub string, path []int) {
	cpath := append(path[:len(path):len(path)], len(part.Parts)+1)
	var h header
	part.Parts = append(part.Parts, p.part(start, end, depth+1, typ, sub, cpath, &h))
}

// synthetic gives a multipart part whose children cannot be found one
// child spanning its body, so that it still has the one body part IMAP
// BODYSTRUCTURE requires (RFC 3501 9, body-type-mpart).
func (p *parser) synthetic(part *Part) {
	p.nparts++
	bs, end := int(part.BodyStart), int(part.End)
	part.Parts = []Part{{
		HeaderStart: int64(bs),
		BodyStart:   int64(bs),
		End:         int64(end),
		Lines:       countLines(p.raw[bs:end]),
		Type:        "text",
		Subtype:     "plain",
		Encoding:    "7BIT",
	}}
}

// findDelimiter finds the next boundary delimiter line at or after pos in
// raw[bs:end]: "--boundary" at the start of a line, then "--" for the close
// delimiter, then optional white space (RFC 2046 5.1.1). Anything after a
// close delimiter is accepted. It returns the delimiter's offset and the
// offset after its line.
func findDelimiter(raw []byte, pos, bs, end int, delim []byte) (at, next int, isClose, ok bool) {
	for pos < end {
		k := bytes.Index(raw[pos:end], delim)
		if k < 0 {
			return 0, 0, false, false
		}
		at = pos + k
		pos = at + 1
		if at != bs && raw[at-1] != '\n' {
			continue
		}
		j := at + len(delim)
		isClose = j+2 <= end && raw[j] == '-' && raw[j+1] == '-'
		if isClose {
			j += 2
		}
		for j < end && (raw[j] == ' ' || raw[j] == '\t') {
			j++
		}
		if !isClose && j < end && raw[j] != '\r' && raw[j] != '\n' {
			continue
		}
		next = end
		if nl := bytes.IndexByte(raw[j:end], '\n'); nl >= 0 {
			next = j + nl + 1
		}
		return at, next, isClose, true
	}
	return 0, 0, false, false
}

// envelope builds the IMAP ENVELOPE of a message from its header fields;
// embedded tells an embedded message's (message/rfc822) from the message's
// own, whose fields each keep up to maxAddrs addresses.
func (p *parser) envelope(h *header, embedded bool) Envelope {
	var bad []string
	addrs := func(f int, name string) []Address {
		if h.f[f] == nil {
			return nil
		}
		limit := maxAddrs
		if embedded {
			limit -= p.embAddrs
		}
		as, guessed := parseAddressList(unfold(h.f[f]), limit)
		if embedded {
			p.embAddrs += len(as)
		}
		if guessed {
			bad = append(bad, name)
		}
		return as
	}
	e := Envelope{
		Date:      unfold(h.f[fDate]),
		Subject:   unfold(h.f[fSubject]),
		From:      addrs(fFrom, "From"),
		Sender:    addrs(fSender, "Sender"),
		ReplyTo:   addrs(fReplyTo, "Reply-To"),
		To:        addrs(fTo, "To"),
		Cc:        addrs(fCc, "Cc"),
		Bcc:       addrs(fBcc, "Bcc"),
		InReplyTo: unfold(h.f[fInReplyTo]),
		MessageID: unfold(h.f[fMessageID]),
	}
	// RFC 3501 7.4.2 (RFC 9051 7.5.2): absent or empty Sender and
	// Reply-To are set to From.
	if len(e.Sender) == 0 {
		e.Sender = e.From
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = e.From
	}
	if len(bad) > 0 {
		p.problem(nil, "malformed addresses in %s", strings.Join(bad, ", "))
	}
	return e
}

// messageID returns the msg-id of a Message-ID value without its angle
// brackets (RFC 5322 3.6.4), or the trimmed value if it has none.
func messageID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
		return strings.TrimSpace(v[i+1:])
	}
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// messageIDs returns the ids of a References or In-Reply-To field
// ("<a@b> <c@d>"), without brackets, at most 100 of them (the newest:
// threading needs the last ones most).
func messageIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
	if len(ids) > 100 {
		ids = ids[len(ids)-100:]
	}
	return ids
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}
