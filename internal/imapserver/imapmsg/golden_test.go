package imapmsg

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// render returns what fn writes through an imapwire.Writer, with UTF-8
// quoting on or off (IMAP4rev2 / UTF8=ACCEPT, or IMAP4rev1).
func render(utf8 bool, fn func(w *imapwire.Writer)) string {
	var sb strings.Builder
	bw := bufio.NewWriter(&sb)
	w := imapwire.NewWriter(bw)
	w.SetUTF8(utf8)
	fn(w)
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return sb.String()
}

// goldenOutput is what a golden file holds for a message: its ENVELOPE,
// BODY and BODYSTRUCTURE as an IMAP4rev1 session writes them, then those
// that differ for a UTF-8 session.
func goldenOutput(raw []byte) (out string, values []string) {
	info := message.Parse(raw)
	var b strings.Builder
	for _, utf8 := range []bool{false, true} {
		items := []struct {
			name string
			fn   func(w *imapwire.Writer)
		}{
			{"ENVELOPE", func(w *imapwire.Writer) { WriteEnvelope(w, &info.Envelope) }},
			{"BODY", func(w *imapwire.Writer) { WriteBodyStructure(w, &info.Part, false) }},
			{"BODYSTRUCTURE", func(w *imapwire.Writer) { WriteBodyStructure(w, &info.Part, true) }},
		}
		for _, it := range items {
			s := render(utf8, it.fn)
			values = append(values, s)
			if utf8 {
				if s == render(false, it.fn) {
					continue
				}
				b.WriteString("UTF8 ")
			}
			b.WriteString(it.name + " " + s + "\n")
		}
	}
	return b.String(), values
}

// TestGolden renders every testdata/*.eml and compares with
// testdata/*.golden. Run with -update to regenerate, and read the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, values := goldenOutput(raw)
			for _, v := range values {
				if err := checkValue(v); err != nil {
					t.Errorf("%v in %.60q", err, v)
				}
			}
			golden := strings.TrimSuffix(f, ".eml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, w, g)
		}
	}
	return ""
}

// TestRFCExamples compares with the responses printed in RFC 3501 section
// 8 (and RFC 9051 section 8): the ENVELOPE of the "IMAP4rev1 WG mtg"
// message, and the BODY of a two-part message, rebuilt with parts of the
// sizes and line counts the RFC shows.
func TestRFCExamples(t *testing.T) {
	raw, err := os.ReadFile("testdata/rfc3501-example.eml")
	if err != nil {
		t.Fatal(err)
	}
	info := message.Parse(raw)
	got := render(false, func(w *imapwire.Writer) { WriteEnvelope(w, &info.Envelope) })
	want := `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ` +
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ` +
		`"<B27397-0100000@cac.washington.edu>")`
	if got != want {
		t.Errorf("ENVELOPE\n got %s\nwant %s", got, want)
	}

	// lines returns n lines totalling size bytes, the last without its
	// line break (the CRLF before a boundary belongs to the boundary).
	lines := func(n, size int) string {
		per := size / n
		var b strings.Builder
		for i := 0; i < n-1; i++ {
			b.WriteString(strings.Repeat("a", per-2) + "\r\n")
		}
		b.WriteString(strings.Repeat("a", size-b.Len()))
		return b.String()
	}
	msg := "MIME-Version: 1.0\r\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"xyz\"\r\n\r\n" +
		"--xyz\r\n\r\n" + lines(23, 1152) + "\r\n" +
		"--xyz\r\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n" +
		"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n" +
		"Content-Description: Compiler diff\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" +
		lines(73, 4554) + "\r\n--xyz--\r\n"
	info = message.Parse([]byte(msg))
	got = render(false, func(w *imapwire.Writer) { WriteBodyStructure(w, &info.Part, false) })
	want = `(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)` +
		`("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ` +
		`"Compiler diff" "BASE64" 4554 73) "MIXED")`
	if got != want {
		t.Errorf("BODY\n got %s\nwant %s", got, want)
	}
}

// TestAddressForms checks the address cases RFC 9051 section 7.5.2 gives
// meaning to, on hand-made envelopes.
func TestAddressForms(t *testing.T) {
	env := &message.Envelope{
		To: []message.Address{
			{Mailbox: "team", GroupStart: true},
			{Name: "A", Adl: "@r1,@r2", Mailbox: "a", Host: "x.org"},
			{GroupEnd: true},
			{Mailbox: "undisclosed"}, // no domain: host "" not NIL
		},
		Cc: []message.Address{{Name: "Zoë \"Z\"", Mailbox: "z", Host: "x.org"}},
	}
	got := render(false, func(w *imapwire.Writer) { WriteEnvelope(w, env) })
	want := `(NIL NIL NIL NIL NIL ((NIL NIL "team" NIL)("A" "@r1,@r2" "a" "x.org")(NIL NIL NIL NIL)(NIL NIL "undisclosed" "")) ` +
		"(({8}\r\nZoë \"Z\" NIL \"z\" \"x.org\")) NIL NIL NIL)"
	if got != want {
		t.Errorf("rev1\n got %q\nwant %q", got, want)
	}
	got = render(true, func(w *imapwire.Writer) { WriteEnvelope(w, env) })
	if !strings.Contains(got, `(("Zoë \"Z\"" NIL "z" "x.org"))`) {
		t.Errorf("UTF-8 name not quoted: %q", got)
	}
	if got := render(false, func(w *imapwire.Writer) { WriteEnvelope(w, nil) }); got != "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" {
		t.Errorf("nil envelope: %s", got)
	}
}

