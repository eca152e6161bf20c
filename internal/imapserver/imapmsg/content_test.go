package imapmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// TestContentMatchesValue: every content item read through Content, from
// the raw message at offsets, is byte for byte what Value makes from the
// message in memory, with the same length, the same literal8 choice and
// the same errors: over the fixtures and over random MIME trees (nested
// multiparts and messages, every transfer encoding and broken ones, NULs,
// bare LFs, parts larger than the streaming decoder's 64 KiB pieces), for
// every section of every part, parts that do not exist, and partials
// before, across and past the end.
func TestContentMatchesValue(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) { checkContent(t, rand.New(rand.NewPCG(1, 2)), raw) })
	}
	n := 300
	if testing.Short() {
		n = 40
	}
	for i := range n {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		g := &mimeGen{rng: rng, nl: "\r\n"}
		if rng.IntN(8) == 0 {
			g.nl = "\n"
		}
		raw := g.message(0)
		if !t.Run(fmt.Sprintf("random %d", i), func(t *testing.T) { checkContent(t, rng, raw) }) {
			t.Logf("message:\n%q", raw)
			break
		}
	}
}

// checkContent compares Content with Value for every item over raw.
func checkContent(t *testing.T, rng *rand.Rand, raw []byte) {
	info := message.Parse(raw)
	for _, item := range contentItems(rng, info, int64(len(raw))) {
		cmd := readCommand(t, "a FETCH 1 "+item)
		it := &cmd.Args.(*imapwire.Fetch).Items[0]
		checkErr := Check(info, it)
		for _, held := range []int64{heldHeader, 0} { // HEADER.FIELDS in memory, and picked as they are written
			checkContentItem(t, raw, info, item, it, checkErr, held)
		}
	}
}

