package message

import (
	"bytes"
	"encoding/base64"
	"hash/maphash"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of what Parse gives the full-text index of one message. Past
// them the index holds part of the message and Search.Partial is set: a
// search must then read the message itself, so nothing is missed.
const (
	maxIndexInput = 8 << 20  // encoded bytes of text parts decoded for the index
	maxIndexWords = 2 << 20  // bytes of distinct words
	maxIndexField = 64 << 10 // bytes of one header field
)

// SearchText is what the full-text index holds of a message: the distinct
// words (see IndexWords) of each place that an IMAP SEARCH key looks at
// (RFC 9051 section 6.4.4), each a space-separated list. Every word of a
// field or text that the search keys match, as written or decoded, is in
// the list of that place, so that the index can narrow a substring search
// to the messages that have a word containing each word of the search
// string, and the searcher checks those.
type SearchText struct {
	// Subject, From, To, Cc and Bcc hold the words of those top-level
	// header fields, as written (8-bit read as ISO-8859-1 when not
	// UTF-8) and with RFC 2047 encoded words decoded, and for address
	// fields also of each parsed address (mailbox@host, display name).
	Subject, From, To, Cc, Bcc string
	// Header holds the words of every top-level header field, names
	// included, and of the MIME header of every part: what TEXT looks at
	// besides the body, and HEADER.
	Header string
	// Body holds the words of the body that BODY looks at: every text/*
	// part (HTML as the text a reader sees, the HTML alternative of a
	// text/plain part too), the textual message/* parts, and the header
	// fields and text of embedded messages.
	Body string
	// Partial is set when the message was too big to index whole: it
	// must be a candidate for every search.
	Partial bool
	// Fields are the top-level From, To, Cc, Bcc and Subject fields as
	// written (SearchFields), kept beside the index so that a search on
	// those keys checks its candidates without reading them; FieldsOK is
	// false when they were too long to keep.
	Fields   []byte
	FieldsOK bool
}

// IndexWords calls yield with the words of s as the full-text index keeps
// them: runs of letters, numbers and private-use characters (the
// separators of SQLite FTS5's unicode61 tokenizer), each rune mapped to
// one member of its Unicode simple case folding orbit, lower case (so
// that "STRASSE", "strasse", "ſtrasse" are one word, as IMAP's
// case-insensitive matching takes them). A word of a search string is then
// a substring of a word of every text that contains the search string.
func IndexWords(s string, yield func(word string)) {
	indexWords(s, nil, func(b []byte) { yield(string(b)) })
}

// indexWords is IndexWords, of a string or of bytes, yielding each word
// in buf's memory, valid until yield returns: no allocation per word. It
// returns buf for the next call.
func indexWords[T ~string | ~[]byte](s T, buf []byte, yield func(word []byte)) []byte {
	b := buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c] == asciiSep {
				if len(b) > 0 {
					yield(b)
					b = b[:0]
				}
				i++
				continue
			}
			// A run of ASCII letters and digits, taken whole: most
			// words are all of one.
			j, classes := i, uint8(0)
			for ; j < len(s) && s[j] < utf8.RuneSelf; j++ {
				k := asciiClass[s[j]]
				if k == asciiSep {
					break
				}
				classes |= k
			}
			n := len(b)
			b = append(b, s[i:j]...)
			if classes&asciiUpper != 0 {
				for k := n; k < len(b); k++ {
					if asciiClass[b[k]] == asciiUpper {
						b[k] += 'a' - 'A'
					}
				}
			}
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		i += size
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r) {
			b = utf8.AppendRune(b, foldWordRune(r))
			continue
		}
		if len(b) > 0 {
			yield(b)
			b = b[:0]
		}
	}
	if len(b) > 0 {
		yield(b)
	}
	return b
}

// The classes of ASCII bytes in words: a separator, a lower case letter
// or digit, an upper case letter (folded to lower case).
const (
	asciiSep   = 0
	asciiWord  = 1
	asciiUpper = 2
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			t[c] = asciiWord
		case 'A' <= c && c <= 'Z':
			t[c] = asciiUpper
		}
	}
	return t
}()

