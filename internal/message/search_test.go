package message

import (
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"testing"
)

func words(s string) []string {
	var ws []string
	IndexWords(s, func(w string) { ws = append(ws, w) })
	return ws
}

func checkWords(t *testing.T, where, list string, want ...string) {
	t.Helper()
	have := strings.Fields(list)
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Errorf("%s lacks %q: %q", where, w, list)
		}
	}
}

func checkNoWords(t *testing.T, where, list string, unwanted ...string) {
	t.Helper()
	have := strings.Fields(list)
	for _, w := range unwanted {
		if slices.Contains(have, w) {
			t.Errorf("%s has %q: %q", where, w, list)
		}
	}
}

func TestIndexWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, World!", []string{"hello", "world"}},
		{"user-from@domain.org", []string{"user", "from", "domain", "org"}},
		{"STRASSE ſtrasse Straße", []string{"strasse", "strasse", "straße"}},
		{"ΣΊΣΥΦΟΣ σίσυφος", []string{"σίσυφοσ", "σίσυφοσ"}}, // final sigma folds with sigma
		{"K-9 (Kelvin \u212a)", []string{"k", "9", "kelvin", "k"}},
		{"李明 x²", []string{"李明", "x²"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("IndexWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSearchTextCoversSearchKeys guards issue 11 part 5: each place a
// SEARCH key looks at has its words in the index, so that narrowing by the
// index never loses a message the key matches.
func TestSearchTextCoversSearchKeys(t *testing.T) {
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 1<<20/27+1) // past 1 MiB of text
	raw := "From: <user-from (comment)@ (comment) domain.org>\r\n" +
		"To: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\n" +
		"Cc: cc-person@example.com\r\n" +
		"Bcc: hidden@example.com\r\n" +
		"Reply-To: replyonly@example.net\r\n" +
		"X-Custom-Thing: xcustomvalue\r\n" +
		"Message-ID: <abc123@host.example>\r\n" +
		"Subject: =?ISO-8859-1?Q?Quartalsbericht_f=FCr?= Q4\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain\r\n\r\n" + filler + "afterthemebibyte\r\n" +
		"--b2\r\nContent-Type: text/html\r\n\r\n<p>onlyinhtml</p>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: embeddedsubject\r\n\r\nembeddedbody\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n" +
		"--b1--\r\n"
	st := Parse([]byte(raw)).Search
	checkWords(t, "From", st.From, "user", "from", "domain", "org", "comment")
	checkWords(t, "To", st.To, "jürgen", "j", "example", "de", "utf")
	checkWords(t, "Cc", st.Cc, "cc", "person")
	checkWords(t, "Bcc", st.Bcc, "hidden")
	checkWords(t, "Subject", st.Subject, "quartalsbericht", "für", "q4", "iso")
	checkWords(t, "Header", st.Header, "reply", "replyonly", "x", "custom", "thing", "xcustomvalue", "abc123", "message", "id",
		"quartalsbericht", "user", "scan", "pdf", "application", "alternative")
	checkWords(t, "Body", st.Body, "lorem", "afterthemebibyte", "onlyinhtml", "embeddedsubject", "embeddedbody", "subject")
	checkNoWords(t, "Body", st.Body, "aaaa", "xcustomvalue", "p")
	checkNoWords(t, "Subject", st.Subject, "xcustomvalue", "user")
	if st.Partial {
		t.Error("a 1 MiB message marked partial")
	}
	if n := strings.Count(st.Body, "lorem"); n != 1 {
		t.Errorf("lorem %d times: words are not distinct", n)
	}
}

// TestSearchTextPartial checks the bounds: past them the message is
// marked partial (a candidate for every search), never silently cut.
func TestSearchTextPartial(t *testing.T) {
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", maxIndexInput+1)
	if !Parse([]byte(big)).Search.Partial {
		t.Error("text past maxIndexInput not marked partial")
	}
	var b strings.Builder
	b.WriteString("Subject: many words\r\n\r\n")
	for i := 0; b.Len() < maxIndexWords+100; i++ {
		fmt.Fprintf(&b, "w%d ", i)
	}
	st := Parse([]byte(b.String())).Search
	if !st.Partial || len(st.Body) > maxIndexWords {
		t.Errorf("%d bytes of distinct words: partial %v, kept %d", b.Len(), st.Partial, len(st.Body))
	}
}

// largeText is text of several indexPieces: a start padded with more
// white space than the first preview prefix, multi-byte runes, words
// across the pieces' ends, and a word longer than a piece.
func largeText() string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" \t\r\n", 700))
	b.WriteString("Größe ſtrasse ")
	for i := 0; b.Len() < 3*indexPiece; i++ {
		fmt.Fprintf(&b, "wörd%d, €%d ", i, i)
	}
	b.WriteString(strings.Repeat("é", indexPiece) + " tail")
	return b.String()
}

