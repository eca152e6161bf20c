package imapserver_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// appendUID APPENDs m to mailbox over c and returns the APPENDUID's UID.
func appendUID(t *testing.T, c *conn, tag, mailbox, m string) string {
	t.Helper()
	c.send(fmt.Sprintf("%s APPEND %s {%d+}\r\n%s", tag, mailbox, len(m), m))
	_, st := c.until(tag)
	sub := regexp.MustCompile(`^OK \[APPENDUID \d+ (\d+)\]`).FindStringSubmatch(st)
	if sub == nil {
		t.Fatalf("APPEND to %s: %s", mailbox, st)
	}
	return sub[1]
}

// TestAppendDuplicateNamesExisting: a client uploading its Sent copy of a
// message the mailbox holds already (submission stored it; an upstream
// journaled it back) gets OK with the existing copy's APPENDUID, and the
// mailbox keeps one copy (issue 13 part 5, RFC 4315). Drafts and
// messages without a Message-ID are always stored.
func TestAppendDuplicateNamesExisting(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	m := msg("sent once", "the text\r\nof it")
	if uid := appendUID(t, c, "a1", "Sent", m); uid != "1" {
		t.Fatalf("first APPEND UID %s", uid)
	}
	for i, again := range []string{
		m,
		"Received: from relay.example.net\r\n" + m,                   // journaled back
		strings.TrimSuffix(m, "\r\n"),                                // no final CRLF
		strings.Replace(m, "Subject:", "X-Mailer: x\r\nSubject:", 1), // the client's own header fields
	} {
		if uid := appendUID(t, c, fmt.Sprintf("b%d", i), "Sent", again); uid != "1" {
			t.Fatalf("duplicate %d: APPENDUID names UID %s, want the existing 1", i, uid)
		}
	}
	has(t, c.ok("STATUS Sent (MESSAGES UIDNEXT)"), "(MESSAGES 1 UIDNEXT 2)")

	// Another body under the same Message-ID is another message.
	if uid := appendUID(t, c, "c1", "Sent", msg("sent once", "edited text")); uid != "2" {
		t.Fatalf("changed body: UID %s, want 2", uid)
	}
	// Drafts: every save is kept.
	for i, want := range []string{"1", "2"} {
		if uid := appendUID(t, c, fmt.Sprintf("d%d", i), "Drafts", m); uid != want {
			t.Fatalf("draft %d: UID %s, want %s", i, uid, want)
		}
	}
	// No Message-ID: nothing identifies it.
	anon := "Subject: anonymous\r\n\r\nsame\r\n"
	for i, want := range []string{"3", "4"} {
		if uid := appendUID(t, c, fmt.Sprintf("e%d", i), "Sent", anon); uid != want {
			t.Fatalf("anonymous %d: UID %s, want %s", i, uid, want)
		}
	}

	// Into the selected mailbox: the duplicate brings no EXISTS, and a
	// FETCH of the named UID gives the first copy's bytes.
	c.ok("SELECT Sent")
	c.send(fmt.Sprintf("f1 APPEND Sent {%d+}\r\n%s", len(m), m))
	lines, st := c.until("f1")
	if !strings.HasPrefix(st, "OK [APPENDUID ") || !strings.Contains(st, " 1]") {
		t.Fatalf("APPEND into selected: %s", st)
	}
	hasNot(t, lines, "EXISTS")
	has(t, c.ok("UID FETCH 1 BODY.PEEK[]"), fmt.Sprintf("BODY[] {%d}\r\n%s", len(m), m))

	// MULTIAPPEND (RFC 3502): a duplicate among new messages names the
	// existing UID, the others are stored.
	n1 := msg("multi new", "x")
	c.send(fmt.Sprintf("g1 APPEND Sent {%d+}\r\n%s {%d+}\r\n%s", len(m), m, len(n1), n1))
	if _, st := c.until("g1"); !regexp.MustCompile(`^OK \[APPENDUID \d+ 1,5\]`).MatchString(st) {
		t.Fatalf("MULTIAPPEND with a duplicate: %s", st)
	}
	has(t, c.ok("STATUS Drafts (MESSAGES)"), "(MESSAGES 2)")
}