func checkContentItem(t *testing.T, raw []byte, info *message.Info, item string, it *imapwire.FetchItem, checkErr error, held int64) {
	t.Helper()
	c, err := open(bytes.NewReader(raw), int64(len(raw)), info, it, held)
	if checkErr != nil {
		if err == nil || errors.Is(err, ErrUnknownCTE) != errors.Is(checkErr, ErrUnknownCTE) {
			t.Fatalf("%s: Open error %v, Check error %v", item, err, checkErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Open: %v", item, err)
	}
	want := Value(raw, info, it)
	n, err := c.Size()
	if err != nil || n != int64(len(want)) {
		t.Fatalf("%s: Size %d, %v; want %d", item, n, err, len(want))
	}
	lit8, err := c.Literal8()
	if wantLit8 := it.Kind != imapwire.FetchBodySection && it.Kind != imapwire.FetchRFC822 &&
		it.Kind != imapwire.FetchRFC822Header && it.Kind != imapwire.FetchRFC822Text && NeedsLiteral8(want); err != nil || lit8 != wantLit8 {
		t.Fatalf("%s: Literal8 %v, %v; want %v", item, lit8, err, wantLit8)
	}
	r, err := c.Reader()
	if err != nil {
		t.Fatalf("%s: Reader: %v", item, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: read %d bytes (%v), want %d:\n got %.200q\nwant %.200q", item, len(got), err, len(want), got, want)
	}
}

// contentItems lists FETCH items over every part of info and a few parts
// it does not have, each section kind, with random partials.
func contentItems(rng *rand.Rand, info *message.Info, size int64) []string {
	var paths []string
	var walk func(p *message.Part, path string, atMessage bool)
	walk = func(p *message.Part, path string, atMessage bool) {
		if path != "" {
			paths = append(paths, path)
		}
		sub := func(i int) string {
			if path == "" {
				return fmt.Sprint(i)
			}
			return path + "." + fmt.Sprint(i)
		}
		switch {
		case p.Type == "multipart":
			for i := range p.Parts {
				walk(&p.Parts[i], sub(i+1), false)
			}
			paths = append(paths, sub(len(p.Parts)+1))
		case isMessage(p) && path != "":
			walk(embeddedRoot(p), path, true)
		case atMessage:
			paths = append(paths, sub(1))
		}
		paths = append(paths, sub(2))
	}
	walk(&info.Part, "", true)
	partial := func() string {
		switch rng.IntN(4) {
		case 0:
			return ""
		case 1:
			return fmt.Sprintf("<%d.%d>", rng.Int64N(size+10), rng.Int64N(size+10)+1)
		case 2:
			return fmt.Sprintf("<0.%d>", rng.Int64N(200)+1)
		}
		return fmt.Sprintf("<%d.4294967295>", rng.Int64N(size/2+1))
	}
	items := []string{"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY.PEEK[]" + partial(), "BINARY.SIZE[]",
		"BODY.PEEK[]" + partial(), "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]" + partial(),
		"BODY.PEEK[HEADER.FIELDS (Subject X-A)]", "BODY.PEEK[HEADER.FIELDS.NOT (subject)]" + partial()}
	for _, p := range append(paths, "99", "1.99", "3.2.1") {
		for _, spec := range []string{"", ".MIME", ".HEADER", ".TEXT", ".HEADER.FIELDS (Subject X-A content-type)", ".HEADER.FIELDS.NOT (Subject)"} {
			items = append(items, "BODY.PEEK["+p+spec+"]"+partial())
		}
		items = append(items, "BINARY.PEEK["+p+"]", "BINARY.PEEK["+p+"]"+partial(), "BINARY.SIZE["+p+"]")
	}
	return items
}

// mimeGen makes random MIME messages.
type mimeGen struct {
	rng *rand.Rand
	nl  string // line break: CRLF, or bare LF
}

func (g *mimeGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

// header writes a random header: fields the items name, folded ones,
// NULs and 8-bit bytes, then the fields given.
func (g *mimeGen) header(b *bytes.Buffer, fields ...string) {
	for range g.rng.IntN(4) {
		switch g.rng.IntN(5) {
		case 0:
			fmt.Fprintf(b, "Subject: s%d%s\tfolded%s", g.rng.IntN(100), g.nl, g.nl)
		case 1:
			fmt.Fprintf(b, "X-A: a\x00b\xff%s", g.nl)
		case 2:
			fmt.Fprintf(b, "x-a: %s%s", strings.Repeat("v", g.rng.IntN(100)), g.nl)
		case 3:
			fmt.Fprintf(b, "From: a@example.net%s", g.nl)
		default:
			fmt.Fprintf(b, "X-Other: o%s", g.nl)
		}
	}
	for _, f := range fields {
		b.WriteString(f + g.nl)
	}
	if g.rng.IntN(20) > 0 {
		b.WriteString(g.nl)
	}
}

// message writes a message at nesting depth.
func (g *mimeGen) message(depth int) []byte {
	var b bytes.Buffer
	g.entity(&b, depth, "MIME-Version: 1.0")
	return b.Bytes()
}

// entity writes one entity, header and body.
func (g *mimeGen) entity(b *bytes.Buffer, depth int, fields ...string) {
	kind := g.rng.IntN(6)
	if depth >= 3 {
		kind = 3 + g.rng.IntN(3)
	}
	switch kind {
	case 0, 1:
		boundary := fmt.Sprintf("b%d-%d", depth, g.rng.IntN(1000))
		g.header(b, append(fields, fmt.Sprintf("Content-Type: multipart/%s; boundary=%q", g.pick("mixed", "alternative", "digest"), boundary))...)
		if g.rng.IntN(3) == 0 {
			b.WriteString("preamble" + g.nl)
		}
		for range g.rng.IntN(4) {
			b.WriteString("--" + boundary + g.nl)
			g.entity(b, depth+1)
			b.WriteString(g.nl)
		}
		if g.rng.IntN(8) > 0 {
			b.WriteString("--" + boundary + "--" + g.nl)
		}
	case 2:
		enc := g.pick("", "7bit", "8bit", "base64")
		var inner bytes.Buffer
		g.entity(&inner, depth+1)
		body := inner.Bytes()
		cte := []string{"Content-Type: " + g.pick("message/rfc822", "message/global")}
		if enc != "" {
			cte = append(cte, "Content-Transfer-Encoding: "+enc)
		}
		if enc == "base64" {
			body = g.base64(body)
		}
		g.header(b, append(fields, cte...)...)
		b.Write(body)
	default:
		enc := g.pick("", "7bit", "8bit", "binary", "base64", "BASE64", "quoted-printable", "Quoted-Printable", "x-unknown")
		fs := append(fields, "Content-Type: "+g.pick("text/plain", "application/octet-stream", "text/html; charset=utf-8"))
		if enc != "" {
			fs = append(fs, "Content-Transfer-Encoding: "+enc)
		}
		g.header(b, fs...)
		b.Write(g.body(strings.ToLower(enc)))
	}
}

// body is a leaf body in encoding enc: mostly as a mailer writes it,
// sometimes broken, sometimes longer than a decoding piece.
func (g *mimeGen) body(enc string) []byte {
	n := g.rng.IntN(300)
	if g.rng.IntN(10) == 0 {
		n = 64<<10 + g.rng.IntN(150<<10)
	}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(g.rng.IntN(256))
	}
	switch enc {
	case "base64":
		b := g.base64(data)
		if g.rng.IntN(3) == 0 && len(b) > 0 {
			// Broken: stray characters, padding in the middle, cut off.
			for range 1 + g.rng.IntN(5) {
				i := g.rng.IntN(len(b))
				b = append(b[:i], append([]byte(g.pick("=", "!", " ", "==", "\x00", "-")), b[i:]...)...)
			}
			b = b[:g.rng.IntN(len(b)+1)]
		}
		return b
	case "quoted-printable":
		// The bytes decoding decides on: escapes (some broken), soft
		// breaks, white space before line breaks, NULs.
		pieces := []string{"a", "b", "=", "=3D", "=3d", "=4", "=G1", "=\r\n", "=\n", "= \r\n", " ", "\t", "  \r\n", "\r", "\r\n", "\n", "\x00", "\xe9", "=0A"}
		var b []byte
		for len(b) < n {
			b = append(b, pieces[g.rng.IntN(len(pieces))]...)
			if g.rng.IntN(100) == 0 {
				b = append(b, bytes.Repeat([]byte("x"), g.rng.IntN(2000))...)
			}
		}
		return b
	}
	if g.rng.IntN(2) == 0 {
		// Text lines.
		for i := range data {
			data[i] = "abc def\r\n\n\x00"[g.rng.IntN(11)]
		}
	}
	return data
}

// base64 encodes data in lines of 76 characters.
func (g *mimeGen) base64(data []byte) []byte {
	s := base64.StdEncoding.EncodeToString(data)
	var b []byte
	for len(s) > 76 {
		b = append(append(b, s[:76]...), g.nl...)
		s = s[76:]
	}
	return append(append(b, s...), g.nl...)
}

// TestContentHeaderFieldsEdges: HEADER.FIELDS[.NOT] picked from the
// stored header are Value's for the headers that end or begin oddly: a
// blank line of many CRs (read backwards in pieces), no blank line, no
// line break at all, an mbox From line, an orphan continuation, a line
// that is not a field, names with white space before the colon, NULs,
// and lines longer than the scanner's buffer.
func TestContentHeaderFieldsEdges(t *testing.T) {
	long := strings.Repeat("v", 70000)
	for _, raw := range []string{
		"Subject: s\r\nX-A: a\r\n" + strings.Repeat("\r", 10000) + "\nbody\r\n",
		"Subject: s\r\nX-A: a\r\n\r\r\nbody",
		"Subject: s\r\nX-A: a\r\nnot a field\r\nmore\r\n",
		"Subject: s",
		"Subject: s\r\n",
		"\r\nbody",
		"From alice@x Tue Nov  4 10:00:00 2025\r\nSubject: s\r\n\r\nb",
		" orphan\r\nSubject: s\r\n\r\nb",
		"Subject \t : s\r\n more\r\nx-a:\x00nul\r\n\r\nb",
		"X-Long: " + long + "\r\nSubject: " + long + "\r\n " + long + "\r\n\r\nb",
		"X-" + long + ": v\r\nSubject: s\r\n\r\nb",
		"Subject: s\n\n",
		"Subject: s\r\n\n",
	} {
		checkContent(t, rand.New(rand.NewPCG(3, 4)), []byte(raw))
	}
}