// foldWordRune maps r to the lower case of the least member of its simple
// case folding orbit: one rune for all the runes IMAP matches as equal.
func foldWordRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return unicode.ToLower(least)
}

// wordSet collects the distinct words of one place of a message.
type wordSet struct {
	ix *indexer
	// text is the words in their order, each followed by a space (the
	// place's list, SearchText), and ends is where each word ends in it:
	// a word costs no string of its own.
	text []byte
	ends []int32
	// seen finds a word by its hash once there are more than smallSet;
	// until then, most sets of a message for ever, looking through them
	// costs less. The hash is seeded per message (indexer.seed), so
	// that no text can be made of words whose hashes collide; one that
	// collides with another word's (1 in 2^64) is found by looking
	// through them all.
	seen map[uint64]int32 // index in ends
	// recent holds words of the set (their index+1) by a cheap hash of
	// their bytes, for long texts (recentFrom): text repeats its words,
	// and a match here skips the look-up.
	recent *[recentSize]int32
}

const (
	smallSet   = 16
	recentBits = 6
	recentSize = 1 << recentBits
	// recentFrom is the length of a text from which a set keeps recent
	// words: header values are shorter.
	recentFrom = 256
)

// recentSlot is where a word goes in wordSet.recent: its length and
// three of its bytes tell most words of a text apart, mixed by a
// multiplicative (Fibonacci) hash whose top bits are the slot.
func recentSlot(w []byte) int {
	n := len(w)
	h := uint32(n) ^ uint32(w[0])<<8 ^ uint32(w[n/2])<<16 ^ uint32(w[n-1])<<24
	return int(h * 0x9E3779B1 >> (32 - recentBits))
}

func (w *wordSet) add(s string) { addWords(w, s) }

func (w *wordSet) addBytes(b []byte) { addWords(w, b) }

func addWords[T ~string | ~[]byte](w *wordSet, s T) {
	if w.recent == nil && len(s) >= recentFrom {
		w.recent = new([recentSize]int32)
	}
	w.ix.buf = indexWords(s, w.ix.buf, func(word []byte) {
		slot := -1
		if w.recent != nil {
			slot = recentSlot(word)
			if i := w.recent[slot]; i > 0 && bytes.Equal(w.word(int(i-1)), word) {
				return
			}
		}
		i, h, ok := w.find(word)
		if ok {
			if slot >= 0 {
				w.recent[slot] = int32(i + 1)
			}
			return
		}
		if w.ix.size+len(word)+1 > maxIndexWords {
			w.ix.partial = true
			return
		}
		if w.text == nil {
			// Room for a header field's words: grown a word at a
			// time from nothing, the lists took a dozen allocations.
			w.text, w.ends = make([]byte, 0, 128), make([]int32, 0, smallSet)
		}
		w.text = append(append(w.text, word...), ' ')
		w.ends = append(w.ends, int32(len(w.text)-1))
		n := len(w.ends)
		switch {
		case w.seen != nil:
			w.remember(h, n-1)
		case n > smallSet:
			w.seen = make(map[uint64]int32, 2*n)
			for i := range n {
				w.remember(maphash.Bytes(w.ix.seed, w.word(i)), i)
			}
		}
		w.ix.size += len(word) + 1
		if slot >= 0 {
			w.recent[slot] = int32(n)
		}
	})
}

// word returns the set's i-th word.
func (w *wordSet) word(i int) []byte {
	start := 0
	if i > 0 {
		start = int(w.ends[i-1]) + 1
	}
	return w.text[start:w.ends[i]]
}

// find returns the index of word in the set and, once the set has seen,
// the word's hash.
func (w *wordSet) find(word []byte) (i int, h uint64, ok bool) {
	if w.seen != nil {
		h = maphash.Bytes(w.ix.seed, word)
		j, ok := w.seen[h]
		if !ok {
			// Every word of the set has its hash in seen.
			return 0, h, false
		}
		if bytes.Equal(w.word(int(j)), word) {
			return int(j), h, true
		}
	}
	for i := range w.ends {
		if bytes.Equal(w.word(i), word) {
			return i, h, true
		}
	}
	return 0, h, false
}