// TestHandMadeParts covers Parts that Parse never returns: empty fields
// and a multipart without children still give valid syntax.
func TestHandMadeParts(t *testing.T) {
	got := render(false, func(w *imapwire.Writer) {
		WriteBodyStructure(w, &message.Part{Type: "multipart", Subtype: "mixed"}, true)
	})
	want := `(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL) "MIXED" NIL NIL NIL NIL)`
	if got != want {
		t.Errorf("empty multipart\n got %s\nwant %s", got, want)
	}
	got = render(false, func(w *imapwire.Writer) { WriteBodyStructure(w, &message.Part{}, false) })
	if want := `("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)`; got != want {
		t.Errorf("zero part\n got %s\nwant %s", got, want)
	}
}

// checkValue checks that s is one IMAP parenthesised value as a response
// carries it: balanced lists of NIL, atoms, numbers, quoted strings (no
// CR, LF or NUL, only \" and \\ escaped) and literals with the announced
// length, separated by single spaces, with nothing after the last ")".
func checkValue(s string) error {
	c := checker{s: s}
	if !c.peek('(') {
		return fmt.Errorf("does not start with '(': %.40q", s)
	}
	if err := c.value(0); err != nil {
		return err
	}
	if c.i != len(s) {
		return fmt.Errorf("trailing data at %d: %.40q", c.i, s[c.i:])
	}
	return nil
}

type checker struct {
	s string
	i int
}

func (c *checker) peek(b byte) bool { return c.i < len(c.s) && c.s[c.i] == b }

func (c *checker) errorf(format string, args ...any) error {
	return fmt.Errorf("at %d (%.30q): %s", c.i, c.s[min(c.i, len(c.s)):], fmt.Sprintf(format, args...))
}

func (c *checker) value(depth int) error {
	if depth > 200 {
		return c.errorf("nested too deeply")
	}
	if c.i >= len(c.s) {
		return c.errorf("value expected")
	}
	switch ch := c.s[c.i]; {
	case ch == '(':
		c.i++
		for n := 0; !c.peek(')'); n++ {
			if n > 0 && !c.peek('(') {
				// Items are space-separated, except that
				// bodies and addresses follow each other
				// directly ("(...)(...)").
				if !c.peek(' ') {
					return c.errorf("space or ')' expected")
				}
				c.i++
			} else if n > 0 && c.s[c.i-1] != ')' {
				return c.errorf("'(' right after a non-list")
			}
			if err := c.value(depth + 1); err != nil {
				return err
			}
		}
		c.i++
	case ch == '"':
		c.i++
		for {
			if c.i >= len(c.s) {
				return c.errorf("unterminated quoted string")
			}
			switch q := c.s[c.i]; q {
			case '"':
				c.i++
				return nil
			case '\\':
				if c.i+1 >= len(c.s) || c.s[c.i+1] != '"' && c.s[c.i+1] != '\\' {
					return c.errorf("bad escape")
				}
				c.i += 2
			case '\r', '\n', 0:
				return c.errorf("CR, LF or NUL in quoted string")
			default:
				c.i++
			}
		}
	case ch == '{':
		end := strings.Index(c.s[c.i:], "}\r\n")
		if end < 0 {
			return c.errorf("bad literal header")
		}
		n, err := strconv.Atoi(c.s[c.i+1 : c.i+end])
		if err != nil || n < 0 {
			return c.errorf("bad literal length")
		}
		c.i += end + 3
		if c.i+n > len(c.s) {
			return c.errorf("literal of %d runs past the end", n)
		}
		if strings.IndexByte(c.s[c.i:c.i+n], 0) >= 0 {
			return c.errorf("NUL in literal")
		}
		c.i += n
	default:
		start := c.i
		for c.i < len(c.s) && isAtomByte(c.s[c.i]) {
			c.i++
		}
		if c.i == start {
			return c.errorf("unexpected byte %q", ch)
		}
		atom := c.s[start:c.i]
		if _, err := strconv.ParseUint(atom, 10, 64); err != nil && atom != "NIL" {
			return fmt.Errorf("at %d: atom %q is neither NIL nor a number", start, atom)
		}
	}
	return nil
}

func isAtomByte(c byte) bool {
	return c > ' ' && c < 0x7f && !bytes.ContainsRune([]byte(`(){%*"\]`), rune(c))
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
