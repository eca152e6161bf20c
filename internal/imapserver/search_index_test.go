package imapserver_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapmsg"
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// TestSearchIndexNeverLoses guards the class of bug of issue 11 part 5: a
// SEARCH narrowed by the full-text index must find exactly what checking
// every message finds. Random messages put words of a small pool in
// random places (header fields, encoded words, addresses with comments,
// HTML alternatives, attachments, embedded messages, past 1 MiB of text),
// and random keys look for random fragments of them.
func TestSearchIndexNeverLoses(t *testing.T) {
	e := newEnv(t)
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 11))
	t.Logf("seed %d", seed)
	pool := []string{"Quarterly", "zebracorn", "Müller", "straße", "report", "user-from", "ΣΊΣΥΦΟΣ", "café", "x42", "naïve", "budget", "Q4"}
	word := func() string { return pool[r.IntN(len(pool))] }
	var raws []string
	const n = 30
	for i := range n {
		raw := randomMessage(r, i, word)
		raws = append(raws, raw)
		e.deliver("INBOX", raw, 0)
	}
	c := e.login()
	c.ok("SELECT INBOX")
	infos := make([]*message.Info, n)
	for i, raw := range raws {
		infos[i] = message.Parse([]byte(raw))
	}
	keys := []string{"TEXT", "BODY", "SUBJECT", "FROM", "TO", "CC", "BCC", "HEADER X-Note", "HEADER Message-ID", "HEADER Reply-To"}
	for q := range 80 {
		// A fragment: part of a word, a whole word, or across two.
		w := word()
		frag := w
		switch r.IntN(3) {
		case 0:
			rs := []rune(w)
			a := r.IntN(len(rs))
			frag = string(rs[a : a+1+r.IntN(len(rs)-a)])
		case 1:
			frag = w + " " + word()
		}
		if r.IntN(4) == 0 {
			frag = strings.ToUpper(frag)
		}
		key := keys[r.IntN(len(keys))]
		criteria := fmt.Sprintf("%s %q", key, frag)
		if r.IntN(3) == 0 {
			criteria += fmt.Sprintf(" %s %q", keys[r.IntN(len(keys))], word())
		}
		// What checking every message finds.
		parsed := searchCriteria(t, criteria)
		var want []string
		for i, raw := range raws {
			m := &imapmsg.Message{Seq: uint32(i + 1), UID: uint32(i + 1),
				Load: func() ([]byte, *message.Info, error) { return []byte(raw), infos[i], nil }}
			ok, err := imapmsg.Match(nil, parsed, m)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				want = append(want, fmt.Sprint(i+1))
			}
		}
		got := c.ok("UID SEARCH CHARSET UTF-8 " + criteria)
		if w := strings.TrimSpace("* SEARCH " + strings.Join(want, " ")); len(got) != 1 || strings.TrimSpace(got[0]) != w {
			t.Fatalf("query %d, UID SEARCH %s:\n got %q\nwant %q", q, criteria, got, w)
		}
	}
}

func searchCriteria(t *testing.T, criteria string) []imapwire.SearchKey {
	t.Helper()
	rd := imapwire.NewReader(bufio.NewReader(strings.NewReader("a SEARCH CHARSET UTF-8 "+criteria+"\r\n")), imapwire.Options{})
	rd.SetUTF8(true)
	cmd, err := rd.ReadCommand()
	if err != nil {
		t.Fatalf("parse %s: %v", criteria, err)
	}
	return cmd.Args.(*imapwire.Search).Keys
}

// randomMessage builds a message with words in random places.
func randomMessage(r *rand.Rand, i int, word func() string) string {
	var b strings.Builder
	qp := func(s string) string { // an RFC 2047 Q encoded word
		var q strings.Builder
		for _, c := range []byte(s) {
			if c < 0x80 && c != ' ' && c != '=' && c != '?' && c != '_' {
				q.WriteByte(c)
			} else {
				fmt.Fprintf(&q, "=%02X", c)
			}
		}
		return "=?UTF-8?Q?" + q.String() + "?="
	}
	switch r.IntN(3) {
	case 0:
		fmt.Fprintf(&b, "From: <%s (%s)@ (c) domain.org>\r\n", strings.ToLower(word()), word())
	case 1:
		fmt.Fprintf(&b, "From: %s <%s@example.com>\r\n", qp(word()), "s"+fmt.Sprint(i))
	default:
		fmt.Fprintf(&b, "From: \"%s, %s\" <a%d@example.net>\r\n", word(), word(), i)
	}
	fmt.Fprintf(&b, "To: %s@example.org\r\nCc: %s <cc@example.org>\r\nBcc: %s\r\n", strings.ToLower(word()), word(), "hidden@example.com")
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "Subject: %s %s\r\n", qp(word()), word())
	} else {
		fmt.Fprintf(&b, "Subject: %s and %s\r\n", word(), word())
	}
	fmt.Fprintf(&b, "Message-ID: <%s.%d@host>\r\nX-Note: %s\r\nReply-To: %s@reply.example\r\nMIME-Version: 1.0\r\n",
		strings.ToLower(word()), i, word(), "r"+fmt.Sprint(i))
	text := word() + " " + word()
	kind := r.IntN(4)
	if i%15 == 7 {
		kind = 4 // two of thirty: big ones cost the brute force
	}
	switch kind {
	case 0:
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", text)
	case 1:
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
			"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>%s <b>%s</b></p>\r\n--a--\r\n", text, word(), word())
	case 2:
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
			"--m\r\nContent-Type: text/plain; name=\"%s.txt\"\r\nContent-Disposition: attachment\r\n\r\n%s\r\n--m--\r\n", text, word(), word())
	case 3:
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
			"--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: %s\r\nFrom: inner@example.org\r\n\r\n%s\r\n--m--\r\n", text, word(), word())
	default:
		// Past the first MiB of text.
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n%s\r\n", strings.Repeat("filler text line\r\n", 70000), text)
	}
	return b.String()
}