// remember notes the hash of the set's i-th word; a hash that another
// word has already keeps that word.
func (w *wordSet) remember(h uint64, i int) {
	if _, taken := w.seen[h]; !taken {
		w.seen[h] = int32(i)
	}
}

// String is the set's words, separated by spaces.
func (w *wordSet) String() string {
	if len(w.text) == 0 {
		return ""
	}
	return string(w.text[:len(w.text)-1])
}

// indexer builds a SearchText, and finds the preview's text on the way.
type indexer struct {
	p                                     *parser
	subject, from, to, cc, bcc, hdr, body wordSet
	size                                  int // bytes of words kept
	decoded                               int // encoded bytes of text decoded
	partial, warnedCharset                bool
	buf                                   []byte // word buffer of indexWords
	seed                                  maphash.Seed
	plain, html, embPlain, embHTML        string
}

// text fills info.Search and info.Preview.
func (p *parser) text(info *Info) {
	ix := &indexer{p: p, seed: maphash.MakeSeed()}
	for _, w := range []*wordSet{&ix.subject, &ix.from, &ix.to, &ix.cc, &ix.bcc, &ix.hdr, &ix.body} {
		w.ix = ix
	}
	ix.topHeader(&info.Envelope, info.Part.Header(p.raw))
	ix.mimeHeaders(&info.Part)
	ix.walk(&info.Part, false, nil)
	info.Search = SearchText{
		Subject: ix.subject.String(), From: ix.from.String(), To: ix.to.String(), Cc: ix.cc.String(), Bcc: ix.bcc.String(),
		Header: ix.hdr.String(), Body: ix.body.String(), Partial: ix.partial,
	}
	info.Search.Fields, info.Search.FieldsOK = SearchFields(info.Part.Header(p.raw))
	for _, s := range []string{ix.plain, ix.html, ix.embPlain, ix.embHTML} {
		if s != "" {
			info.Preview = preview(s)
			break
		}
	}
}

// field adds a header field's name and value, as written and decoded,
// to the sets given.
func (ix *indexer) field(whole []byte, sets ...*wordSet) {
	// Header bytes count against the input budget, and a field is
	// indexed up to maxIndexField bytes: a hostile header (megabytes of
	// addresses or encoded words) costs a bounded time.
	if ix.decoded+len(whole) > maxIndexInput {
		ix.partial = true
		return
	}
	ix.decoded += len(whole)
	if len(whole) > maxIndexField {
		ix.partial = true
		whole = whole[:maxIndexField]
	}
	if i := bytes.IndexByte(whole, ':'); i >= 0 {
		whole = whole[i+1:]
	}
	v := unfold(whole)
	d := ix.p.decodeWords(v)
	for _, w := range sets {
		w.add(v)
		if d != v {
			w.add(d)
		}
	}
}

// fields calls fn with the name and the whole of each field of a header
// (as Fields, without a string of each name).
func fields(header []byte, fn func(name, whole []byte)) {
	scanFields(header, 0, len(header), func(f field) { fn(header[f.start:f.nameEnd], header[f.start:f.end]) })
}

// topHeader indexes the message's own header fields.
func (ix *indexer) topHeader(env *Envelope, header []byte) {
	fields(header, func(name, whole []byte) {
		ix.hdr.addBytes(name)
		sets := [2]*wordSet{&ix.hdr}
		n := 1
		switch fieldIndex(name) {
		case fSubject:
			sets[1], n = &ix.subject, 2
		case fFrom:
			sets[1], n = &ix.from, 2
		case fTo:
			sets[1], n = &ix.to, 2
		case fCc:
			sets[1], n = &ix.cc, 2
		case fBcc:
			sets[1], n = &ix.bcc, 2
		}
		ix.field(whole, sets[:n]...)
	})
	// The parsed addresses, for FROM "user@domain.org" to find an address
	// written with comments or quotes in between.
	for _, f := range []struct {
		w  *wordSet
		as []Address
	}{{&ix.from, env.From}, {&ix.to, env.To}, {&ix.cc, env.Cc}, {&ix.bcc, env.Bcc}} {
		for _, a := range f.as {
			f.w.add(a.Mailbox)
			f.w.add(a.Host)
			f.w.add(ix.p.decodeWords(a.Name))
		}
	}
}

