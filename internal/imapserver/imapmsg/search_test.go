package imapmsg

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// searchMsg1 exercises the content keys: encoded words in Latin-1 and
// UTF-8, a quoted-printable Latin-1 text part, HTML with inline markup,
// script and style, a base64 attachment, and an embedded message. Its
// Date is late on 4 November in New York, already 5 November in UTC.
const searchMsg1 = "From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\r\n" +
	"To: Bob <bob@example.net>, undisclosed:;\r\n" +
	"Cc: carol@example.com\r\n" +
	"Bcc: dave@example.org\r\n" +
	"Subject: Lunch asdfghjkl =?iso-8859-1?Q?caf=E9?=\r\n tomorrow\r\n" +
	"Date: Tue, 04 Nov 2025 23:30:00 -0500\r\n" +
	"Message-ID: <search-1@example.de>\r\n" +
	"X-Tracking: abc-123\r\n" +
	"X-Empty:\r\n" +
	"X-Latin: Schr\xf6der\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b2\"\r\n" +
	"\r\n" +
	"--b2\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=FC=DFe aus K=F6ln. The quarterly numbers are=\r\n in.\r\n" +
	"--b2\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<html><head><style>.hidden { color: red }</style></head><body><p>Visible <b>Pal</b>indrome &amp; more</p>" +
	"<p>para</p><p>graph</p><script>var secretScript = 1;</script></body></html>\r\n" +
	"--b2--\r\n" +
	"--b1\r\n" +
	"Content-Type: application/octet-stream; name=\"data.bin\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"Content-Disposition: attachment; filename=\"data.bin\"\r\n" +
	"\r\n" +
	"c2VjcmV0YXR0YWNobWVudA==\r\n" +
	"--b1\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"From: Inner Sender <inner@example.org>\r\n" +
	"Subject: Inner subject zebra\r\n" +
	"\r\n" +
	"Inner body giraffe.\r\n" +
	"--b1--\r\n"

// searchMsg2 is plain, without a Date header.
const searchMsg2 = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: plain note\r\n\r\nJust a plain note.\r\n"

// searchMessages returns two messages with opposite flags, so that each
// key matches one and not the other, and a counter of Load calls.
func searchMessages() (m1, m2 *Message, loads *int) {
	loads = new(int)
	loader := func(raw string) func() ([]byte, *message.Info, error) {
		return func() ([]byte, *message.Info, error) {
			*loads++
			return []byte(raw), message.Parse([]byte(raw)), nil
		}
	}
	m1 = &Message{
		Seq: 3, UID: 30,
		Flags:    store.FlagSeen | store.FlagFlagged,
		Keywords: []string{"$Forwarded", "Work"},
		ModSeq:   100,
		// 5 November in its zone, 4 November 23:30 in UTC.
		Received: time.Date(2025, 11, 5, 0, 30, 0, 0, time.FixedZone("CET", 3600)),
		Size:     5000,
		Load:     loader(searchMsg1),
	}
	m2 = &Message{
		Seq: 5, UID: 50,
		Flags:    store.FlagAnswered | store.FlagDeleted | store.FlagDraft,
		Recent:   true,
		ModSeq:   7,
		Received: time.Date(2025, 11, 10, 12, 0, 0, 0, time.UTC),
		Size:     300,
		Load:     loader(searchMsg2),
	}
	return m1, m2, loads
}

func searchKeys(t testing.TB, criteria string) []imapwire.SearchKey {
	t.Helper()
	return readCommand(t, "a SEARCH "+criteria).Args.(*imapwire.Search).Keys
}

