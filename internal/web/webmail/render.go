package webmail

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/xtramail/xtramail/internal/message"
)

// The renderer works from the store's pre-parsed MIME tree (message.Info,
// byte offsets into the raw message): it picks what to show and reads only
// those parts' bytes, by range, never the whole message.

// maxShownText bounds the bytes of one text part decoded for the page;
// past it the page says so and the part can be downloaded whole.
const maxShownText = 4 << 20

// bodyPart is one part shown as the message's text, in order.
type bodyPart struct {
	Path string // partPath of the MIME part
	// HTML parts are shown in a sandboxed frame from their own URL;
	// text parts inline, as Text.
	HTML      bool
	Text      template.HTML
	Truncated bool
}

// attachment is one part offered for download (or preview).
type attachment struct {
	Path string
	Name string // never empty: made up from the type when the part names none
	Type string // lower-case type/subtype
	// Preview: an image or PDF the browser can show inline.
	Preview bool
	// CID is the Content-ID without angle brackets: an HTML part may
	// show the part as an image (cid: URL).
	CID string
	// Related parts belong to an HTML part (its images): not listed
	// unless they have a file name.
	Related bool
}

// structure is what the page shows of a message's MIME tree.
type structure struct {
	Body        []bodyPart
	Attachments []attachment
	invitations []attachment // calendar alternatives, not yet offered
}

// partPath names a part by its child indexes from the root, "1.2" for the
// third child of the second child; "" is the root. A message/rfc822
// part has one child, 0, the message in it: "1.0.1" is the second part
// of the message attached as part 1.
func partPath(path []int) string {
	var b strings.Builder
	for i, n := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// findPart returns the part named by a partPath, or false.
func findPart(root *message.Part, path string) (*message.Part, bool) {
	p := root
	if path == "" {
		return p, true
	}
	for _, s := range strings.Split(path, ".") {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 0:
			return nil, false
		case p.Type == "multipart" && n < len(p.Parts):
			p = &p.Parts[n]
		case p.Message != nil && n == 0:
			p = &p.Message.Part
		default:
			return nil, false
		}
	}
	return p, true
}

// analyse chooses, from the MIME tree, the parts shown as text and those
// offered as attachments (RFC 2046: alternative shows the richest part we
// render, related shows its root with the rest as its resources, mixed
// shows each inline text part in order).
//
// A meeting invitation from Outlook is an alternative whose richest part
// is text/calendar (RFC 6047 2.4) beside the HTML shown: that part is
// offered as a file (invite.ics, which a calendar opens) unless the
// message attaches the invitation as a file of its own, as Gmail does.
func analyse(info *message.Info) structure { return analysePart(&info.Part, nil) }

// analysePart is analyse of the part at path, the root of an attached
// message (its parts are named from the outer message's root).
func analysePart(root *message.Part, path []int) structure {
	var s structure
	s.walk(root, path, false)
	for _, a := range s.Attachments {
		if isCalendar(a.Type) {
			return s
		}
	}
	s.Attachments = append(s.Attachments, s.invitations...)
	s.invitations = nil
	return s
}

func isCalendar(typ string) bool { return typ == "text/calendar" || typ == "application/ics" }

func (s *structure) walk(p *message.Part, path []int, related bool) {
	child := func(i int) []int { return append(append([]int(nil), path...), i) }
	if p.Type == "multipart" {
		switch p.Subtype {
		case "alternative":
			if i := bestAlternative(p); i >= 0 {
				s.walk(&p.Parts[i], child(i), related)
				for j := range p.Parts {
					if c := &p.Parts[j]; j != i && isCalendar(c.Type+"/"+c.Subtype) {
						s.invitations = append(s.invitations, describe(c, child(j), false))
					}
				}
				return
			}
		case "related":
			root := relatedRoot(p)
			for i := range p.Parts {
				s.walk(&p.Parts[i], child(i), i != root)
			}
			return
		}
		for i := range p.Parts {
			s.walk(&p.Parts[i], child(i), related)
		}
		return
	}
	shown := p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html") &&
		p.Disposition != "attachment" && (p.Filename == "" || p.Disposition == "inline") && !related
	if shown {
		s.Body = append(s.Body, bodyPart{Path: partPath(path), HTML: p.Subtype == "html"})
		return
	}
	s.Attachments = append(s.Attachments, describe(p, path, related))
}

