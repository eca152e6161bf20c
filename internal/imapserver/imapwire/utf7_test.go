package imapwire

import (
	"testing"
	"unicode/utf8"
)

func TestMailboxUTF7(t *testing.T) {
	tests := []struct{ dec, enc string }{
		{"", ""},
		{"INBOX", "INBOX"},
		{"A&B", "A&-B"},
		{"&", "&-"},
		{"&&", "&-&-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 section 5.1.3
		{"Entwürfe", "Entw&APw-rfe"},
		{"ü", "&APw-"},
		{"üü", "&APwA,A-"},
		{"ü&", "&APw-&-"},
		{"😀", "&2D3eAA-"}, // surrogate pair
		{"a😀b€", "a&2D3eAA-b&IKw-"},
		{"tab\there", "tab&AAk-here"},
		{"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
	}
	for _, tc := range tests {
		if got := EncodeMailbox(tc.dec); got != tc.enc {
			t.Errorf("EncodeMailbox(%q) = %q, want %q", tc.dec, got, tc.enc)
		}
		got, err := DecodeMailbox(tc.enc)
		if err != nil || got != tc.dec {
			t.Errorf("DecodeMailbox(%q) = %q, %v, want %q", tc.enc, got, err, tc.dec)
		}
	}
}

func TestDecodeMailboxInvalid(t *testing.T) {
	for _, in := range []string{
		"&",                  // unterminated
		"&U,BTFw",            // no closing "-"
		"a&Jjo",              // no implicit shift back
		"&AGE-",              // "a" must represent itself
		"&ACY-",              // "&" must be "&-"
		"&U,BTFw-&ZeVnLIqe-", // adjacent shifts must be one
		"&2D0-",              // lone high surrogate
		"&3gA-",              // lone low surrogate
		"&2D3YPQ-",           // high surrogate followed by high
		"&APw",               // unterminated
		"&AP-",               // not a whole 16-bit unit
		"&APx-",              // non-zero padding bits
		"&A-",                // one character is never a unit
		"&APwA-",             // 30 bits: trailing partial unit
		"&U/BTFw-",           // "/" is not modified base64
		"Entw\xc3\xbcrfe",    // raw 8-bit
		"a\x00b",
		"a\tb",
		"\x7f",
	} {
		if got, err := DecodeMailbox(in); err == nil {
			t.Errorf("DecodeMailbox(%q) = %q, want error", in, got)
		}
	}
}

func TestEncodeMailboxInvalidUTF8(t *testing.T) {
	enc := EncodeMailbox("a\xffb")
	dec, err := DecodeMailbox(enc)
	if err != nil || dec != "a\uFFFDb" {
		t.Fatalf("got %q (%q), %v", dec, enc, err)
	}
}

func FuzzMailboxUTF7(f *testing.F) {
	for _, s := range []string{"", "INBOX", "A&B", "日本語", "😀x", "&-", "&U,BTFw-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := EncodeMailbox(s)
			dec, err := DecodeMailbox(enc)
			if err != nil || dec != s {
				t.Fatalf("round trip of %q: %q -> %q, %v", s, enc, dec, err)
			}
		}
		// Whatever decodes must encode back to the same bytes: the
		// decoder accepts only the canonical form.
		if dec, err := DecodeMailbox(s); err == nil {
			if enc := EncodeMailbox(dec); enc != s {
				t.Fatalf("DecodeMailbox(%q) = %q, which encodes to %q", s, dec, enc)
			}
		}
	})
}