// TestMatch has, for every search key, cases where it matches and where it
// does not, on two messages.
func TestMatch(t *testing.T) {
	ctx := &SearchContext{MaxSeq: 5, MaxUID: 50, Saved: []uint32{10, 30, 40}}
	tests := []struct {
		criteria string
		m1, m2   bool
	}{
		{"ALL", true, true},
		{"ANSWERED", false, true},
		{"UNANSWERED", true, false},
		{"DELETED", false, true},
		{"UNDELETED", true, false},
		{"DRAFT", false, true},
		{"UNDRAFT", true, false},
		{"FLAGGED", true, false},
		{"UNFLAGGED", false, true},
		{"SEEN", true, false},
		{"UNSEEN", false, true},
		{"RECENT", false, true},
		{"OLD", true, false},
		{"NEW", false, true},
		{"KEYWORD work", true, false},
		{"KEYWORD $Forwarded", true, false},
		{"KEYWORD $Junk", false, false},
		{"UNKEYWORD Work", false, true},

		// String keys: case-insensitive substrings, raw and decoded.
		{"SUBJECT sdfghjk", true, false}, // the RFC's substring example
		{"SUBJECT \"LUNCH ASDF\"", true, false},
		{"SUBJECT \"café\"", true, false},          // encoded word, Latin-1
		{"SUBJECT \"CAFÉ\"", true, false},          // and case folding beyond ASCII
		{"SUBJECT \"café tomorrow\"", true, false}, // across the fold
		{"SUBJECT iso-8859-1", true, false},        // the raw value
		{"SUBJECT note", false, true},
		{"SUBJECT zebra", false, false}, // only the embedded message's subject
		{"FROM \"jürgen\"", true, false},
		{"FROM \"JÜRGEN MÜLLER\"", true, false},
		{"FROM juergen@example", true, false},
		{"FROM =?utf-8?Q?J", true, false},
		{"FROM alice", false, true},
		{"FROM inner", false, false},
		{"TO bob", true, true},
		{"TO undisclosed", true, false},
		{"TO carol", false, false},
		{"CC CAROL@", true, false},
		{"CC bob", false, false},
		{"BCC dave", true, false},
		{"BCC carol", false, false},
		{"HEADER X-Tracking abc", true, false},
		{"HEADER x-tracking \"\"", true, false},
		{"HEADER X-Empty \"\"", true, false},
		{"HEADER X-Missing \"\"", false, false},
		{"HEADER Message-ID search-1", true, false},
		{"HEADER X-Latin \"schröder\"", true, false}, // raw 8-bit read as Latin-1
		{"HEADER Subject plain", false, true},
		{"HEADER X-Tracking xyz", false, false},

		{"BODY \"grüße aus köln\"", true, false}, // quoted-printable, Latin-1
		{"BODY \"numbers are in\"", true, false}, // soft line break undone
		{"BODY palindrome", true, false},         // inline HTML markup
		{"BODY \"&amp;\"", false, false},         // entities decoded
		{"BODY \"visible palindrome & more\"", true, false},
		{"BODY paragraph", false, false},    // block elements separate words
		{"BODY secretScript", false, false}, // script content
		{"BODY hidden", false, false},       // style content
		{"BODY secretattachment", false, false},
		{"BODY giraffe", true, false}, // embedded message body
		{"BODY zebra", true, false},   // embedded message header
		{"BODY lunch", false, false},  // the header is not the body
		{"BODY \"plain note\"", false, true},
		{"BODY \"\"", true, true},
		{"TEXT lunch", true, false},
		{"TEXT \"x-tracking: abc\"", true, false},
		{"TEXT data.bin", true, false}, // a MIME header
		{"TEXT giraffe", true, false},
		{"TEXT \"plain note\"", false, true},
		{"TEXT nowhere", false, false},

		// Dates: INTERNALDATE in its own zone, Date header in its own.
		{"BEFORE 5-Nov-2025", false, false},
		{"BEFORE 6-Nov-2025", true, false},
		{"BEFORE 11-Nov-2025", true, true},
		{"ON 5-Nov-2025", true, false},
		{"ON 4-Nov-2025", false, false}, // the UTC date of m1
		{"ON 10-Nov-2025", false, true},
		{"SINCE 5-Nov-2025", true, true},
		{"SINCE 6-Nov-2025", false, true},
		{"SINCE 11-Nov-2025", false, false},
		{"SENTON 4-Nov-2025", true, false},
		{"SENTON 5-Nov-2025", false, false}, // the UTC date of the Date header
		{"SENTON 10-Nov-2025", false, true}, // no Date: INTERNALDATE
		{"SENTBEFORE 5-Nov-2025", true, false},
		{"SENTBEFORE 4-Nov-2025", false, false},
		{"SENTSINCE 5-Nov-2025", false, true},
		{"SENTSINCE 4-Nov-2025", true, true},

		// Sizes: strictly larger or smaller.
		{"LARGER 4999", true, false},
		{"LARGER 5000", false, false},
		{"LARGER 299", true, true},
		{"SMALLER 5000", false, true},
		{"SMALLER 5001", true, true},
		{"SMALLER 300", false, false},

		{"MODSEQ 100", true, false},
		{"MODSEQ 101", false, false},
		{"MODSEQ 7", true, true},
		{"MODSEQ \"/flags/\\\\draft\" all 8", true, false},

		// Sets, "*" and "$".
		{"3", true, false},
		{"1,3:4", true, false},
		{"4:*", false, true},
		{"*", false, true},
		{"$", true, false},
		{"UID 30", true, false},
		{"UID 40:*", false, true},
		{"UID *", false, true},
		{"UID 1:29,31:49", false, false},
		{"UID $", true, false},

		// NOT, OR, lists, nesting.
		{"NOT SEEN", false, true},
		{"NOT NOT SEEN", true, false},
		{"OR SEEN DRAFT", true, true},
		{"OR FLAGGED BODY giraffe", true, false},
		{"OR BODY giraffe FLAGGED", true, false},
		{"OR (DELETED ANSWERED) NOT ALL", false, true},
		{"(SEEN FLAGGED)", true, false},
		{"(SEEN DRAFT)", false, false},
		{"NOT (OR SEEN DRAFT)", false, false},
		{"OR NOT SUBJECT lunch (UID 30 BODY giraffe)", true, true},
		{"OR (UID 30 NOT BODY giraffe) (SUBJECT note OR SEEN SMALLER 100)", false, false},
		{"SEEN SUBJECT lunch", true, false},
		{"UNSEEN SUBJECT lunch", false, false},
		{"NOT OR FROM alice NOT TEXT giraffe", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.criteria, func(t *testing.T) {
			keys := searchKeys(t, tc.criteria)
			m1, m2, _ := searchMessages()
			for i, c := range []struct {
				m    *Message
				want bool
			}{{m1, tc.m1}, {m2, tc.m2}} {
				got, err := Match(ctx, keys, c.m)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("message %d: got %v, want %v", i+1, got, c.want)
				}
			}
		})
	}
}

