package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestSearchAddressReadsNoMessage guards SEARCH FROM, TO, CC, BCC,
// SUBJECT and HEADER of those fields (issue 11 part 6): the candidates
// are checked on the fields the store keeps with their rows
// (store.SearchFields), without opening a message or reading its Info;
// only a message whose fields were too long to keep is read, and is still
// found.
func TestSearchAddressReadsNoMessage(t *testing.T) {
	e := newEnv(t)
	const n = 40
	for i := range n {
		e.deliver("INBOX", fmt.Sprintf("From: Sender %d <s%d@example.net>\r\nTo: r%d@example.org,\r\n\tteam@example.org\r\n"+
			"Cc: =?UTF-8?Q?J=C3=BCrgen_%d?= <c%d@example.net>\r\nBcc: b%d@example.net\r\nSubject: message %d\r\n\r\nbody %d\r\n",
			i, i, i%7, i, i, i%3, i, i), 0)
	}
	var list strings.Builder
	for j := range 4000 {
		fmt.Fprintf(&list, "r%d@example.com, ", j)
	}
	// Fields too long to keep; a field that long is indexed in part,
	// so the message is a candidate for every search of its mailbox.
	e.deliver("Sent", "From: big@example.net\r\nTo: "+list.String()+"needle@example.org\r\nSubject: long list\r\n\r\nbody\r\n", 0)
	counter := e.counted()
	c := e.login()
	c.ok("SELECT INBOX")
	for criteria, want := range map[string]string{
		`FROM s17@example.net`:               "18",
		`TO r3@example.org`:                  "4 11 18 25 32 39",
		`CC "jürgen 12"`:                     "13",
		`CC c12@example.net`:                 "13",
		`BCC b2@example.net`:                 "3 6 9 12 15 18 21 24 27 30 33 36 39",
		`SUBJECT "message 3"`:                "4 31 32 33 34 35 36 37 38 39 40",
		`HEADER To team@example.org FROM s1`: "2 11 12 13 14 15 16 17 18 19 20",
		`NOT TO team UNSEEN`:                 "",
		`OR TO r1@example.org CC c9@`:        "2 9 10 16 23 30 37",
	} {
		lines := c.ok("UID SEARCH CHARSET UTF-8 " + criteria)
		if w := strings.TrimSpace("* SEARCH " + want); len(lines) != 1 || lines[0] != w {
			t.Errorf("UID SEARCH %s: %q, want %q", criteria, lines, w)
		}
	}
	if b, o, r := counter.bodies.Load(), counter.opens.Load(), counter.read.Load(); b != 0 || o != 0 || r != 0 {
		t.Fatalf("SEARCH read messages: %d Body and %d OpenBody calls, %d bytes", b, o, r)
	}
	// The message whose fields are too long to keep is read.
	c.ok("SELECT Sent")
	if lines := c.ok("UID SEARCH TO needle@example.org"); len(lines) != 1 || lines[0] != "* SEARCH 1" {
		t.Fatalf("UID SEARCH TO needle@example.org: %q", lines)
	}
	if o := counter.opens.Load(); o != 1 {
		t.Fatalf("SEARCH TO opened %d messages, want the one without kept fields", o)
	}
}
