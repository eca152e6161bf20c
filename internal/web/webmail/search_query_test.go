package webmail

import (
	"reflect"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

func TestParseSearch(t *testing.T) {
	utc := time.UTC
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, utc) }
	key := func(op imapwire.SearchOp, v string) imapwire.SearchKey { return imapwire.SearchKey{Op: op, Text: v} }
	cases := []struct {
		in   string
		want searchQuery
	}{
		{"", searchQuery{}},
		{"invoice", searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchText, "invoice")}}},
		{`"quarterly report" from:alice`, searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchText, "quarterly report"), key(imapwire.SearchFrom, "alice")}}},
		{`subject:"big news" TO:bob@example.test`, searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchSubject, "big news"), key(imapwire.SearchTo, "bob@example.test")}}},
		{"has:attachment is:unread", searchQuery{HasAttachment: true, Without: store.FlagSeen}},
		{"is:flagged is:read", searchQuery{With: store.FlagFlagged | store.FlagSeen}},
		{"after:2026-11-02 before:2026/11/30", searchQuery{Since: day(2026, 11, 2), Before: day(2026, 11, 30)}},
		{`in:"My Folder" x`, searchQuery{Folder: "My Folder", Keys: []imapwire.SearchKey{key(imapwire.SearchText, "x")}}},
		{"in:Archive", searchQuery{Folder: "Archive"}},
		{"before:yesterday", searchQuery{Problems: []string{"before: takes a date such as 2026-11-30"}}},
		{"http://x.test/a", searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchText, "http://x.test/a")}}},
		{`"from:alice"`, searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchText, "from:alice")}}},
		{`"unclosed phrase`, searchQuery{Keys: []imapwire.SearchKey{key(imapwire.SearchText, "unclosed phrase")}}},
	}
	for _, c := range cases {
		if got := parseSearch(c.in, utc); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseSearch(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
