package imapserver_test

import (
	"fmt"
	"testing"
)

const multipartMsg = "From: \"Bob B.\" <bob@example.net>\r\n" +
	"To: undisclosed-recipients:;\r\n" +
	"Subject: =?UTF-8?Q?caf=C3=A9?=\r\n" +
	"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XX\r\n" +
	"\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"hello world\r\n" +
	"--XX\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAw==\r\n" +
	"--XX--\r\n"

// tagLine returns the last tagged status line (kept by cmd).
func (c *conn) tagLine() string { return c.last }

func TestFetchItems(t *testing.T) {
	e := newEnv(t)
	uid := e.deliver("INBOX", multipartMsg, 0)
	c := e.login()
	c.ok("SELECT INBOX")
	lines := c.ok("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY MODSEQ)")
	has(t, lines, fmt.Sprintf("UID %d", uid), "FLAGS ()", `INTERNALDATE "20-Nov-2026 10:00:00 +0000"`,
		fmt.Sprintf("RFC822.SIZE %d", len(multipartMsg)), `ENVELOPE ("Fri, 20 Nov 2026 10:00:00 +0000" "=?UTF-8?Q?caf=C3=A9?="`,
		`BODYSTRUCTURE (("TEXT" "PLAIN"`, `"MIXED"`, "MODSEQ (")

	lines = c.ok("UID FETCH " + fmt.Sprint(uid) + " (BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.6> BINARY.PEEK[2] BINARY.SIZE[2] RFC822.HEADER)")
	has(t, lines, "BODY[] {"+fmt.Sprint(len(multipartMsg))+"}\r\n"+multipartMsg,
		"BODY[1] {11}\r\nhello world",
		"BODY[HEADER.FIELDS (Subject)] {",
		"BODY[TEXT]<0> {6}\r\n--XX\r\n",
		"BINARY[2] ~{4}\r\n\x00\x01\x02\x03",
		"BINARY.SIZE[2] 4",
		"RFC822.HEADER {")
	hasNot(t, lines, `\Seen`)

	// A non-peek body fetch sets \Seen and shows it in the same response.
	lines = c.ok("FETCH 1 (BODY[1])")
	has(t, lines, `FLAGS (\Seen)`)
	lines = c.ok("FETCH 1 (RFC822)")
	has(t, lines, "RFC822 {")
	hasNot(t, lines, "FLAGS") // already seen: no change to report

	c.want("FETCH 5 FLAGS", "BAD")
	c.ok("UID FETCH 999 FLAGS")
	c.ok("FETCH 1:* FAST")
	c.ok("FETCH 5:* FLAGS")
	c.ok("EXAMINE Trash")
	// An empty mailbox has no message 1: BAD by sequence number (RFC 9051
	// section 9, as Dovecot answers), OK and nothing by UID.
	c.want("FETCH 1:* FLAGS", "BAD")
	c.ok("UID FETCH 1:* FLAGS")
}