// bestAlternative is the index of the part of a multipart/alternative to
// show: the last one we render (parts go from plainest to richest, RFC
// 2046 5.1.4), HTML or text, or a related/mixed holding one.
func bestAlternative(p *message.Part) int {
	best := -1
	for i := range p.Parts {
		c := &p.Parts[i]
		switch {
		case c.Type == "text" && (c.Subtype == "plain" || c.Subtype == "html"):
			best = i
		case c.Type == "multipart" && (c.Subtype == "related" || c.Subtype == "mixed"):
			best = i
		}
	}
	return best
}

// relatedRoot is the index of a multipart/related's root: the part its
// start parameter names, else the first (RFC 2387 3.2).
func relatedRoot(p *message.Part) int {
	if start := strings.Trim(p.Param("start"), "<> "); start != "" {
		for i := range p.Parts {
			if strings.Trim(p.Parts[i].ID, "<> ") == start {
				return i
			}
		}
	}
	return 0
}

// describe makes an attachment of a part.
func describe(p *message.Part, path []int, related bool) attachment {
	typ := p.Type + "/" + p.Subtype
	a := attachment{
		Path:    partPath(path),
		Name:    message.SafeFilename(p.Filename),
		Type:    typ,
		CID:     strings.Trim(p.ID, "<> \t"),
		Related: related && p.Filename == "",
	}
	if a.Name == "" && p.Message != nil {
		// An attached message is named by its subject, as the Forward
		// page names it (compose.Files).
		if subj := message.SubjectFilename(message.DecodeHeader(p.Message.Envelope.Subject)); subj != "" {
			a.Name = subj + ".eml"
		}
	}
	if a.Name == "" && p.Description != "" {
		a.Name = message.SafeFilename(message.DecodeHeader(p.Description))
	}
	if a.Name == "" {
		ext := ".bin"
		switch typ {
		case "message/rfc822", "message/global":
			ext = ".eml"
		case "text/plain":
			ext = ".txt"
		case "text/html":
			ext = ".html"
		case "text/calendar", "application/ics":
			a.Name = "invite.ics"
		default:
			if exts, _ := mime.ExtensionsByType(typ); len(exts) > 0 {
				ext = exts[0]
			}
		}
		switch {
		case a.Name != "":
		case a.Path == "":
			a.Name = "message" + ext
		default:
			a.Name = "part-" + strings.ReplaceAll(a.Path, ".", "-") + ext
		}
	}
	a.Preview = previewable(typ)
	return a
}

// previewable types are shown inline by the browser. SVG is not among
// them: it can carry script.
func previewable(typ string) bool {
	switch typ {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf":
		return true
	}
	return false
}

// ranger reads byte ranges of a raw message.
type ranger interface {
	io.ReaderAt
}

// readPart returns the part's body bytes (still transfer-encoded), at most
// limit of them, and whether it was cut.
func readPart(r ranger, p *message.Part, limit int64) ([]byte, bool, error) {
	n := p.End - p.BodyStart
	if n < 0 {
		n = 0
	}
	cut := false
	if limit > 0 && n > limit {
		n, cut = limit, true
	}
	b := make([]byte, n)
	m, err := r.ReadAt(b, p.BodyStart)
	if err != nil && err != io.EOF {
		return nil, false, fmt.Errorf("read part at %d: %w", p.BodyStart, err)
	}
	return b[:m], cut, nil
}

// partText returns a text part decoded (transfer encoding, then charset
// to UTF-8).
func partText(r ranger, p *message.Part, limit int64) (string, bool, error) {
	raw, cut, err := readPart(r, p, limit)
	if err != nil {
		return "", false, err
	}
	local := *p // offsets into raw, which holds just the body
	local.HeaderStart, local.BodyStart, local.End = 0, 0, int64(len(raw))
	s, err := message.DecodeText(raw, &local)
	if err != nil {
		// An unknown transfer encoding: show the body as written.
		s = strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return s, cut, nil
}

// partBytes returns a part decoded from its transfer encoding, for
// downloads.
func partBytes(r ranger, p *message.Part) ([]byte, error) {
	raw, _, err := readPart(r, p, 0)
	if err != nil {
		return nil, err
	}
	local := *p
	local.HeaderStart, local.BodyStart, local.End = 0, 0, int64(len(raw))
	b, err := message.Decode(raw, &local)
	if err != nil {
		return raw, nil // unknown encoding: as written
	}
	return b, nil
}

// bytesRanger serves ranges of a message held in memory (a backend whose
// bodies cannot be read by range).
type bytesRanger = bytes.Reader