// distinctWords are the words of s as the index keeps them, each once.
func distinctWords(s string) []string {
	var ws []string
	seen := map[string]bool{}
	IndexWords(s, func(w string) {
		if !seen[w] {
			seen[w] = true
			ws = append(ws, w)
		}
	})
	return ws
}

// TestLargeTextPieces: a large text part indexed from its bytes gives
// the words and the preview that the whole decoded text gives: words
// across a piece's end, multi-byte runes, a word longer than a piece, a
// start padded with more white space than the first preview prefix.
func TestLargeTextPieces(t *testing.T) {
	text := largeText()
	raw := "Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text
	info := Parse([]byte(raw))

	if got, want := strings.Fields(info.Search.Body), distinctWords(text); !slices.Equal(got, want) {
		t.Fatalf("body words differ from the whole text's: %d words, want %d", len(got), len(want))
	}
	if want := preview(collapse(text)); info.Preview != want {
		t.Fatalf("preview %q, want %q", info.Preview, want)
	}
	if !strings.HasPrefix(info.Preview, "Größe ſtrasse wörd0, ") {
		t.Fatalf("preview %q", info.Preview)
	}
}

// TestLargeBase64TextPieces: a base64 text part decoded and indexed in
// pieces (addBase64) gives the words and preview of the whole text, and
// one that is not valid UTF-8 or not standard base64 is still read whole.
func TestLargeBase64TextPieces(t *testing.T) {
	text := largeText()
	encode := func(s string) string {
		e := base64.StdEncoding.EncodeToString([]byte(s))
		var lines strings.Builder
		for i := 0; i < len(e); i += 76 {
			lines.WriteString(e[i:min(i+76, len(e))] + "\r\n")
		}
		return lines.String()
	}
	for _, tc := range []struct {
		name, charset, text, body string
	}{
		{"utf-8", "utf-8", text, encode(text)},
		{"no charset", "", text, encode(text)},
		{"latin-1 bytes", "", text[:2000] + "\xe9t\xe9 " + text[2000:], encode(text[:2000] + "\xe9t\xe9 " + text[2000:])},
		{"lenient base64", "utf-8", text, "*" + encode(text)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := "Subject: big\r\nContent-Type: text/plain; charset=" + tc.charset + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + tc.body
			info := Parse([]byte(raw))
			s, _ := toUTF8([]byte(tc.text), tc.charset)
			if got, want := strings.Fields(info.Search.Body), distinctWords(s); !slices.Equal(got, want) {
				t.Fatalf("body words differ from the whole text's: %d words, want %d", len(got), len(want))
			}
			if want := preview(collapse(s)); info.Preview != want {
				t.Fatalf("preview %q, want %q", info.Preview, want)
			}
		})
	}
}

func TestFoldAccents(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Résumé attached", "resume attached"},
		{"Hans MÜLLER", "hans muller"},
		{"re\u0301sume\u0301", "resume"}, // decomposed as written
		{"Straße, Øresund, Łódź", "strasse, oresund, lodz"},
		{"Ελληνικά ΣΊΣΥΦΟΣ", "ελληνικα σισυφοσ"},
		{"Ёлка", "елка"},
		{"がっこう", "がっこう"}, // a voicing mark is part of the letter
		{"한국어", "한국어"},
		{"plain ASCII, kept: 42!", "plain ascii, kept: 42!"},
	}
	for _, tt := range tests {
		if got := FoldAccents(tt.in); got != tt.want {
			t.Errorf("FoldAccents(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWordSetHashCollision: a word whose hash another word of the set
// already has (1 in 2^64, made here by hand) is still added once and
// found again.
func TestWordSetHashCollision(t *testing.T) {
	ix := &indexer{seed: maphash.MakeSeed()}
	w := &ix.body
	w.ix = ix
	var many strings.Builder
	for i := range 2 * smallSet {
		fmt.Fprintf(&many, "w%d ", i)
	}
	w.add(many.String())
	if w.seen == nil {
		t.Fatalf("%d words and no hash index", len(w.ends))
	}
	// As if "w0" had the hash of "collider": it holds its slot.
	w.seen[maphash.Bytes(ix.seed, []byte("collider"))] = 0
	w.add("collider Collider collider")
	w.add("collider")
	if got, want := strings.Count(w.String(), "collider"), 1; got != want {
		t.Fatalf("the set holds %q %d times, want %d: %q", "collider", got, want, w.String())
	}
	if _, _, ok := w.find([]byte("collider")); !ok {
		t.Error("a colliding word is not found")
	}
	if _, _, ok := w.find([]byte("absent")); ok {
		t.Error("a word never added is found")
	}
}