// mimeHeaders indexes the MIME header of every part below the top, which
// TEXT looks at ("header (including MIME header fields)"); those of
// embedded messages go with the body.
func (ix *indexer) mimeHeaders(p *Part) {
	for i := range p.Parts {
		c := &p.Parts[i]
		fields(c.Header(ix.p.raw), func(name, whole []byte) {
			ix.hdr.addBytes(name)
			ix.field(whole, &ix.hdr)
		})
		ix.mimeHeaders(c)
	}
	if p.Message != nil {
		ix.mimeHeaders(&p.Message.Part)
	}
}

// walk indexes the text of part p's body, as IMAP BODY searches it, and
// keeps the first inline text/plain and text/html of the message and of
// embedded messages for the preview. path is p's part number.
func (ix *indexer) walk(p *Part, embedded bool, path []int) {
	switch {
	case p.Type == "multipart":
		for i := range p.Parts {
			ix.walk(&p.Parts[i], embedded, append(path[:len(path):len(path)], i+1))
		}
	case p.Message != nil:
		fields(p.Message.Part.Header(ix.p.raw), func(name, whole []byte) {
			ix.body.addBytes(name)
			ix.field(whole, &ix.body)
		})
		ix.walk(&p.Message.Part, true, path)
	case p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
		// An embedded message Parse could not locate, most often
		// base64-encoded: its decoded bytes are searched as text.
		if b, ok := ix.budget(p); ok {
			d, _ := decodeBody(b, p.Encoding)
			ix.body.add(utf8String(d))
		}
	case p.IsTextual():
		b, ok := ix.budget(p)
		if !ok {
			return
		}
		isHTML := p.Type == "text" && p.Subtype == "html"
		if !isHTML && strings.EqualFold(p.Encoding, "BASE64") {
			if s, ok := ix.addBase64(b, p.Param("charset")); ok {
				ix.keepPreview(p, embedded, false, s, true)
				return
			}
		}
		d, err := decodeBody(b, p.Encoding)
		if err != nil {
			ix.p.problem(path, "unknown transfer encoding %q", p.Encoding)
		}
		var s string
		collapsed := false
		if !isHTML && isUTF8As(d, p.Param("charset")) {
			// Text that needs no conversion, most large text parts, is
			// indexed from its bytes: a string of the whole part, and a
			// collapsed copy of it for a preview of 200 characters, cost
			// twice its size again (on top of a base64 part's decoded
			// bytes), up to the index's 8 MiB per message.
			ix.body.addBytes(d)
			s, collapsed = previewPrefix(d), true
		} else {
			var known bool
			s, known = toUTF8(d, p.Param("charset"))
			if !known && !ix.warnedCharset {
				ix.warnedCharset = true
				ix.p.problem(path, "unknown charset %q", truncate(p.Param("charset"), 40))
			}
			if isHTML {
				s = stripHTML(s)
			}
			ix.body.add(s)
		}
		ix.keepPreview(p, embedded, isHTML, s, collapsed)
	}
}

// keepPreview keeps s, text of part p, collapsed for the preview if p is
// the first inline text/plain or text/html of its kind; collapsed says s
// is already.
func (ix *indexer) keepPreview(p *Part, embedded, isHTML bool, s string, collapsed bool) {
	if p.Type != "text" || p.Disposition == "attachment" || p.Subtype != "plain" && !isHTML {
		return
	}
	slot := &ix.plain
	switch {
	case !embedded && isHTML:
		slot = &ix.html
	case embedded && !isHTML:
		slot = &ix.embPlain
	case embedded && isHTML:
		slot = &ix.embHTML
	}
	if *slot == "" {
		if !collapsed {
			s = collapse(s)
		}
		*slot = s
	}
}