// TestMatchMidnight checks dates at the edges of a day in zones on either
// side of UTC.
func TestMatchMidnight(t *testing.T) {
	east := time.FixedZone("+1400", 14*3600)
	west := time.FixedZone("-1200", -12*3600)
	tests := []struct {
		received time.Time
		criteria string
		want     bool
	}{
		{time.Date(2025, 11, 5, 0, 0, 0, 0, east), "ON 5-Nov-2025", true},
		{time.Date(2025, 11, 5, 0, 0, 0, 0, east), "BEFORE 5-Nov-2025", false},
		{time.Date(2025, 11, 4, 23, 59, 59, 0, west), "ON 4-Nov-2025", true},
		{time.Date(2025, 11, 4, 23, 59, 59, 0, west), "SINCE 5-Nov-2025", false},
		{time.Date(2025, 11, 4, 23, 59, 59, 0, west), "BEFORE 5-Nov-2025", true},
		{time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), "BEFORE 1-Jan-2026", true},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "SINCE 1-Jan-2026", true},
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "BEFORE 1-Jan-2026", false},
	}
	for _, tc := range tests {
		m := &Message{Received: tc.received}
		got, err := Match(nil, searchKeys(t, tc.criteria), m)
		if err != nil || got != tc.want {
			t.Errorf("%v %s: got %v, %v; want %v", tc.received, tc.criteria, got, err, tc.want)
		}
	}
	// The Date header is read in its own zone too.
	raw := "Date: Mon, 1 Dec 2025 00:10:00 +1300\r\n\r\nx"
	m := &Message{Load: func() ([]byte, *message.Info, error) { return []byte(raw), message.Parse([]byte(raw)), nil }}
	for criteria, want := range map[string]bool{"SENTON 1-Dec-2025": true, "SENTON 30-Nov-2025": false, "SENTBEFORE 1-Dec-2025": false} {
		if got, err := Match(nil, searchKeys(t, criteria), m); err != nil || got != want {
			t.Errorf("%s: got %v, %v; want %v", criteria, got, err, want)
		}
	}
}

