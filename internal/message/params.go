package message

import (
	"sort"
	"strconv"
	"strings"
)

// parseMediaType reads a Content-Type value (RFC 2045 5.1): type "/"
// subtype, then up to limit parameters. ok is false when type or subtype
// is missing; parameters are still returned.
func parseMediaType(v string, limit int) (typ, sub string, params [][2]string, ok bool) {
	v = stripLeadingComments(v)
	// The media type ends at ';', or at white space or a comment when the
	// ';' is missing ("text/html charset=utf-8").
	end := strings.IndexAny(v, "; \t(")
	if end < 0 {
		end = len(v)
	}
	if end < len(v) {
		params = parseParams(v[end:], limit)
	}
	typ, sub, found := strings.Cut(v[:end], "/")
	typ = strings.ToLower(typ)
	sub = strings.ToLower(sub)
	if !found || !isToken(typ) || !isToken(sub) {
		return "", "", params, false
	}
	return typ, sub, params, true
}

// parseDisposition reads a Content-Disposition value (RFC 2183), with up
// to limit parameters.
func parseDisposition(v string, limit int) (disp string, params [][2]string) {
	v = stripLeadingComments(v)
	end := strings.IndexAny(v, "; \t(")
	if end < 0 {
		end = len(v)
	}
	disp = strings.ToLower(v[:end])
	if !isToken(disp) {
		disp = ""
	}
	if end < len(v) {
		params = parseParams(v[end:], limit)
	}
	return disp, params
}

func stripLeadingComments(v string) string {
	v = strings.TrimSpace(v)
	for strings.HasPrefix(v, "(") {
		d := 0
		i := 0
	loop:
		for ; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
			case '(':
				d++
			case ')':
				d--
				if d == 0 {
					break loop
				}
			}
		}
		if i >= len(v) {
			return ""
		}
		v = strings.TrimSpace(v[i+1:])
	}
	return v
}

