package store

import (
	"strings"
	"testing"
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