// TestMatchLoad checks that content is loaded only when a key needs it,
// after the cheap keys, and at most once per Match.
func TestMatchLoad(t *testing.T) {
	tests := []struct {
		criteria string
		loads    int // for m1, then m2
	}{
		{"SEEN FLAGGED UID 1:* LARGER 1 MODSEQ 1 OR NEW OLD", 0},
		{"BODY giraffe TEXT zebra SUBJECT lunch SENTON 4-Nov-2025 HEADER X-Tracking abc", 2},
		{"UNSEEN BODY giraffe", 1}, // m1 is seen: only m2 is loaded
		{"BODY giraffe UNSEEN", 1}, // whatever the order
		{"OR BODY giraffe SEEN", 1},
	}
	for _, tc := range tests {
		m1, m2, loads := searchMessages()
		keys := searchKeys(t, tc.criteria)
		for _, m := range []*Message{m1, m2} {
			if _, err := Match(nil, keys, m); err != nil {
				t.Fatal(err)
			}
		}
		if *loads != tc.loads {
			t.Errorf("%s: %d loads, want %d", tc.criteria, *loads, tc.loads)
		}
		if NeedsBody(keys) != (tc.loads > 0) {
			t.Errorf("%s: NeedsBody = %v", tc.criteria, NeedsBody(keys))
		}
	}

	failing := &Message{UID: 9, Load: func() ([]byte, *message.Info, error) { return nil, nil, errors.New("disk on fire") }}
	if ok, err := Match(nil, searchKeys(t, "NOT BODY x"), failing); ok || err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("load error: %v, %v", ok, err)
	}
	if _, err := Match(nil, searchKeys(t, "SUBJECT x"), &Message{}); err == nil {
		t.Error("no Load: no error")
	}
	// A Load without Info parses the message itself.
	noInfo := &Message{Load: func() ([]byte, *message.Info, error) { return []byte(searchMsg2), nil, nil }}
	if ok, err := Match(nil, searchKeys(t, "BODY \"plain note\""), noInfo); !ok || err != nil {
		t.Errorf("Load without Info: %v, %v", ok, err)
	}
}

func TestMatchSavedEmpty(t *testing.T) {
	m1, _, _ := searchMessages()
	for _, c := range []string{"$", "UID $", "NOT $"} {
		got, err := Match(&SearchContext{MaxSeq: 5, MaxUID: 50}, searchKeys(t, c), m1)
		if err != nil || got != (c == "NOT $") {
			t.Errorf("%s with nothing saved: %v, %v", c, got, err)
		}
	}
}

func TestMatchBadKeys(t *testing.T) {
	m := &Message{}
	for _, keys := range [][]imapwire.SearchKey{
		{{Op: imapwire.SearchNot}},
		{{Op: imapwire.SearchOr, Keys: []imapwire.SearchKey{{Op: imapwire.SearchAll}}}},
		{{Op: 200}},
	} {
		if _, err := Match(nil, keys, m); err == nil {
			t.Errorf("%+v: no error", keys)
		}
	}
}

// TestMatchAddress guards issue 11 part 5: FROM, TO, CC and BCC match the
// address as parsed as well as the field as written.
func TestMatchAddress(t *testing.T) {
	raw := "From: <user-from (comment)@ (comment) domain.org>\r\n" +
		"To: \"Doe, Jane\" <jane(x)@example.net>, Team: a@b.example, c@d.example;\r\n" +
		"Cc: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\n" +
		"Bcc: hidden @ example.com\r\n\r\nbody\r\n"
	m := &Message{UID: 1, Load: func() ([]byte, *message.Info, error) { return []byte(raw), message.Parse([]byte(raw)), nil }}
	for criteria, want := range map[string]bool{
		"FROM user-from@domain.org":            true,
		"FROM USER-FROM@DOMAIN.ORG":            true,
		"FROM \"(comment)\"":                   true, // as written
		"FROM other@domain.org":                false,
		"TO jane@example.net":                  true,
		"TO \"Doe, Jane <jane@example.net>\"":  true,
		"TO c@d.example":                       true,
		"TO user-from@domain.org":              false,
		"CC \"Jürgen <j@example.de>\"":         true,
		"CC \"jürgen\"":                        true,
		"BCC hidden@example.com":               true,
		"BCC jane@example.net":                 false,
		"OR FROM nobody@x TO jane@example.net": true,
		"NOT FROM user-from@domain.org":        false,
	} {
		ok, err := Match(nil, searchKeys(t, criteria), m)
		if err != nil || ok != want {
			t.Errorf("%s: %v, %v; want %v", criteria, ok, err, want)
		}
	}
}