// indexPiece is the size of the pieces addBase64 decodes.
const indexPiece = 64 << 10

// isSeparator tells whether c is an ASCII byte outside words.
func isSeparator(c byte) bool {
	return c < utf8.RuneSelf && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
}

// budget returns the raw body of p to decode, within what is left of
// maxIndexInput; past it the message is partial.
func (ix *indexer) budget(p *Part) ([]byte, bool) {
	b := p.Body(ix.p.raw)
	if ix.decoded+len(b) > maxIndexInput {
		ix.partial = true
		return nil, false
	}
	ix.decoded += len(b)
	return b, true
}

// IsTextual tells whether a leaf part holds text a user could search for:
// text/*, and the message/* types that are text (delivery reports and
// headers). The search index and IMAP SEARCH (imapmsg) both ask it, so
// that the two search the same parts.
func (p *Part) IsTextual() bool {
	switch p.Type {
	case "text":
		return true
	case "message":
		switch p.Subtype {
		case "delivery-status", "disposition-notification", "rfc822-headers", "global-delivery-status", "global-headers", "global-disposition-notification":
			return true
		}
	}
	return false
}

// addBase64 adds the words of a well-formed base64 text part whose text
// needs no conversion (isUTF8As) to the body's set and returns a prefix
// for its preview, decoding it twice in pieces (once to check it) rather
// than whole into memory. It does nothing and returns false for other
// text, which the caller decodes whole.
func (ix *indexer) addBase64(body []byte, cs string) (string, bool) {
	buf := make([]byte, indexPiece)
	var check utf8Check
	if !base64Pieces(body, buf, func(b []byte) { check.write(b, cs) }) || !check.ok() {
		return "", false
	}
	var word, head []byte // a word cut at a piece's end; the start of the text
	base64Pieces(body, buf, func(b []byte) {
		if len(head) < maxPreviewPrefix {
			head = append(head, b[:min(len(b), maxPreviewPrefix-len(head))]...)
		}
		word = append(word, b...)
		n := len(word)
		for n > 0 && !isSeparator(word[n-1]) {
			n--
		}
		ix.body.addBytes(word[:n])
		word = append(word[:0], word[n:]...)
	})
	ix.body.addBytes(word)
	return previewPrefix(head), true
}

// maxPreviewPrefix bounds the decoded bytes addBase64 keeps for the
// preview: text padded with more white space than that has none.
const maxPreviewPrefix = 256 << 10

// base64Pieces decodes base64 body into buf piece by piece, calling yield
// with each; false if body is not the standard encoding (which decodeBase64
// then reads leniently).
func base64Pieces(body, buf []byte, yield func([]byte)) bool {
	dec := base64.NewDecoder(base64.StdEncoding, bytes.NewReader(body))
	for {
		n, err := io.ReadFull(dec, buf)
		if n > 0 {
			yield(buf[:n])
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return true
		default:
			return false
		}
	}
}

// utf8Check is isUTF8As over text written in pieces.
type utf8Check struct {
	carry []byte // the start of a rune cut at a piece's end
	bad   bool
}

func (c *utf8Check) write(b []byte, cs string) {
	if c.bad {
		return
	}
	if len(c.carry) > 0 {
		// Complete the cut rune from b's first bytes.
		k := 0
		for k < len(b) && len(c.carry) < utf8.UTFMax && !utf8.FullRune(c.carry) {
			c.carry = append(c.carry, b[k])
			k++
		}
		if !utf8.FullRune(c.carry) {
			return // b was short; wait for more
		}
		r, size := utf8.DecodeRune(c.carry)
		if r == utf8.RuneError && size <= 1 || !isUTF8As(c.carry[:size], cs) {
			c.bad = true
			return
		}
		b = b[k-(len(c.carry)-size):]
		c.carry = c.carry[:0]
	}
	end := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				end = i
			}
			break
		}
	}
	if !isUTF8As(b[:end], cs) {
		c.bad = true
		return
	}
	c.carry = append(c.carry, b[end:]...)
}

func (c *utf8Check) ok() bool { return !c.bad && len(c.carry) == 0 }
