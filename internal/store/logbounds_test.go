package store

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestClipText: a text over its bound is cut before a rune, never inside
// one, and marked; one within it is kept as it is; a cut of invalid
// UTF-8 is valid.
func TestClipText(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "…"},
		{"abcdef", 5, "ab…"},
		{"aé€𝄞", 9, "aé€…"},   // 1+2+3+4 bytes, one too many: the 𝄞 goes
		{"aé€𝄞", 10, "aé€𝄞"},  // exactly
		{"aé€𝄞x", 10, "aé€…"}, // the cut falls inside the 𝄞
		{"ééé", 4, "…"},
		{"a\xffb\xfecdef", 7, "ab…"},
	} {
		got := ClipText(tc.s, tc.max)
		if got != tc.want {
			t.Errorf("ClipText(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
		if len(got) > tc.max || len(tc.s) > tc.max && !utf8.ValidString(got) {
			t.Errorf("ClipText(%q, %d) = %q: over the bound or invalid", tc.s, tc.max, got)
		}
	}
}

// TestBoundLogEvent: every text field of a record is bounded, and the
// Message-ID loses its angle brackets as the log keeps it.
func TestBoundLogEvent(t *testing.T) {
	long := strings.Repeat("x", 100_000)
	e := BoundLogEvent(LogEvent{MailFrom: long, Rcpt: long, Account: long, MessageID: "<" + long + ">",
		Subject: long, Detail: long, RemoteIP: long, Size: 7})
	for name, f := range map[string]struct {
		v     string
		bound int
	}{
		"MailFrom": {e.MailFrom, LogAddressMax}, "Rcpt": {e.Rcpt, LogAddressMax}, "Account": {e.Account, LogAddressMax},
		"MessageID": {e.MessageID, LogHeaderMax}, "Subject": {e.Subject, LogHeaderMax}, "Detail": {e.Detail, LogDetailMax},
		"RemoteIP": {e.RemoteIP, LogRemoteIPMax},
	} {
		if len(f.v) != f.bound || !strings.HasSuffix(f.v, "…") {
			t.Errorf("%s: %d bytes, want %d ending in …", name, len(f.v), f.bound)
		}
	}
	if e.Size != 7 || !strings.HasPrefix(e.MessageID, "xxx") {
		t.Errorf("size %d, Message-ID %q…", e.Size, e.MessageID[:10])
	}
	if got := BoundLogEvent(LogEvent{MessageID: "<a@b>"}).MessageID; got != "a@b" {
		t.Errorf("Message-ID <a@b> kept as %q", got)
	}
}

// TestLogText: whatever comes in (a remote reply with terminal escapes,
// bidirectional overrides, line breaks, invalid bytes), what the log
// keeps is valid UTF-8 on one line, with no control or bidirectional
// formatting character, within its bound; plain text is kept as it is.
func TestLogText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"250 2.0.0 OK: queued as 45", "250 2.0.0 OK: queued as 45"},
		{"Grüße, 日本語 ✓", "Grüße, 日本語 ✓"},
		{"451 4.7.1 \x1b]2;PWNED\x07 \x1b[2J", "451 4.7.1 \uFFFD]2;PWNED\uFFFD \uFFFD[2J"},
		{"550 a\r\n550 b\tc", "550 a  550 b c"},
		{"invoice \u202efdp.exe\u202c \u2066x\u2069", "invoice \uFFFDfdp.exe\uFFFD \uFFFDx\uFFFD"},
		{"bad \xff\xfe bytes \x9b", "bad \uFFFD\uFFFD bytes \uFFFD"},
		{"c1 \u009b31m", "c1 \uFFFD31m"},
	} {
		if got := LogText(tc.in, 1000); got != tc.want {
			t.Errorf("LogText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	pool := []string{"a", "é", "日", "\x1b", "\x07", "\x00", "\x7f", "\u0085", "\u202e", "\u200f", "\u2067", "\r\n", "\t", "\xff", "\xe6\x97", "😀"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(400) {
			b.WriteString(pool[rng.IntN(len(pool))])
		}
		max := 3 + rng.IntN(300)
		got := LogText(b.String(), max)
		if len(got) > max || !utf8.ValidString(got) || strings.ContainsFunc(got, Hidden) {
			t.Fatalf("LogText(%q, %d) = %q", b.String(), max, got)
		}
	}
}