// TestMatchQuick checks the shortcut through the store's decoded Subject
// and From: a match found there needs no load, a string not found there
// is still looked for in the header, and the shortcut never says yes where
// the header says no.
func TestMatchQuick(t *testing.T) {
	raw := "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.de>\r\nSubject: =?UTF-8?Q?a=01b?= report\r\nSubject: second\r\n\r\nbody\r\n"
	info := message.Parse([]byte(raw))
	for criteria, want := range map[string]struct{ match, load bool }{
		"SUBJECT report":        {true, false},
		"SUBJECT REPORT":        {true, false},
		"SUBJECT second":        {true, true},  // only in the second field
		"SUBJECT \"a b\"":       {false, true}, // a control character, not a space
		"FROM \"jürgen\"":       {true, false},
		"FROM j@example.de":     {true, false},
		"FROM \"Jürgen <j@ex\"": {true, true}, // a space: the header decides
		"FROM nobody":           {false, true},
		"NOT SUBJECT report":    {false, false},
	} {
		loads := 0
		m := &Message{UID: 1, Subject: info.Subject, From: info.From,
			Load: func() ([]byte, *message.Info, error) { loads++; return []byte(raw), info, nil }}
		ok, err := Match(nil, searchKeys(t, criteria), m)
		if err != nil || ok != want.match || (loads > 0) != want.load {
			t.Errorf("%s: %v, %v, %d loads; want %v, load %v", criteria, ok, err, loads, want.match, want.load)
		}
	}
}

func TestIndexTerms(t *testing.T) {
	tests := []struct {
		criteria string
		want     string
	}{
		{"TEXT word", "0:word"},
		{"BODY a TEXT b (TEXT c BODY a) SEEN", "1:a|0:b|0:c"},
		{"OR TEXT a TEXT b", ""},
		{"NOT TEXT a BODY b", "1:b"},
		{"TEXT \"\" SUBJECT x", "2:x"},
		{"(OR BODY x BODY y) (BODY z)", "1:z"},
		{"FROM a@b TO c CC d BCC e", "3:a@b|4:c|5:d|6:e"},
		{"HEADER X-Spam yes HEADER Message-ID \"\" NOT HEADER X-No x", "7:X-Spam:yes|7:Message-ID:"},
		{"SUBJECT \"\" FROM \"\"", ""},
	}
	for _, tc := range tests {
		var got []string
		for _, term := range IndexTerms(searchKeys(t, tc.criteria)) {
			s := fmt.Sprintf("%d:", term.Field)
			if term.Field == store.SearchHeader {
				s += term.Header + ":"
			}
			got = append(got, s+term.Value)
		}
		if g := strings.Join(got, "|"); g != tc.want {
			t.Errorf("IndexTerms(%s) = %q, want %q", tc.criteria, g, tc.want)
		}
	}
}

func TestUsesModSeq(t *testing.T) {
	for criteria, want := range map[string]bool{"MODSEQ 5": true, "OR SEEN (NOT MODSEQ 5)": true, "SEEN UID 1": false} {
		if got := UsesModSeq(searchKeys(t, criteria)); got != want {
			t.Errorf("UsesModSeq(%s) = %v", criteria, got)
		}
	}
}

func TestFold(t *testing.T) {
	for _, pair := range [][2]string{
		{"STRASSE", "strasse"}, {"ΣΑΣ", "σας"}, {"K", "k"}, {"ſ", "S"}, {"ÄÖÜ", "äöü"}, {"Ǆ", "ǆ"},
	} {
		if string(fold(pair[0])) != string(fold(pair[1])) {
			t.Errorf("fold(%q) = %q != fold(%q) = %q", pair[0], fold(pair[0]), pair[1], fold(pair[1]))
		}
	}
	for _, pair := range [][2]string{{"ß", "ss"}, {"İ", "i"}, {"a", "b"}} {
		if string(fold(pair[0])) == string(fold(pair[1])) && !strings.EqualFold(pair[0], pair[1]) {
			t.Errorf("fold(%q) == fold(%q), but EqualFold says no", pair[0], pair[1])
		}
	}
}

func TestHTMLText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>a</p><p>b</p>", " a  b "},
		{"W<b>o</b>rd", "Word"},
		{"a < b &lt; c", "a < b < c"},
		{"x<!-- hidden -->y", "xy"},
		{"<SCRIPT>bad()</SCRIPT>ok", "  ok"},
		{"<style>.x{}</style", " "},
		{"unterminated <p", "unterminated "},
	}
	for _, tc := range tests {
		if got := message.HTMLText(tc.in); got != tc.want {
			t.Errorf("message.HTMLText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