// stripComments removes (comments) from a short token string.
func stripComments(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	d := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			d++
		case c == ')' && d > 0:
			d--
		case d == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isToken tells whether s is a non-empty RFC 2045 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 127 || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseParams reads parameters (RFC 2045 5.1) from s, which starts at the
// first ';' or white space after the value. It is lenient: unquoted values
// run to the next ';' (spam writes filename=my file.pdf), ';' may be
// missing between parameters, unterminated quotes end at the end. Names are
// lowercased, and RFC 2231 continuations are joined. It reads up to limit
// parameters.
func parseParams(s string, limit int) [][2]string {
	var ps [][2]string
	i := 0
	for i < len(s) && len(ps) < limit {
		for i < len(s) && (s[i] == ';' || s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
		if i < len(s) && s[i] == '(' {
			j := i
			d := 0
			for ; j < len(s); j++ {
				if s[j] == '(' {
					d++
				} else if s[j] == ')' {
					d--
					if d == 0 {
						break
					}
				}
			}
			i = j + 1
			continue
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexAny(s[i:], "=;")
		if eq < 0 || s[i+eq] == ';' {
			// A parameter without value: skip it.
			if eq < 0 {
				break
			}
			i += eq
			continue
		}
		name := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val string
		if i < len(s) && s[i] == '"' {
			val, i = quotedParam(s, i)
			// Skip garbage up to the next ';', unless another
			// parameter follows first.
			if j := strings.IndexAny(s[i:], ";="); j >= 0 && s[i+j] == ';' {
				i += j
			}
		} else {
			j := unquotedEnd(s[i:])
			val = strings.TrimSpace(s[i : i+j])
			i += j
		}
		if name == "" || strings.ContainsAny(name, " \t\"") {
			continue
		}
		ps = append(ps, [2]string{name, val})
	}
	return joinContinuations(ps)
}

// unquotedEnd returns the length of an unquoted parameter value at the
// start of s: up to ';', or up to white space followed by a comment
// ("us-ascii (Plain text)") or by another parameter when the ';' is missing
// ("utf-8 format=flowed"). Other white space is kept: spam writes
// filename=my file.pdf.
func unquotedEnd(s string) int {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case ';':
			return j
		case ' ', '\t':
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			if k < len(s) && s[k] == '(' {
				return j
			}
			t := k
			for t < len(s) && s[t] != '=' && s[t] != ';' && s[t] != ' ' && s[t] != '\t' {
				t++
			}
			if t < len(s) && s[t] == '=' && t > k {
				return j
			}
			j = k - 1
		}
	}
	return len(s)
}

// quotedParam reads the quoted-string at s[i] and returns its unescaped
// content and the index after it.
func quotedParam(s string, i int) (string, int) {
	i++
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		i++
		switch c {
		case '"':
			return b.String(), i
		case '\\':
			// Windows paths are often written unescaped
			// ("C:\dir\file"): keep a backslash that does not quote
			// a special.
			if i < len(s) && (s[i] == '"' || s[i] == '\\') {
				b.WriteByte(s[i])
				i++
			} else {
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), i
}

// joinContinuations merges RFC 2231 3 continuations (name*0, name*1*, ...)
// into one parameter at the place of the first. If any section is
// extended (ends with "*", RFC 2231 4), the result is named "name*" and its
// value keeps the extended form charset'language'%XX..., the other sections
// percent-encoded, so values stay ASCII for IMAP; filename decodes them.
func joinContinuations(ps [][2]string) [][2]string {
	cont := false
	for _, p := range ps {
		if _, _, _, ok := splitSection(p[0]); ok {
			cont = true
			break
		}
	}
	if !cont {
		return ps
	}
	type section struct {
		n        int
		extended bool
		value    string
	}
	groups := map[string][]section{}
	var out [][2]string
	for _, p := range ps {
		base, n, ext, ok := splitSection(p[0])
		if !ok {
			out = append(out, p)
			continue
		}
		if _, seen := groups[base]; !seen {
			// Placeholder, filled in below.
			out = append(out, [2]string{"\x00" + base, ""})
		}
		groups[base] = append(groups[base], section{n, ext, p[1]})
	}
	for i, p := range out {
		if !strings.HasPrefix(p[0], "\x00") {
			continue
		}
		base := p[0][1:]
		secs := groups[base]
		sort.SliceStable(secs, func(a, b int) bool { return secs[a].n < secs[b].n })
		anyExt := false
		for _, s := range secs {
			anyExt = anyExt || s.extended
		}
		var b strings.Builder
		for j, s := range secs {
			if j > 0 && s.n == secs[j-1].n {
				continue // duplicate section
			}
			v := s.value
			switch {
			case !anyExt:
				b.WriteString(v)
			case s.extended && j == 0:
				// charset'language' prefix, RFC 2231 4.
				if strings.Count(v, "'") < 2 {
					b.WriteString("''")
				}
				b.WriteString(v)
			case s.extended:
				b.WriteString(v)
			default:
				if j == 0 {
					b.WriteString("''")
				}
				b.WriteString(percentEncode(v))
			}
		}
		name := base
		if anyExt {
			name += "*"
		}
		out[i] = [2]string{name, b.String()}
	}
	return out
}

// splitSection splits "name*3*" into "name", 3, true. ok is false for names
// without a section number ("name" or "name*").
func splitSection(name string) (base string, n int, extended, ok bool) {
	star := strings.IndexByte(name, '*')
	if star <= 0 {
		return "", 0, false, false
	}
	rest := name[star+1:]
	if strings.HasSuffix(rest, "*") {
		extended = true
		rest = rest[:len(rest)-1]
	}
	if rest == "" || len(rest) > 4 {
		return "", 0, false, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || (len(rest) > 1 && rest[0] == '0') {
		return "", 0, false, false
	}
	return name[:star], n, extended, true
}

func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 127 || strings.IndexByte(`*'%()<>@,;:\"/[]?=`, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func param(ps [][2]string, name string) string {
	for _, p := range ps {
		if strings.EqualFold(p[0], name) {
			return p[1]
		}
	}
	return ""
}

func hasParam(ps [][2]string, name string) (string, bool) {
	for _, p := range ps {
		if strings.EqualFold(p[0], name) {
			return p[1], true
		}
	}
	return "", false
}

// filename finds the file name of a part: the disposition's filename, else
// the Content-Type name (RFC 2183 2.3, and the older RFC 1341 name that
// many mailers still send), RFC 2231 or, commonly though against RFC 2047
// 5, encoded words. Directory parts are dropped.
func (p *parser) filename(dp, ct [][2]string) string {
	var name string
	if v, ok := hasParam(dp, "filename*"); ok {
		name = decode2231(v)
	} else if v, ok := hasParam(dp, "filename"); ok {
		name = p.decodeWords(utf8String([]byte(v)))
	} else if v, ok := hasParam(ct, "name*"); ok {
		name = decode2231(v)
	} else if v, ok := hasParam(ct, "name"); ok {
		name = p.decodeWords(utf8String([]byte(v)))
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(cleanControl(name))
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// decode2231 decodes an RFC 2231 4 extended value: charset'language'%XX.
func decode2231(v string) string {
	cs := ""
	if a := strings.IndexByte(v, '\''); a >= 0 {
		if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
			cs = v[:a]
			v = v[a+1+b+1:]
		}
	}
	buf := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			buf = append(buf, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
			continue
		}
		buf = append(buf, c)
	}
	s, _ := toUTF8(buf, cs)
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
