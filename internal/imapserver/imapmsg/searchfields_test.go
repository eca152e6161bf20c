package imapmsg

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
)

// TestMatchFieldsSameAsLoad guards SEARCH on the fields the store keeps
// (message.SearchFields, issue 11 part 6): for SUBJECT, FROM, TO, CC, BCC
// and HEADER of those fields, a message matched on its kept fields must
// match exactly when the whole message, loaded with its stored Info,
// matches, and must never be loaded. Random headers mix the forms real
// mail has (folding, repeated fields, groups, comments, encoded words,
// raw Latin-1, a header without a body or a final line break, bare LF,
// an mbox "From " line, white space before the colon, fields of other
// names between), and random strings are cut from what they hold.
func TestMatchFieldsSameAsLoad(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 6))
	t.Logf("seed %d", seed)
	tokens := []string{
		"jane@example.net", "Doe, Jane", "=?UTF-8?Q?J=C3=BCrgen?=", "Jürgen", "=?ISO-8859-1?Q?caf=E9?=", "café",
		"caf\xe9", "Müller", "ΣΊΣΥΦΟΣ", "user-from", "domain.org", "(comment)", "Team", "quarterly", "Re: report",
		"x42", "straße", "=?utf-8?B?w6l0w6k=?=", "été", "bob", "a@b.example",
	}
	word := func() string { return tokens[r.IntN(len(tokens))] }
	fold := func() string {
		switch r.IntN(8) {
		case 0:
			return "\r\n\t"
		case 1:
			return "\r\n "
		}
		return " "
	}
	address := func() string {
		switch r.IntN(7) {
		case 0:
			return "jane@example.net"
		case 1:
			return fmt.Sprintf("%s <%s>", word(), "j@example.de")
		case 2:
			return fmt.Sprintf("%q <a%d@example.org>", word(), r.IntN(9))
		case 3:
			return fmt.Sprintf("<user-from %s@%s domain.org>", word(), fold())
		case 4:
			return fmt.Sprintf("Team: a@b.example,%sc@d.example;", fold())
		case 5:
			return "=?UTF-8?Q?J=C3=BCrgen?= <j@example.de>"
		default:
			return "hidden @ example.com"
		}
	}
	names := []string{"From", "To", "Cc", "Bcc", "Subject", "Reply-To", "X-Note", "Received"}
	header := func() string {
		var b strings.Builder
		if r.IntN(10) == 0 {
			b.WriteString("From someone@example.org Fri Nov 20 10:00:00 2026\r\n")
		}
		for range 1 + r.IntN(7) {
			name := names[r.IntN(len(names))]
			if r.IntN(3) == 0 {
				name = strings.ToUpper(name)
			}
			if r.IntN(12) == 0 {
				name += " " // white space before the colon
			}
			var v []string
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "from", "to", "cc", "bcc", "reply-to":
				for range 1 + r.IntN(3) {
					v = append(v, address())
				}
				b.WriteString(name + ": " + strings.Join(v, ","+fold()))
			default:
				for range 1 + r.IntN(4) {
					v = append(v, word())
				}
				b.WriteString(name + ":" + fold() + strings.Join(v, fold()))
			}
			b.WriteString("\r\n")
		}
		h := b.String()
		switch r.IntN(10) {
		case 0:
			return strings.TrimSuffix(h, "\r\n") // no body, no final line break
		case 1:
			return strings.ReplaceAll(h, "\r\n", "\n") + "\nbody\n"
		case 2:
			return h + "not a field\r\nbody\r\n"
		}
		return h + "\r\nbody " + word() + "\r\n"
	}
	keys := []string{"FROM", "TO", "CC", "BCC", "SUBJECT", "HEADER to", "HEADER CC", "HEADER From", "HEADER bcc", "HEADER subject"}
	for i := range 3000 {
		raw := header()
		info := message.Parse([]byte(raw))
		if !info.Search.FieldsOK {
			t.Fatalf("fields of a short header not kept:\n%q", raw)
		}
		// The whole message as a search loads it: its Info as stored.
		enc, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		stored := new(message.Info)
		if err := json.Unmarshal(enc, stored); err != nil {
			t.Fatal(err)
		}
		// A string cut from a token, or a whole one, or two.
		needle := word()
		if rs := []rune(needle); r.IntN(2) == 0 {
			a := r.IntN(len(rs))
			needle = string(rs[a : a+1+r.IntN(len(rs)-a)])
		} else if r.IntN(4) == 0 {
			needle += " " + word()
		}
		if r.IntN(4) == 0 {
			needle = strings.ToUpper(needle)
		}
		if !isUTF8(needle) {
			needle = "caf" // a search string is UTF-8
		}
		if r.IntN(30) == 0 {
			needle = ""
		}
		criteria := fmt.Sprintf("%s %s", keys[r.IntN(len(keys))], quote(needle))
		switch r.IntN(4) {
		case 0:
			criteria = "NOT " + criteria
		case 1:
			criteria = fmt.Sprintf("OR %s %s %s", criteria, keys[r.IntN(len(keys))], quote(string([]rune(word())[:1])))
		}
		parsed := searchKeysUTF8(t, criteria)
		if !FieldsSuffice(parsed) {
			t.Fatalf("%s: fields do not suffice", criteria)
		}
		full := &Message{UID: 1, Subject: info.Subject, From: info.From,
			Load: func() ([]byte, *message.Info, error) { return []byte(raw), stored, nil }}
		want, err := Match(nil, parsed, full)
		if err != nil {
			t.Fatal(err)
		}
		kept := &Message{UID: 1, Subject: info.Subject, From: info.From, Fields: info.Search.Fields, HasFields: true,
			Load: func() ([]byte, *message.Info, error) {
				t.Fatalf("message %d loaded for %s", i, criteria)
				return nil, nil, nil
			}}
		got, err := Match(nil, parsed, kept)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("message %d, SEARCH %s: %v on the kept fields, %v on the message\nheader %q\nfields %q",
				i, criteria, got, want, raw, info.Search.Fields)
		}
	}
}

// TestFieldsSuffice checks which keys the kept fields answer.
func TestFieldsSuffice(t *testing.T) {
	for criteria, want := range map[string]bool{
		"TO x":                                true,
		"FROM x SUBJECT y UNSEEN":             true,
		"HEADER cc x":                         true,
		"HEADER X-Note x":                     false,
		"NOT (BCC x)":                         true,
		"OR TO x BODY y":                      false,
		"OR TO x SENTBEFORE 1-Jan-2020":       false,
		"TO x NOT TEXT y":                     false,
		"SEEN":                                true,
		"HEADER Message-ID x":                 false,
		"(FROM a (OR CC b HEADER SUBJECT c))": true,
	} {
		if got := FieldsSuffice(searchKeysUTF8(t, criteria)); got != want {
			t.Errorf("%s: %v, want %v", criteria, got, want)
		}
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

func searchKeysUTF8(t testing.TB, criteria string) []imapwire.SearchKey {
	t.Helper()
	return readCommand(t, "a SEARCH CHARSET UTF-8 "+criteria).Args.(*imapwire.Search).Keys
}
